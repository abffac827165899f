"""WiSE-FT: weight-space ensembles of a zero-shot (here: linear-probe) model and its fine-tuned version.

theta_alpha = (1 - alpha) theta_0 + alpha theta_ft over every state entry, swept over alpha in {0, 0.1, ..., 1}.
In this course theta_0 is the pre-trained backbone with a linear-probe head (the model-soups initialisation),
which is also where the fine-tuning started, so both endpoints share every parameter.

References:
    Wortsman, Ilharco et al., "Robust fine-tuning of zero-shot models", CVPR 2022,
    https://arxiv.org/abs/2109.01903. Reference implementation: mlfoundations/wise-ft@58b7a4b: src/wise_ft.py.

Deviation: BatchNorm nets need their statistics recomputed at each alpha (the reference CLIP models have no BN);
pass an ``evaluate`` that does it (``lsdl_ens.soups.state_evaluator``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import checks
from ..state import check_compatible, interpolate

__all__ = ["wise_ft", "wise_ft_sweep"]


def wise_ft(state_0: dict, state_ft: dict, alpha: float) -> dict:
    """theta_alpha = (1 - alpha) theta_0 + alpha theta_ft (non-floating entries from ``state_0``; recompute BN)."""
    check_compatible([state_0, state_ft], ["state_0", "state_ft"])
    return interpolate(state_0, state_ft, alpha)


def wise_ft_sweep(state_0: dict, state_ft: dict, evaluate: Callable[[dict], object], alphas=None) -> list[dict]:
    """Evaluate the WiSE-FT interpolation at each alpha.

    Args:
        state_0: the linear-probe (zero-shot) state; state_ft: the fine-tuned state.
        evaluate: ``evaluate(state)`` -> a float or a dict of floats (e.g. ``{"id": ..., "ood": ...}``).
        alphas: default ``0, 0.1, ..., 1`` (the reference's 11 points).

    Returns:
        One dict per alpha: ``{"alpha": a, **scores}`` (a float result is stored as ``"score"``).
    """
    checks.callable_("evaluate", evaluate, "pass a function state -> score (or dict of scores)")
    alphas = np.linspace(0.0, 1.0, 11) if alphas is None else np.asarray(alphas, dtype=np.float64).reshape(-1)
    if alphas.size == 0:
        raise ValueError("alphas is empty; pass at least one mixing coefficient")
    if not np.isfinite(alphas).all():
        raise ValueError(f"alphas must be finite numbers, got {alphas.tolist()}")
    check_compatible([state_0, state_ft], ["state_0", "state_ft"])
    rows = []
    for alpha in alphas:
        result = evaluate(wise_ft(state_0, state_ft, float(alpha)))
        scores = dict(result) if isinstance(result, dict) else {"score": float(result)}
        rows.append({"alpha": float(alpha), **scores})
    return rows
