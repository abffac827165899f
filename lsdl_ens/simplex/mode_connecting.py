"""A mode-connecting simplex: two independently trained networks and one trained vertex span a low-loss triangle.

Benton et al. fix several independently trained solutions w_1, w_2, ... and train extra "connecting" vertices theta
so that every simplex they form with the solutions has low loss: not only a thin curve but a whole volume of
low-loss networks joins the modes. Here the smallest such complex: the triangle (w_A, w_B, theta), with w_A and w_B
frozen and theta initialised at their midpoint and trained with the SPRO objective of `train_vertex`

    sum_{s=1..S} CE(phi_s(x), y) - lambda log(Vol^2 + 1e-4),   phi_s = a_s0 w_A + a_s1 w_B + a_s2 theta,
    a_s ~ Dirichlet(1),

i.e. the expected loss over the whole triangle plus a push towards a larger triangle.

Reference: Benton et al., "Loss Surface Simplexes for Mode Connecting Volumes and Fast Ensembling", ICML 2021,
Sec. 4 and Fig. 1 (mode-connecting simplicial complexes); g-benton/loss-surface-simplexes@0f55807
(``SimplexNet.add_vert``, ``fix_points``). Deliberate deviations: one connecting vertex and one triangle (the paper
joins several modes with several connecting points); sizes (epochs, points per batch, lr, lambda) come from the run
profile; BN statistics are recomputed at every evaluated point. The cached triangle between two standard networks
and its evaluation grid are in `lsdl_ens.experiments.mode_connectivity`.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import SimplexModel

__all__ = ["mode_connecting_simplex"]


def mode_connecting_simplex(model_a: nn.Module, state_b: dict, seed: int = 0) -> SimplexModel:
    """The triangle (w_A, w_B, theta): v_0 = ``model_a``'s parameters, v_1 = ``state_b``'s (both frozen), v_2 a
    trainable vertex at their midpoint. Train it with ``train_vertex(simplex, ...)``."""
    simplex = SimplexModel(model_a, seed=seed)
    simplex.add_vertex("base")
    with torch.no_grad():
        for name, p in simplex.vertex(1).items():
            if name not in state_b:
                raise ValueError(f"state_b has no parameter {name!r}; pass the state of the same architecture")
            p.copy_(state_b[name].to(p.device, p.dtype))
    simplex.add_vertex("centroid")  # freezes v_0 and v_1
    return simplex
