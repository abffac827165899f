"""Analysis of transfer ensembles from members' predictions: accuracy vs ensemble size, diversity, accuracy under
corruption.

References: Sadrtdinov et al., NeurIPS 2023 (https://arxiv.org/abs/2303.03374): ensemble quality vs size, diversity
(talk slide "Comparison metrics"), OOD ensembles on CIFAR-100-C reported as the mean accuracy over corruptions per
severity; Lakshminarayanan et al., NeurIPS 2017 (probability averaging).
"""

from __future__ import annotations

import torch

from .. import checks
from ..metrics import accuracy, diversity, ensemble_probs, nll

__all__ = ["ensemble_curve", "member_diversity", "ood_accuracy"]


def ensemble_curve(probs: torch.Tensor, labels: torch.Tensor, metric: str = "accuracy") -> list[float]:
    """Metric of the ensemble of the first k members for k = 1 .. M; `probs` is [M, N, C] (probability average)."""
    probs = torch.stack(list(probs)) if isinstance(probs, (list, tuple)) and probs else checks.tensor("probs", probs)
    if probs.dim() != 3:
        raise ValueError(f"probs must be [M, N, C]; got shape {tuple(probs.shape)}")
    fn = {"accuracy": accuracy, "nll": nll}.get(metric)
    if fn is None:
        raise ValueError(f"metric must be 'accuracy' or 'nll'; got {metric!r}")
    return [fn(ensemble_probs(list(probs[:k])), labels) for k in range(1, len(probs) + 1)]


def member_diversity(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """`lsdl_ens.metrics.diversity` of the members' arg-max predictions; `probs` is [M, N, C], M >= 2."""
    probs = torch.stack(list(probs)) if isinstance(probs, (list, tuple)) and probs else checks.tensor("probs", probs)
    if probs.dim() != 3 or len(probs) < 2:
        raise ValueError(f"probs must be [M, N, C] with M >= 2; got shape {tuple(probs.shape)}")
    return diversity([p.argmax(-1) for p in probs], labels)


def ood_accuracy(probs_list, labels: torch.Tensor) -> list[float]:
    """Mean accuracy over corruptions per severity of the probability-averaged ensemble of `probs_list` (each
    [S, K, n, C]: S severities, K corruptions); a single model is a list of one."""
    probs_list = list(probs_list)
    if not probs_list:
        raise ValueError("probs_list is empty; pass one [S, K, n, C] tensor per member")
    mean = torch.stack(probs_list).mean(0)  # arithmetic mean of probabilities (Deep Ensembles)
    return [sum(accuracy(mean[s, c], labels) for c in range(mean.shape[1])) / mean.shape[1]
            for s in range(mean.shape[0])]
