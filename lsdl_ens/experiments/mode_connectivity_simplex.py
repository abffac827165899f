"""Cached mode-connecting triangle of the mode-connectivity chapter (Benton et al., ICML 2021): the standard
networks of two seeds and one trained connecting vertex, and the test error over a barycentric grid of the
triangle. The triangle and its training objective are in `lsdl_ens.simplex` (`mode_connecting_simplex`,
`train_vertex`); sizes come from the profile's ``landscape`` (epochs, grid) and ``spro`` (points per batch, lr,
lambda) sections.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import checks
from ..cache import default_cache
from ..data import training_set
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import standard_recipe, train
from ..simplex import simplex_grid, train_vertex
from ..simplex.mode_connecting import mode_connecting_simplex
from ..train import default_device
from .mode_connectivity_protocol import landscape_data, protocol_key

__all__ = ["ModeSimplexRecipe", "mode_simplex_recipe", "train_mode_simplex", "ModeSimplexGrid",
           "evaluate_mode_simplex", "mode_simplex_grid"]


@dataclass(frozen=True)
class ModeSimplexRecipe(TypedRecipe):
    """The triangle between the networks of the two recipes ``ends`` with one connecting vertex trained for
    ``epochs`` epochs (``n_samples`` points per batch, lr, lambda, weight decay, batch size, seed)."""

    ends: tuple
    epochs: int
    n_samples: int
    lr: float
    lam: float
    weight_decay: float
    batch_size: int
    seed: int

    def __post_init__(self):
        if len(self.ends) != 2 or not all(isinstance(r, Recipe) for r in self.ends):
            raise TypeError("ends must be two Recipes (standard_recipe(profile, seed) for two seeds)")
        object.__setattr__(self, "ends", tuple(self.ends))
        checks.positive_int("epochs", self.epochs)
        checks.positive_int("n_samples", self.n_samples)
        checks.positive_float("lr", self.lr)
        checks.nonneg_float("lam", self.lam)
        checks.nonneg_float("weight_decay", self.weight_decay)
        checks.positive_int("batch_size", self.batch_size)
        checks.nonneg_int("seed", self.seed)


def mode_simplex_recipe(profile: Profile | str | None = None, seeds=(0, 1), seed: int = 0) -> ModeSimplexRecipe:
    """Recipe of the mode-connecting triangle between the standard models of ``seeds``: epochs from the profile's
    ``landscape.simplex_epochs``; points per batch, lr and lambda from its ``spro`` section."""
    p = get_profile(profile)
    return ModeSimplexRecipe(ends=tuple(standard_recipe(p, s) for s in seeds), epochs=p.landscape.simplex_epochs,
                             n_samples=p.spro.n_samples, lr=p.spro.lr, lam=p.spro.lam,
                             weight_decay=p.weight_decay, batch_size=p.batch_size, seed=seed)


def train_mode_simplex(recipe: ModeSimplexRecipe, *, device=None, progress: bool | None = None):
    """Train (or load from the cache, kind ``"mode_simplex"``) the triangle of `mode_simplex_recipe`. Returns
    ``(simplex, info)`` with ``info = {"history": ..., "log_volume": log Vol^2 after training}``; every vertex is
    frozen on return."""
    device = torch.device(device) if device is not None else default_device()
    model_a, _ = train(recipe.ends[0], device=device, progress=progress)
    model_b, _ = train(recipe.ends[1], device=device, progress=progress)

    def build():
        simplex = mode_connecting_simplex(model_a, model_b.state_dict(), seed=recipe.seed).to(device)
        history = train_vertex(simplex, training_set(recipe.ends[0].data), epochs=recipe.epochs, lr=recipe.lr,
                               weight_decay=recipe.weight_decay, lam=recipe.lam, n_samples=recipe.n_samples,
                               seed=recipe.seed, batch_size=recipe.batch_size, device=device, progress=progress)
        state = {name: t.detach().cpu() for name, t in simplex.vertex(2).items()}
        return state, {"history": history.as_dict(), "log_volume": float(simplex.volume(log=True).detach())}

    state, info = default_cache().get_or_create("mode_simplex", recipe, build)
    simplex = mode_connecting_simplex(model_a, model_b.state_dict(), seed=recipe.seed).to(device)
    with torch.no_grad():
        for name, q in simplex.vertex(2).items():
            q.copy_(state[name].to(q.device))
    for q in simplex.vertices.parameters():
        q.requires_grad_(False)
    return simplex, info


@dataclass(frozen=True)
class ModeSimplexGrid:
    """Test loss and error over the trained triangle `simplex` at ``barycentric_grid(3, grid)`` points under the
    protocol of ``profile`` (kind ``"mode_simplex_grid"``, key `key()`)."""

    profile: Profile
    simplex: ModeSimplexRecipe
    grid: int

    def key(self) -> dict:
        return {"simplex": self.simplex, "grid": self.grid, "protocol": protocol_key(self.profile)}


def evaluate_mode_simplex(run: ModeSimplexGrid) -> dict:
    """``{"alphas" [n, 3] (weights of w_A, w_B, theta), "loss" [n], "error" [n]}`` (numpy) over the triangle of
    `run`, each point with BN recomputed on the protocol's batches; cached."""
    def build():
        simplex, _ = train_mode_simplex(run.simplex)
        data = landscape_data(run.profile)
        out = simplex_grid(simplex, data["eval"], data["bn"], resolution=run.grid)
        return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in out.items()}, {}

    state, _ = default_cache().get_or_create("mode_simplex_grid", run.key(), build)
    return {k: v.numpy() for k, v in state.items()}


def mode_simplex_grid(profile: Profile | str | None = None, seeds=(0, 1)) -> dict:
    """`evaluate_mode_simplex` of the triangle between the standard models of `seeds` on a
    ``landscape.simplex_grid`` grid."""
    p = get_profile(profile)
    return evaluate_mode_simplex(ModeSimplexGrid(p, mode_simplex_recipe(p, seeds), p.landscape.simplex_grid))
