"""Simplex geometry: the Cayley-Menger volume, uniform (Dirichlet(1)) barycentric weights, barycentric grids.

References:
    Benton, Maddox, Lotfi, Wilson, "Loss Surface Simplexes for Mode Connecting Volumes and Fast Ensembling",
    ICML 2021, https://arxiv.org/abs/2102.13042. Reference implementation: g-benton/loss-surface-simplexes@0f55807:
    simplex/simplex_helpers.py (``complex_volume``), simplex/models/simplex_models.py (``vertex_weights``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import checks

__all__ = ["cayley_menger_volume", "dirichlet_weights", "barycentric_grid"]


def cayley_menger_volume(vertices: Tensor, squared: bool = True, log: bool = False) -> Tensor:
    """Volume of the simplex spanned by n points in R^P (an (n-1)-simplex), from pairwise distances only.

    Vol^2 = |det CM| / ((n-1)!^2 2^(n-1)), where CM is the (n+1) x (n+1) bordered matrix
    [[0, 1^T], [1, D]] with D_ij = ||v_i - v_j||^2. The determinant is taken with ``slogdet`` in float64 (a plain
    ``det`` over/underflows for network-sized distances); the result is differentiable w.r.t. ``vertices``.

    Args:
        vertices: [n, P] tensor, one vertex per row (n >= 1; one point has volume 0).
        squared: return Vol^2 (default, the quantity the SPRO regulariser uses) instead of Vol.
        log: return the natural log of the (squared) volume; -inf for a degenerate simplex.

    Raises:
        ValueError: ``vertices`` is not a 2-D tensor with at least one row.
    """
    if not torch.is_tensor(vertices) or vertices.dim() != 2 or vertices.shape[0] < 1:
        raise ValueError(f"vertices must be a 2-D tensor [n, P] with n >= 1; got "
                         f"{tuple(vertices.shape) if torch.is_tensor(vertices) else type(vertices).__name__}")
    n = vertices.shape[0]
    v = vertices.double()
    if n == 1:
        zero = v.sum() * 0.0
        return zero + (-math.inf if log else 0.0)
    x = v - v[:1]                                       # centred on v_0: better conditioned Gram matrix
    gram = x @ x.T
    sq = gram.diagonal()
    dist2 = (sq[:, None] + sq[None, :] - 2 * gram).clamp_min(0.0)
    ones = torch.ones(n, dtype=torch.float64, device=v.device)
    top = torch.cat([ones.new_zeros(1), ones])[None]                       # [0, 1, ..., 1]
    cm = torch.cat([top, torch.cat([ones[:, None], dist2], 1)], 0)        # [[0, 1^T], [1, D]]
    sign, logabs = torch.linalg.slogdet(cm)
    log_vol2 = logabs - 2 * math.lgamma(n) - (n - 1) * math.log(2.0)
    if sign == 0:
        log_vol2 = log_vol2 * 0.0 - math.inf
    out = log_vol2 if squared else 0.5 * log_vol2
    return out if log else out.exp()


def dirichlet_weights(n_vertices: int, n_samples: int | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
    """Barycentric weights drawn uniformly on the simplex, i.e. Dirichlet(1, ..., 1): e_j = -log U_j, alpha =
    e / sum(e). (Normalising U_j themselves is *not* uniform.) Returns [n_vertices] or [n_samples, n_vertices]."""
    n_vertices = checks.positive_int("n_vertices", n_vertices)
    if n_samples is not None:
        n_samples = checks.positive_int("n_samples", n_samples, "pass None for one draw or a count >= 1")
    shape = (n_vertices,) if n_samples is None else (int(n_samples), n_vertices)
    u = torch.rand(shape, generator=generator, dtype=torch.float64).clamp_min(1e-300)
    e = -u.log()
    return e / e.sum(-1, keepdim=True)


def barycentric_grid(n_vertices: int, resolution: int) -> Tensor:
    """All weights (i_1, ..., i_n) / resolution with non-negative integers summing to ``resolution``
    [n_points, n_vertices], vertices first in lexicographic order (for plotting the loss over a simplex)."""
    n_vertices = checks.positive_int("n_vertices", n_vertices)
    resolution = checks.positive_int("resolution", resolution, "pass the number of steps per edge, e.g. 6")
    if n_vertices < 1 or resolution < 1:
        raise ValueError(f"need n_vertices >= 1 and resolution >= 1; got {n_vertices}, {resolution}")

    def rec(k, total):
        if k == 1:
            return [[total]]
        return [[i, *rest] for i in range(total, -1, -1) for rest in rec(k - 1, total - i)]

    return torch.tensor(rec(n_vertices, resolution), dtype=torch.float64) / resolution
