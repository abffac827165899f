"""Ensemble metrics: pairwise disagreement, normalised diversity, and the ensemble's averaged prediction.

Label vectors are 1-D integer tensors; results are Python floats in float64 (``diversity`` is x100 by its
definition), predictions CPU tensors. References: Sadrtdinov et al., NeurIPS 2023 (diversity); Ashukha et
al., ICLR 2020 and bayesgroup/pytorch-ensembles@76b71c9 (averaging probabilities).
"""

import math

import torch

from .. import checks
from .inputs import as_labels, as_probs, stack_members

__all__ = ["disagreement", "diversity", "ensemble_probs", "ensemble_log_probs"]


def disagreement(pred_a, pred_b):
    """Fraction (in [0, 1]) of examples on which two vectors of predicted labels differ."""
    pred_a = as_labels(pred_a, name="pred_a")
    pred_b = as_labels(pred_b, pred_a.numel(), name="pred_b")
    return (pred_a != pred_b).double().mean().item()


def diversity(predictions, labels):
    """Normalised pairwise disagreement of M >= 2 members, x100 (Sadrtdinov et al., NeurIPS 2023).

    Formula: Div = 100 * mean_{m1 != m2} [ mean_i 1[yhat_m1,i != yhat_m2,i] / max(err_m1, err_m2) ], over
    ordered pairs (the term is symmetric, so this equals the mean over unordered pairs).

    Args:
        predictions: list of M >= 2 integer vectors of predicted labels (e.g. ``probs.argmax(dim=1)``).
        labels: integer vector of true labels, same length.

    Note:
        If both members of a pair have zero error they both equal ``labels``, hence never disagree; such a
        pair contributes 0 (no diversity) instead of 0/0. No NaN is ever returned.
    """
    fix = "pass a list of at least 2 label vectors (one per member), e.g. [p.argmax(dim=1) for p in probs]"
    predictions = checks.non_empty("predictions", predictions, fix, what="a list of at least 2 label vectors")
    if len(predictions) < 2:
        raise ValueError(f"predictions must be a list of at least 2 label vectors (one per member), got "
                         f"{len(predictions)}; diversity compares pairs of members")
    labels = as_labels(labels)
    preds = [as_labels(p, labels.numel(), name=f"predictions[{m}]") for m, p in enumerate(predictions)]
    errors = [(p != labels).double().mean().item() for p in preds]
    terms = []
    for m1 in range(len(preds)):
        for m2 in range(len(preds)):
            if m1 == m2:
                continue
            worse = max(errors[m1], errors[m2])
            terms.append(0.0 if worse == 0.0 else disagreement(preds[m1], preds[m2]) / worse)
    return 100.0 * sum(terms) / len(terms)


def ensemble_probs(list_of_probs):
    """Ensemble prediction as the arithmetic mean of the members' probabilities: p = (1/M) sum_m p_m."""
    stacked = stack_members(list_of_probs, "list_of_probs")
    for i, p in enumerate(stacked):
        as_probs(p, name=f"list_of_probs[{i}]")
    return stacked.mean(dim=0)


def ensemble_log_probs(list_of_log_probs):
    """Log of the averaged probabilities, computed stably: log p = logsumexp_m(log p_m) - log M."""
    stacked = stack_members(list_of_log_probs, "list_of_log_probs")
    return torch.logsumexp(stacked, dim=0) - math.log(stacked.shape[0])
