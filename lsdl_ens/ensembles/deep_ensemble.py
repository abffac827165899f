"""Deep ensembles: M networks trained independently (own initialisation and data order), predictions averaged in
probability space.

Formula: p(y | x) = (1/M) sum_m softmax(f_m(x)).

Training the members of a profile (one at a time by index, each through the checkpoint cache, so that a cluster job
array can train them in parallel) is an experiment: `lsdl_ens.experiments.ensembles_members` (`train_member`,
`train_deep_ensemble`).

References:
    Lakshminarayanan et al., "Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles",
    NeurIPS 2017, https://arxiv.org/abs/1612.01474 (no official code). Reference implementations:
    bayesgroup/pytorch-ensembles@76b71c9 (members trained by independent runs of ``train/cifar/...``,
    ``ens/ens-de.py``) and torch-uncertainty ``models/wrappers/deep_ensembles.py`` (probabilities averaged).

Note:
    Adversarial training (optional in the paper) is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..train import evaluate, predict_logits

__all__ = ["DeepEnsemble"]


class DeepEnsemble(nn.Module):
    """A list of member networks whose probabilities are averaged.

    ``forward(x)`` returns the members' logits stacked as ``[M, B, C]`` (so nothing is lost);
    ``predict_probs(data)`` returns the ensemble's averaged probabilities ``[N, C]``.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if isinstance(members, nn.Module) or len(members) == 0:
            raise ValueError("members must be a non-empty list of networks")
        for i, m in enumerate(members):
            checks.module(f"members[{i}]", m, "pass trained models (load each state with model.load_state_dict)")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members])

    def member_logits(self, data, **kw) -> torch.Tensor:
        """Logits of every member ``[M, N, C]`` on `data` (eval mode; see `lsdl_ens.train.predict_logits`)."""
        return predict_logits(list(self.members), data, **kw)

    def predict_probs(self, data, size: int | None = None, **kw) -> torch.Tensor:
        """Averaged probabilities ``[N, C]`` of the first `size` members (default all)."""
        size = len(self) if size is None else size
        if not 1 <= size <= len(self):
            raise ValueError(f"size must be between 1 and {len(self)}; got {size}")
        return self.member_logits(data, **kw)[:size].softmax(-1).mean(0)

    def evaluate(self, data, **kw) -> dict:
        """`lsdl_ens.train.evaluate` of the probability-averaged ensemble (loss = NLL, accuracy, error)."""
        return evaluate(list(self.members), data, **kw)
