"""Uniform and greedy soups and the greedy ensemble.

The held-out score of a state that ``greedy_soup`` needs comes from ``lsdl_ens.evaluation.state_evaluator``.

References:
    Wortsman et al., "Model soups: averaging weights of multiple fine-tuned models improves accuracy without
    increasing inference time", ICML 2022, https://arxiv.org/abs/2203.05482. Reference implementation:
    mlfoundations/model-soups@d5398f1: main.py (uniform and greedy soup); branch ``ensemble``@b41026a (ensembles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from .. import checks
from ..state import StateDict, average, check_compatible
from ..train import progress_enabled

__all__ = ["uniform_soup", "greedy_soup", "greedy_ensemble"]

_ACCEPT = ("geq", "gt")


def _check_states(states) -> list[StateDict]:
    states = checks.non_empty("states", states, "pass [model_1.state_dict(), model_2.state_dict(), ...]",
                              what="a non-empty list of state dicts")
    check_compatible(states)  # names the first mismatched key and the state lacking it
    return states


def uniform_soup(states: Sequence[StateDict]) -> StateDict:
    """The uniform soup theta = (1/N) sum_i theta_i over every floating state entry.

    Non-floating entries (``num_batches_tracked``) are copied from ``states[0]``. BN running statistics are
    averaged like everything else and do not belong to the averaged weights: call ``lsdl_ens.bn.update_bn``
    before evaluating a BN model built from the soup.

    Raises:
        ValueError: ``states`` is empty, or the states differ in a key, shape or dtype (the message names the key).
    """
    return average(_check_states(states))


def greedy_soup(states: Sequence[StateDict], evaluate: Callable[[StateDict], float], *, accept: str = "geq",
                order: str = "score", scores: Sequence[float] | None = None,
                progress: bool | None = None) -> tuple[StateDict, list[int]]:
    """Greedy soup: add ingredients one by one, keeping each only if the held-out score does not decrease.

    Algorithm (Wortsman et al. 2022, Alg. 1): sort the ingredients by their individual held-out score, best first
    (``order="score"``; ties keep the lower index first), or keep the given order (``order="given"``, e.g. a
    shuffled list for the "greedy soup, random order" ablation). The soup starts as the first ingredient. Each
    next candidate i is tried as the equal-weight mean of the current ingredients plus i,
    theta' = (n theta_soup + theta_i) / (n + 1), and accepted if evaluate(theta') >= best so far.

    Tie rule: with ``accept="geq"`` (default, the paper's "does not decrease") a candidate whose soup scores
    *exactly* the current best is accepted; ``accept="gt"`` requires a strict improvement, as in the reference
    code (main.py). On small validation sets accuracies tie often, so the rule changes the soup.

    Args:
        states: the ingredients (state dicts of one architecture, fine-tuned from one starting point).
        evaluate: ``evaluate(state) -> float``, higher is better, on held-out data (never the test set); for BN
            nets it must recompute BN statistics, see ``lsdl_ens.evaluation.state_evaluator``.
        accept: "geq" or "gt" (the tie rule above).
        order: "score" or "given".
        scores: the individual scores, if already known (saves N evaluations); default evaluate each state.
        progress: tqdm bar (default on unless ``LSDL_PROGRESS=0``).

    Returns:
        (soup state, chosen indices into ``states`` in the order they were added). BN statistics of the
        returned state are the average of the ingredients': call ``update_bn`` before evaluating it.

    Raises:
        TypeError: ``evaluate`` is not callable or returns a non-number; ``states`` is one state dict or holds models.
        ValueError: empty or mismatched ``states`` (naming the key), bad ``accept``/``order``/``scores``, or a NaN/inf
            score (naming the ingredient or the soup that produced it: a soup is never chosen on NaN).

    Note:
        Deviation: the tie rule is a parameter (the reference is strict ``>``, the paper ``>=``).
    """
    states = _check_states(states)
    checks.callable_("evaluate", evaluate, "pass a function state -> held-out score, e.g. "
                                           "lsdl_ens.soups.state_evaluator(model, val_data)")
    if accept not in _ACCEPT:
        raise ValueError(f"accept must be 'geq' or 'gt'; got {accept!r}")
    if order not in ("score", "given"):
        raise ValueError(f"order must be 'score' or 'given'; got {order!r}")
    show = progress_enabled(progress)
    if scores is None:
        scores = [_score(evaluate, s, f"ingredient states[{i}]")
                  for i, s in enumerate(tqdm(states, desc="ingredients", disable=not show, leave=False))]
    else:
        scores = [checks.finite(f"scores[{i}]", s) for i, s in enumerate(checks.non_empty("scores", scores))]
    if len(scores) != len(states):
        raise ValueError(f"scores has {len(scores)} entries but there are {len(states)} states")
    ranking = sorted(range(len(states)), key=lambda i: (-scores[i], i)) if order == "score" \
        else list(range(len(states)))
    chosen = [ranking[0]]
    best = scores[ranking[0]]
    soup = {k: v.detach().clone() for k, v in states[ranking[0]].items()}
    for i in tqdm(ranking[1:], desc="greedy soup", disable=not show, leave=False):
        candidate = average([states[j] for j in chosen + [i]])
        score = _score(evaluate, candidate, f"the soup of states {chosen + [i]}")
        if score > best or (accept == "geq" and score == best):
            chosen.append(i)
            best, soup = score, candidate
    return soup, chosen


def _score(evaluate, state, what: str) -> float:
    """``evaluate(state)`` as a float; NaN, infinities and non-numbers stop the selection naming ``what``."""
    score = evaluate(state)
    try:
        value = float(score)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"evaluate returned {score!r} for {what}; it must return a number (higher is better)") \
            from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"evaluate returned {value} for {what}; a soup cannot be selected on NaN/inf scores: "
                         "check that ingredient (diverged weights?) and the evaluation data")
    return value


def greedy_ensemble(probs, labels: torch.Tensor, *, accept: str = "geq", order: str = "score") -> list[int]:
    """Greedy ensemble: the greedy-soup selection loop on output ensembles (Wortsman et al. 2022, Sec. 3).

    Members are sorted by held-out accuracy (best first; ties keep the lower index), the ensemble starts with
    the best, and each next member is kept if the accuracy of the mean of the kept members' probabilities does
    not decrease (``accept="geq"``) or increases (``"gt"``).

    Args:
        probs: held-out probabilities, a tensor [M, N, C] or a list of M tensors [N, C].
        labels: int64 [N].

    Returns:
        The chosen member indices in the order they were added.

    Note:
        Deviation: probabilities are averaged (the course's ensemble convention); the reference averages logits.
    """
    if not torch.is_tensor(probs):
        probs = checks.non_empty("probs", probs, what="a non-empty list of [N, C] probability tensors")
        probs = torch.stack([checks.tensor(f"probs[{i}]", p, dim=2, floating=True) for i, p in enumerate(probs)])
    checks.tensor("probs", probs, floating=True)
    if probs.dim() == 3 and probs.shape[0] == 0:
        raise ValueError("probs holds no member (shape [0, N, C]); pass at least one member's probabilities")
    labels = checks.labels_in_range("labels", labels, probs.shape[-1] if probs.dim() == 3 else None)
    if probs.dim() != 3 or probs.shape[0] < 1 or probs.shape[1] != len(labels):
        raise ValueError(f"probs must be [M, N, C] with N = len(labels) = {len(labels)}; got {tuple(probs.shape)}")
    if accept not in _ACCEPT:
        raise ValueError(f"accept must be 'geq' or 'gt'; got {accept!r}")
    if order not in ("score", "given"):
        raise ValueError(f"order must be 'score' or 'given'; got {order!r}")
    probs = probs.double()

    def acc(p):
        return (p.argmax(-1) == labels).double().mean().item()

    scores = [acc(p) for p in probs]
    ranking = sorted(range(len(scores)), key=lambda i: (-scores[i], i)) if order == "score" \
        else list(range(len(scores)))
    chosen, total = [ranking[0]], probs[ranking[0]].clone()
    best = scores[ranking[0]]
    for i in ranking[1:]:
        score = acc((total + probs[i]) / (len(chosen) + 1))
        if score > best or (accept == "geq" and score == best):
            chosen.append(i)
            total += probs[i]
            best = score
    return chosen
