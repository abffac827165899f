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
profile; BN statistics are recomputed at every evaluated point.
"""

from __future__ import annotations

import torch
from torch import nn

from ..cache import default_cache
from ..data import BatchLoader, balanced_subset, profile_data, training_set
from ..profiles import Profile, get_profile
from ..recipes import standard_recipe, train
from ..train import default_device
from .evaluation import simplex_grid
from .model import SimplexModel
from .training import train_vertex

__all__ = ["mode_connecting_simplex", "mode_simplex_recipe", "train_mode_simplex", "mode_simplex_grid"]


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


def mode_simplex_recipe(profile: Profile | str | None = None, seeds=(0, 1), seed: int = 0) -> dict:
    """Recipe of the mode-connecting triangle between the standard models of ``seeds``: epochs from the profile's
    ``landscape.simplex_epochs``; points per batch, lr and lambda from its ``spro`` section."""
    p = get_profile(profile)
    return {"method": "mode_simplex", "ends": [standard_recipe(p, s) for s in seeds],
            "epochs": p.landscape.simplex_epochs, "n_samples": p.spro.n_samples, "lr": p.spro.lr, "lam": p.spro.lam,
            "weight_decay": p.weight_decay, "batch_size": p.batch_size, "seed": seed}


def train_mode_simplex(recipe: dict, *, device=None, progress: bool | None = None) -> tuple[SimplexModel, dict]:
    """Train (or load from the cache) the triangle of `mode_simplex_recipe`. Returns ``(simplex, info)`` with
    ``info = {"history": ..., "log_volume": log Vol^2 after training}``; every vertex is frozen on return."""
    device = torch.device(device) if device is not None else default_device()
    model_a, _ = train(recipe["ends"][0], device=device, progress=progress)
    model_b, _ = train(recipe["ends"][1], device=device, progress=progress)

    def build():
        simplex = mode_connecting_simplex(model_a, model_b.state_dict(), seed=recipe["seed"]).to(device)
        history = train_vertex(simplex, training_set(recipe["ends"][0].data), epochs=recipe["epochs"],
                               lr=recipe["lr"], weight_decay=recipe["weight_decay"], lam=recipe["lam"],
                               n_samples=recipe["n_samples"], seed=recipe["seed"], batch_size=recipe["batch_size"],
                               device=device, progress=progress)
        state = {name: t.detach().cpu() for name, t in simplex.vertex(2).items()}
        return state, {"history": history.as_dict(), "log_volume": float(simplex.volume(log=True).detach())}

    state, info = default_cache().get_or_create("mode_simplex", recipe, build)
    simplex = mode_connecting_simplex(model_a, model_b.state_dict(), seed=recipe["seed"]).to(device)
    with torch.no_grad():
        for name, p in simplex.vertex(2).items():
            p.copy_(state[name].to(p.device))
    for p in simplex.vertices.parameters():
        p.requires_grad_(False)
    return simplex, info


def mode_simplex_grid(profile: Profile | str | None = None, seeds=(0, 1)) -> dict:
    """Test loss and error over the trained triangle, cached: ``barycentric_grid(3, landscape.simplex_grid)``
    points, each with BN recomputed on the profile's ``n_bn_batches`` augmented training batches, evaluated on
    ``landscape.n_eval`` test images.

    Returns:
        ``{"alphas" [n, 3] (weights of w_A, w_B, theta), "loss" [n], "error" [n]}`` as numpy arrays.
    """
    p = get_profile(profile)
    recipe = mode_simplex_recipe(p, seeds)
    key = {"simplex": recipe, "grid": p.landscape.simplex_grid, "n_eval": p.landscape.n_eval,
           "n_bn_batches": p.n_bn_batches}

    def build():
        simplex, _ = train_mode_simplex(recipe)
        train_set, _, test_set = profile_data(p)
        eval_set = balanced_subset(test_set, min(p.landscape.n_eval, len(test_set)), seed=11)
        loader = BatchLoader(train_set, p.batch_size, shuffle=True, augment=True, seed=0)
        bn = list(loader.iterate(epoch=0))[:p.n_bn_batches or None]
        out = simplex_grid(simplex, eval_set, bn, resolution=p.landscape.simplex_grid)
        return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in out.items()}, {}

    state, _ = default_cache().get_or_create("mode_simplex_grid", key, build)
    return {k: v.numpy() for k, v in state.items()}
