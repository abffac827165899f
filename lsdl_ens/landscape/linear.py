"""Linear mode connectivity: loss and error along the segment between two solutions, and the error barrier.

The path is w(alpha) = (1 - alpha) w_A + alpha w_B for alpha in [0, 1]. Two solutions are *linearly mode
connected* when the barrier along it is about zero.

References:
    Frankle et al., "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020,
    https://arxiv.org/abs/1912.05671; Neyshabur et al., "What is being transferred in transfer learning?",
    NeurIPS 2020, https://arxiv.org/abs/2008.11687; Garipov et al., NeurIPS 2018 (Fig. 1, the straight line).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import checks
from ..state import check_compatible, interpolate
from ..evaluation import evaluate_states

__all__ = ["linear_path", "barrier"]


def linear_path(model: nn.Module, state_a: dict, state_b: dict, eval_data, *, bn_data=None, alphas=None,
                train_data=None, recompute_bn: bool = True, device=None, progress: bool | None = None) -> dict:
    """Evaluate the model at w(alpha) = (1 - alpha) w_a + alpha w_b for each alpha.

    With BatchNorm, the running statistics are recomputed on ``bn_data`` at *every* alpha, including 0 and 1, so
    the endpoints are treated exactly like interior points (``lsdl_ens.bn.update_bn``). Only floating entries are
    interpolated; ``num_batches_tracked`` comes from ``state_a``.

    Args:
        model: a template of the architecture; its state and train/eval flags are restored on return.
        state_a, state_b: the endpoints (``state_dict()`` of two trained models).
        eval_data: an ``ImageSet``, a ``BatchLoader`` (replayed at epoch 0) or a list of ``(x, y)`` batches.
        bn_data: training batches for the BN recompute (the reference uses augmented training batches); required
            when the model has BN, unless ``recompute_bn=False``.
        alphas: the interpolation coefficients; default ``linspace(0, 1, 31)`` (about 30 points, as Frankle et al.).
        train_data: optionally also report ``train_loss`` / ``train_error`` on these batches.
        recompute_bn: False keeps the interpolated running statistics (the pitfall, for demonstration).
        device: default the model's device.
        progress: tqdm bar (default on unless ``LSDL_PROGRESS=0``).

    Returns:
        ``{"alphas", "loss", "error"[, "train_loss", "train_error"]}``, numpy float64 arrays; loss is the mean
        cross-entropy, error the fraction misclassified.

    Raises:
        ValueError: the model has BN but no ``bn_data`` was given ("pass bn_data (training batches) so BN
            statistics can be recomputed"), or the states do not match.
    """
    checks.module("model", model, "pass a template model; the states are loaded into it in turn")
    check_compatible([state_a, state_b], ["state_a", "state_b"])
    alphas = np.linspace(0.0, 1.0, 31) if alphas is None else np.asarray(alphas, dtype=np.float64).reshape(-1)
    if alphas.size == 0:
        raise ValueError("alphas is empty; pass at least one interpolation coefficient")
    if not np.isfinite(alphas).all():
        raise ValueError(f"alphas must be finite numbers, got {alphas.tolist()}")
    points = (interpolate(state_a, state_b, float(alpha)) for alpha in alphas)
    results = evaluate_states(model, points, eval_data, bn_data=bn_data, train_data=train_data,
                              recompute_bn=recompute_bn, device=device, progress=progress, desc="linear path",
                              total=alphas.size)
    return {"alphas": alphas.copy(), **results}


def barrier(values, alphas, reference: str = "linear") -> float:
    """Height of the bump of ``values`` along a path above its endpoints.

    Formulas, with E(alpha) the loss or error and alpha_0, alpha_1 the first and last alphas (normally 0 and 1):

    * ``"linear"`` (Neyshabur et al. 2020; Entezari et al. 2022): B = max_alpha [E(alpha) - ((1 - s) E(alpha_0)
      + s E(alpha_1))], s = (alpha - alpha_0) / (alpha_1 - alpha_0);
    * ``"mean"`` (Frankle et al. 2020, "instability"): B = max_alpha E(alpha) - (E(alpha_0) + E(alpha_1)) / 2.

    The two agree when E(alpha_0) = E(alpha_1); always say which one you report and whether E is train or test,
    loss or error. Both are >= 0. Points are sorted by alpha first.

    Args:
        values: E at each alpha (e.g. ``path["error"]``).
        alphas: the alphas, same length, at least 2, distinct.
        reference: ``"linear"`` or ``"mean"``.
    """
    if reference not in ("linear", "mean"):
        raise ValueError(f"reference must be 'linear' or 'mean'; got {reference!r}")
    values = np.asarray(torch.as_tensor(values).double().cpu(), dtype=np.float64).reshape(-1)
    alphas = np.asarray(torch.as_tensor(alphas).double().cpu(), dtype=np.float64).reshape(-1)
    if values.shape != alphas.shape or values.size < 2:
        raise ValueError(f"values and alphas must have the same length >= 2; got {values.size} and {alphas.size}")
    if not (np.isfinite(values).all() and np.isfinite(alphas).all()):
        raise ValueError("values and alphas must be finite")
    order = np.argsort(alphas, kind="stable")
    values, alphas = values[order], alphas[order]
    if np.any(np.diff(alphas) <= 0):
        raise ValueError("alphas must be distinct")
    start, end = values[0], values[-1]
    if reference == "mean":
        return float(values.max() - 0.5 * (start + end))
    s = (alphas - alphas[0]) / (alphas[-1] - alphas[0])
    return float(np.max(values - ((1.0 - s) * start + s * end)))
