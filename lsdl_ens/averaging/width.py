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
from tqdm.auto import tqdm

from .. import checks
from ..landscape import linear_path
from ..landscape.points import check_bn_data, evaluate_point, model_device, preserved, replayable
from ..state import distance, flatten, parameter_keys, unflatten
from ..train import progress_enabled

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
    recompute = check_bn_data(model, bn_data, True)
    device = model_device(model, device)
    keys = parameter_keys(model)
    origin = flatten(state, keys).double()
    dirs = random_directions(state, keys, n_directions, seed)
    eval_b = replayable(eval_data, "eval_data")
    bn_b = replayable(bn_data, "bn_data", batch_size=128) if recompute else None
    train_b = replayable(train_data, "train_data")
    out: dict[str, np.ndarray] = {}
    bar = tqdm(total=n_directions * distances.size, desc="random rays", disable=not progress_enabled(progress),
               leave=False)
    with preserved(model):
        for i in range(n_directions):
            for j, r in enumerate(distances):
                point = unflatten(origin + float(r) * dirs[i], state, keys)
                row = evaluate_point(model, point, eval_b, bn_batches=bn_b, train_batches=train_b, device=device)
                for k, v in row.items():
                    out.setdefault(k, np.zeros((n_directions, distances.size)))[i, j] = v
                bar.update(1)
    bar.close()
    return {"distances": distances.copy(), **out}


def sgd_swa_line(model: nn.Module, swa_state: dict, sgd_state: dict, eval_data, *, ts=None, bn_data=None,
                 train_data=None, device=None, progress: bool | None = None) -> dict:
    """Loss and error on w(t) = t w_SGD + (1 - t) w_SWA (``lsdl_ens.landscape.linear_path`` from SWA to SGD).

    Args:
        ts: the t values (default ``linspace(-0.5, 1.5, 21)``: beyond both ends).

    Returns:
        The path dict (``alphas`` = t, loss, error, ...) plus ``"distances"`` = t * ||w_SGD - w_SWA|| over the
        parameters and ``"sgd_distance"`` = ||w_SGD - w_SWA||.
    """
    ts = np.linspace(-0.5, 1.5, 21) if ts is None else np.asarray(ts, dtype=np.float64)
    path = linear_path(model, swa_state, sgd_state, eval_data, bn_data=bn_data, alphas=ts, train_data=train_data,
                       device=device, progress=progress)
    d = distance(swa_state, sgd_state, parameter_keys(model))
    return {**path, "distances": path["alphas"] * d, "sgd_distance": d}
