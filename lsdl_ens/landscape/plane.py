"""The loss landscape on the 2-D plane through three networks (e.g. two solutions and a curve's bend).

With flat weight vectors w_a, w_b, w_c, Gram-Schmidt gives an orthonormal basis of their plane:
u = (w_b - w_a) / ||w_b - w_a||, v = r / ||r|| with r = (w_c - w_a) - <w_c - w_a, u> u; a point (x, y) is the
network w_a + x u + y v, so coordinates are distances in weight space.

References:
    Garipov et al., "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs", NeurIPS 2018 (Fig. 1),
    https://arxiv.org/abs/1802.10026. Reference implementation: timgaripov/dnn-mode-connectivity@f0bf253:
    plane.py (``get_xy``, 21 x 21 grid, margins 0.2). Also Izmailov et al. 2018 (SWA) and Wortsman et al. 2022
    (soups) draw their planes this way.

Deliberate deviation: the reference spans the plane with the curve's three control points and interpolates BN
buffers implicitly through the curve layers; here any three states work and BN is recomputed at each grid point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor, nn
from tqdm.auto import tqdm

from .. import checks
from ..state import check_compatible, flatten, float_keys, unflatten
from ..train import progress_enabled
from ..evaluation import check_bn_data, evaluate_point, preserved, replayable
from ..models import model_device

__all__ = ["PlaneBasis", "plane_basis", "project", "plane_point", "plane_grid"]


@dataclass
class PlaneBasis:
    """An affine plane in weight space: origin (= flattened ``state_a``) and orthonormal directions u, v.

    Attributes:
        origin, u, v: 1-D float64 tensors over ``keys``.
        keys: the state entries the plane spans (others are copied from ``like_state``).
        like_state: ``state_a``, the template for building full states.
        points: coordinates of state_a, state_b, state_c, a [3, 2] numpy array.
    """

    origin: Tensor
    u: Tensor
    v: Tensor
    keys: list
    like_state: dict
    points: np.ndarray


def plane_basis(state_a: dict, state_b: dict, state_c: dict, keys=None) -> PlaneBasis:
    """Orthonormal basis of the plane through three states (Gram-Schmidt on the flattened entries).

    Args:
        state_a, state_b, state_c: three states of one architecture; ``state_a`` is the origin, ``state_b`` lies
            on the positive x axis.
        keys: entries spanning the plane; default all floating entries. Pass ``lsdl_ens.state.parameter_keys(model)``
            for BN nets so running statistics (recomputed anyway) do not enter the geometry.

    Raises:
        ValueError: the states do not match, or are collinear (no plane).
    """
    check_compatible([state_a, state_b, state_c], ["state_a", "state_b", "state_c"])
    keys = float_keys(state_a) if keys is None else list(keys)
    origin = flatten(state_a, keys).double()
    db = flatten(state_b, keys).double() - origin
    dc = flatten(state_c, keys).double() - origin
    if db.norm() == 0:
        raise ValueError("state_a and state_b are identical on keys; they do not define a direction")
    u = db / db.norm()
    r = dc - (dc @ u) * u
    if r.norm() <= 1e-6 * dc.norm():  # float32 states: below this, v would be rounding noise
        raise ValueError("state_c is on the line through state_a and state_b; the three states span no plane")
    v = r / r.norm()
    points = np.array([[0.0, 0.0], [db.norm().item(), 0.0], [(dc @ u).item(), (dc @ v).item()]])
    return PlaneBasis(origin, u, v, keys, state_a, points)


def project(state: dict, basis: PlaneBasis) -> tuple[float, float]:
    """Coordinates (x, y) = (<w - origin, u>, <w - origin, v>) of ``state``'s orthogonal projection on the plane."""
    d = flatten(state, basis.keys).double().to(basis.origin.device) - basis.origin
    return (d @ basis.u).item(), (d @ basis.v).item()


def plane_point(basis: PlaneBasis, x: float, y: float) -> dict:
    """The full state at plane coordinates (x, y): origin + x u + y v (other entries from ``state_a``)."""
    x, y = checks.finite("x", x), checks.finite("y", y)
    flat = basis.origin + x * basis.u + y * basis.v
    return unflatten(flat, basis.like_state, basis.keys)


def _axis(values: np.ndarray, margin: float, grid: int) -> np.ndarray:
    low, high = values.min(), values.max()
    width = high - low
    return np.linspace(low - margin * width, high + margin * width, grid)


def plane_grid(model: nn.Module, basis: PlaneBasis, eval_data, *, bn_data=None, grid: int = 21, margin: float = 0.2,
               train_data=None, recompute_bn: bool = True, device=None, progress: bool | None = None) -> dict:
    """Loss and error at every point of a grid x grid lattice covering the three states plus a margin.

    The x range is [min - m w, max + m w] of the three states' x coordinates (w = max - min, m = ``margin``), and
    likewise for y. BN statistics are recomputed at every grid point when the model has BN.

    Args:
        model: template network (state and flags restored on return).
        basis: from ``plane_basis``.
        eval_data: ``ImageSet``, ``BatchLoader`` (replayed at epoch 0) or list of ``(x, y)`` batches.
        bn_data: training batches for ``update_bn``; required with BN unless ``recompute_bn=False``.
        grid: points per axis (the reference uses 21; cost grows as grid^2 evaluations).
        margin: fraction of the span added on each side (reference 0.2).
        train_data: also report ``train_loss`` / ``train_error``.

    Returns:
        ``{"xs" [G], "ys" [G], "loss" [G, G], "error" [G, G][, "train_loss", "train_error"], "points" [3, 2]}``;
        ``loss[j, i]`` is at ``(xs[i], ys[j])``, so ``plt.contourf(xs, ys, loss)`` draws it; ``points`` are the
        coordinates of state_a, state_b, state_c.
    """
    if int(grid) != grid or grid < 2:
        raise ValueError(f"grid must be an integer >= 2; got {grid}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0; got {margin}")
    recompute = check_bn_data(model, bn_data, recompute_bn)
    device = model_device(model, device)
    eval_batches = replayable(eval_data, "eval_data")
    bn_batches = replayable(bn_data, "bn_data", batch_size=128) if recompute else None
    train_batches = replayable(train_data, "train_data")
    xs, ys = _axis(basis.points[:, 0], margin, grid), _axis(basis.points[:, 1], margin, grid)
    results: dict[str, np.ndarray] = {}
    bar = tqdm(total=grid * grid, desc="plane grid", disable=not progress_enabled(progress), leave=False)
    with preserved(model):
        for j, y in enumerate(ys):
            for i, x in enumerate(xs):
                row = evaluate_point(model, plane_point(basis, float(x), float(y)), eval_batches,
                                     bn_batches=bn_batches, train_batches=train_batches, device=device)
                for key, value in row.items():
                    results.setdefault(key, np.zeros((grid, grid)))[j, i] = value
                bar.update(1)
    bar.close()
    return {"xs": xs, "ys": ys, **results, "points": basis.points.copy()}
