"""TENT-style entropy minimisation on the same parameters as WATT (the visual LayerNorm affine parameters).

Loss on a test batch: the mean prediction entropy  H = -(1/B) sum_i sum_c p_ic log p_ic,  p_i = softmax(s I_i t_c),
with the template-averaged text embeddings t_c and s = exp(logit_scale); `n_steps` Adam steps per batch, episodic
reset, then prediction of the same batch.

References:
    D. Wang, E. Shelhamer, S. Liu, B. Olshausen, T. Darrell, "Tent: Fully Test-Time Adaptation by Entropy
    Minimization", ICLR 2021, https://arxiv.org/abs/2006.10726. Reference implementation: DequanWang/tent:
    tent.py (``softmax_entropy``, episodic reset). The WATT repo's CLIP variant: Mehrdad-Noori/WATT:
    models/tent.py.

Note: TENT adapts BatchNorm affine parameters of a CNN; here it adapts the same LayerNorm parameters as WATT so
that the comparison isolates the objective, and uses the CLIP zero-shot classifier as its head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import checks
from ._adapter import LNAdapter
from .templates import WATT_TEMPLATES

__all__ = ["TENT", "entropy_loss"]


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy (nats) of softmax(logits) over the batch."""
    logits = checks.tensor("logits", logits, dim=2, floating=True)
    return -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1).mean()


class TENT(LNAdapter):
    """Entropy minimisation baseline: `adapt(images)` takes `n_steps` Adam steps, `predict(images)` predicts.

    Args:
        model, class_names, templates, lr, tokenizer: as for `lsdl_ens.tta.WATT`.
        n_steps: Adam steps per batch.
        episodic: reset before every batch.
    """

    def __init__(self, model, class_names: Sequence[str], n_steps: int = 10, lr: float = 1e-3, *,
                 templates: Sequence[str] = WATT_TEMPLATES, episodic: bool = True, tokenizer=None):
        checks.positive_int("n_steps", n_steps, "pass the adaptation steps per batch, e.g. 10")
        if int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"n_steps must be an integer >= 1; got {n_steps}")
        super().__init__(model, class_names, templates=templates, lr=lr, tokenizer=tokenizer)
        self.n_steps, self.episodic = int(n_steps), episodic

    def adapt(self, images: torch.Tensor) -> None:
        self.check_batch(images)
        if self.episodic:
            self.reset()
        scale = self.model.logit_scale.exp().detach().float()
        with torch.enable_grad():
            for _ in range(self.n_steps):
                loss = entropy_loss(scale * self.image_features(images) @ self.text_avg.T)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
