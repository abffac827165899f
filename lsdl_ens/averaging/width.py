"""Width of a solution: loss and error along random rays from it, and along the line through SGD and SWA.

Random rays (Izmailov et al. 2018, Fig. 4): for a unit direction d drawn uniformly on the sphere of the parameter
space, evaluate w + r d for distances r >= 0. The SGD-SWA line (Fig. 5): w(t) = t w_SGD + (1 - t) w_SWA, plotted
against the distance t ||w_SGD - w_SWA|| from w_SWA. BN statistics are recomputed at every point.

References:
    Izmailov et al., UAI 2018, https://arxiv.org/abs/1803.05407 (Sec. 3.3, Figs. 4-5).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import checks
from ..evaluation import check_bn_data, evaluate_states
from ..state import check_compatible, distance, flatten, interpolate, parameter_keys, unflatten

__all__ = ["random_directions", "random_ray_width", "sgd_swa_line"]


def random_directions(state: dict, keys, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` independent unit vectors [n, P] uniform on the sphere of the flattened ``keys`` (normalised
    Gaussians, float64), drawn from a CPU generator seeded by ``seed`` (the same rays on every device) and returned
    on the state's device."""
    n = checks.positive_int("n", n, "pass the number of directions, e.g. 3")
    flat = flatten(state, keys)
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(n, flat.numel(), generator=g, dtype=torch.float64)
    return (d / d.norm(dim=1, keepdim=True)).to(flat.device)


def random_ray_width(model: nn.Module, state: dict, eval_data, *, distances, n_directions: int = 3,
                     bn_data=None, train_data=None, seed: int = 0, device=None,
                     progress: bool | None = None) -> dict:
    """Loss and error at w + r d for random unit directions d (over the model's parameters) and distances r.

    Args:
        model: template (state and flags restored on return).
        state: the centre w (e.g. the SWA or the SGD solution).
        eval_data: test data; ``train_data`` optionally adds train_loss / train_error.
        distances: the r values (Euclidean distance in parameter space).
        n_directions: number of random rays; ``seed`` draws them (use the same seed for SGD and SWA).
        bn_data: training batches for ``update_bn``, required for BN models.

    Returns:
        ``{"distances" [R], "loss" [D, R], "error" [D, R][, "train_loss", "train_error"]}`` numpy arrays.
    """
    distances = np.asarray(distances, dtype=np.float64).reshape(-1)
    if distances.size == 0:
        raise ValueError("distances is empty")
    check_bn_data(model, bn_data)  # before drawing directions
    keys = parameter_keys(model)
    origin = flatten(state, keys).double()
    dirs = random_directions(state, keys, n_directions, seed)
    points = (unflatten(origin + float(r) * dirs[i], state, keys) for i in range(n_directions) for r in distances)
    results = evaluate_states(model, points, eval_data, bn_data=bn_data, train_data=train_data, device=device,
                              progress=progress, desc="random rays", total=n_directions * distances.size)
    return {"distances": distances.copy(), **{k: v.reshape(n_directions, distances.size) for k, v in results.items()}}


def sgd_swa_line(model: nn.Module, swa_state: dict, sgd_state: dict, eval_data, *, ts=None, bn_data=None,
                 train_data=None, device=None, progress: bool | None = None) -> dict:
    """Loss and error on w(t) = t w_SGD + (1 - t) w_SWA, BN recomputed at every t (as
    ``lsdl_ens.landscape.linear_path`` from SWA to SGD).

    Args:
        ts: the t values (default ``linspace(-0.5, 1.5, 21)``: beyond both ends).

    Returns:
        The path dict (``alphas`` = t, loss, error, ...) plus ``"distances"`` = t * ||w_SGD - w_SWA|| over the
        parameters and ``"sgd_distance"`` = ||w_SGD - w_SWA||.
    """
    ts = np.linspace(-0.5, 1.5, 21) if ts is None else np.asarray(ts, dtype=np.float64)
    checks.module("model", model, "pass a template model; the states are loaded into it in turn")
    check_compatible([swa_state, sgd_state], ["swa_state", "sgd_state"])
    if ts.size == 0 or not np.isfinite(ts).all():
        raise ValueError(f"ts must be a non-empty list of finite numbers, got {ts.tolist()}")
    points = (interpolate(swa_state, sgd_state, float(t)) for t in ts)
    results = evaluate_states(model, points, eval_data, bn_data=bn_data, train_data=train_data, device=device,
                              progress=progress, desc="SGD-SWA line", total=ts.size)
    d = distance(swa_state, sgd_state, parameter_keys(model))
    return {"alphas": ts.copy(), **results, "distances": ts * d, "sgd_distance": d}
