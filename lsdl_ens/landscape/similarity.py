"""How similar are two networks' representations? Linear CKA and feature L2 distance, per stage.

Used to compare fine-tuned and randomly initialised networks layer by layer (Neyshabur et al. 2020, Table 2 and
Fig. 4): models fine-tuned from one pre-trained checkpoint keep similar features, models trained from scratch
do not.

References:
    Kornblith et al., "Similarity of Neural Network Representations Revisited", ICML 2019,
    https://arxiv.org/abs/1905.00414 (linear CKA, Eq. 5 / Sec. 3); Neyshabur et al., "What is being transferred in
    transfer learning?", NeurIPS 2020, https://arxiv.org/abs/2008.11687.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .. import checks
from ..evaluation import replayable
from ..models import model_device

__all__ = ["linear_cka", "feature_l2", "stage_similarity"]


def _check_pair(features_a: Tensor, features_b: Tensor, same_width: bool) -> tuple[Tensor, Tensor]:
    a = checks.finite_tensor("features_a", features_a, "drop or fix the examples with NaN/inf activations "
                                                       "(a diverged model?)")
    b = checks.finite_tensor("features_b", features_b, "drop or fix the examples with NaN/inf activations "
                                                       "(a diverged model?)")
    if a.dim() != 2 or b.dim() != 2:
        raise ValueError(f"features_a and features_b must be N x D matrices; got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)} (flatten spatial maps per example first)")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"features_a has {a.shape[0]} examples but features_b has {b.shape[0]}; rows must be the "
                         "same examples")
    if same_width and a.shape[1] != b.shape[1]:
        raise ValueError(f"features_a has width {a.shape[1]} but features_b has {b.shape[1]}")
    return a.detach().double(), b.detach().double()


def linear_cka(features_a: Tensor, features_b: Tensor) -> float:
    """Linear centred kernel alignment of two N x D representations of the same N examples.

    Formula: with column-centred X, Y: CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), equivalently
    HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with K = X X^T, L = Y Y^T. In [0, 1]; 1 for identical features;
    invariant to orthogonal transforms and isotropic scaling of either side (not to arbitrary invertible maps).

    The widths may differ. Computed in float64, in the N x N Gram form when N < D (cheaper) and in the D x D form
    otherwise.

    Raises:
        ValueError: not N x D, different N, fewer than 2 examples, NaN/inf entries, or constant features (CKA
            undefined).
        TypeError: a features argument that is not a tensor or array.
    """
    x, y = _check_pair(features_a, features_b, same_width=False)
    if x.shape[0] < 2:
        raise ValueError("need at least 2 examples to centre the features")
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        k, l = x @ x.T, y @ y.T
        cross, self_a, self_b = (k * l).sum(), (k * k).sum().sqrt(), (l * l).sum().sqrt()
    else:
        cross = (y.T @ x).pow(2).sum()
        self_a, self_b = (x.T @ x).norm(), (y.T @ y).norm()
    if self_a == 0 or self_b == 0:
        raise ValueError("features_a or features_b is constant across examples; CKA is undefined")
    return (cross / (self_a * self_b)).item()


def feature_l2(features_a: Tensor, features_b: Tensor) -> float:
    """Mean per-example Euclidean distance between two representations of the same examples.

    Formula: (1/N) sum_i ||a_i - b_i||_2, on the raw activations (no normalisation): the value scales with the
    width D and the activation magnitude, so compare it only within one layer and architecture.
    """
    a, b = _check_pair(features_a, features_b, same_width=True)
    if a.shape[0] == 0:
        raise ValueError("features_a has no example")
    return (a - b).norm(dim=1).mean().item()


@torch.no_grad()
def _stage_features(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    return {name: out.reshape(out.shape[0], -1).float().cpu()
            for name, out in model.stage_outputs(x.to(model_device(model))).items()}


def stage_similarity(model_a: nn.Module, model_b: nn.Module, data) -> dict:
    """Linear CKA and feature L2 between two models at every stage of ``model.stage_outputs``.

    Both models run in eval mode (flags restored) on the same batches; each stage's activation is flattened per
    example (C x H x W -> one row) before comparison.

    Args:
        model_a, model_b: models with ``stage_outputs`` and the same stage names (widths may differ; then the
            L2 entry is nan).
        data: ``ImageSet`` (unaugmented), ``BatchLoader`` (replayed at epoch 0) or list of ``(x, y)`` / ``x``
            batches. A few hundred to a thousand examples are enough; memory is N x D per stage.

    Returns:
        ``{"stages": [names], "cka": np.ndarray, "l2": np.ndarray}`` in stage order.
    """
    checks.module("model_a", model_a)
    checks.module("model_b", model_b)
    modes = [(m, m.training) for model in (model_a, model_b) for m in model.modules()]
    model_a.eval()
    model_b.eval()
    collected_a: dict[str, list] = {}
    collected_b: dict[str, list] = {}
    try:
        for batch in replayable(data, "data")():
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            for model, collected in ((model_a, collected_a), (model_b, collected_b)):
                for name, features in _stage_features(model, x).items():
                    collected.setdefault(name, []).append(features)
    finally:
        for module, training in modes:
            module.training = training
    if not collected_a:
        raise ValueError("data yielded no batch")
    if list(collected_a) != list(collected_b):
        raise ValueError(f"model_a has stages {list(collected_a)} but model_b has {list(collected_b)}")
    stages, cka, l2 = list(collected_a), [], []
    for name in stages:
        a, b = torch.cat(collected_a[name]), torch.cat(collected_b[name])
        cka.append(linear_cka(a, b))
        l2.append(feature_l2(a, b) if a.shape[1] == b.shape[1] else float("nan"))
    return {"stages": stages, "cka": np.array(cka), "l2": np.array(l2)}
