"""The plane through three states of one training trajectory, with every state of it and their average marked.

For SWA (Izmailov et al. 2018, Fig. 2; the SWA talk): the plane through the first, a middle and the last averaged
iterate, the error at every grid point, each iterate projected onto the plane, and the SWA average projected too.
Each marked network is also evaluated at its own weights, since a projection only shows where it lies.

Reference: Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018, Fig. 2,
https://arxiv.org/abs/1803.05407.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..evaluation import check_bn_data, evaluate_point, preserved, replayable
from ..models import model_device
from ..state import parameter_keys
from .plane import plane_basis, plane_grid, project

__all__ = ["trajectory_plane"]


def trajectory_plane(model: nn.Module, states, eval_data, *, average: dict | None = None, bn_data=None,
                     grid: int = 21, margin: float = 0.3, recompute_bn: bool = True, device=None,
                     progress: bool | None = None) -> dict:
    """Loss and error on the plane through ``states[0]``, ``states[len // 2]`` and ``states[-1]``.

    Args:
        model: template network of the states' architecture (restored on return).
        states: the trajectory, at least three state dicts (e.g. the iterates SWA averaged).
        eval_data: evaluation data (``ImageSet``, loader or list of batches).
        average: a state to mark as well (e.g. the SWA average; its BN statistics are recomputed like every point's).
        bn_data: training batches for the BN statistics of every point (required with BN unless recompute_bn=False).
        grid, margin: as `plane_grid` (grid points per axis; margin in units of the states' span).

    Returns:
        the `plane_grid` result (``xs``, ``ys``, ``loss``, ``error`` [G, G], ``points`` [3, 2]) plus ``states_xy``
        [n, 2] (every state projected), ``state_error`` [n] (each at its own weights) and, with ``average``,
        ``average_xy`` [2] and ``average_error``.
    """
    states = list(states)
    if len(states) < 3:
        raise ValueError(f"states must hold at least 3 states to span a plane, got {len(states)}; pass more "
                         "iterates (e.g. start averaging earlier)")
    recompute = check_bn_data(model, bn_data, recompute_bn)
    corners = (states[0], states[len(states) // 2], states[-1])
    basis = plane_basis(*corners, keys=parameter_keys(model))
    out = plane_grid(model, basis, eval_data, bn_data=bn_data, grid=grid, margin=margin, recompute_bn=recompute_bn,
                     device=device, progress=progress)
    device = model_device(model, device)
    eval_batches = replayable(eval_data, "eval_data")
    bn_batches = replayable(bn_data, "bn_data", batch_size=128) if recompute else None

    def error(state) -> float:
        return evaluate_point(model, state, eval_batches, bn_batches=bn_batches, device=device)["error"]

    with preserved(model):
        out["states_xy"] = np.array([project(s, basis) for s in states])
        out["state_error"] = np.array([error(s) for s in states])
        if average is not None:
            out["average_xy"] = np.array(project(average, basis))
            out["average_error"] = error(average)
    return out
