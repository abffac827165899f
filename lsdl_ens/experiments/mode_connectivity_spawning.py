"""Cached runs of spawning (Frankle et al., ICML 2020): linear mode connectivity of two networks that share the
first k epochs of one training trajectory.

The parent is the profile's standard run, trained once with snapshots of weights and momentum at every spawn epoch
(`spawn_parent`, kind ``"spawn_parent"``). Child A is the parent itself continued to the end; child B restarts from
the parent's weights *and momentum* at epoch k and finishes the same cosine schedule with another data order
(`spawn_child`, kind ``"spawn_child"``). The path between the two children follows the chapter's protocol (BN
recomputed at every point; kind ``"landscape_path"``). Building blocks (snapshots, the offset loader) are in
`lsdl_ens.landscape.spawning`.

Reference: Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020.
Deliberate: BN is recomputed at every alpha and the barrier uses the linear reference (METHODS-1 §2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from ..cache import default_cache
from ..landscape import barrier
from ..landscape.spawning import (EpochSnapshots, OffsetLoader, flatten_snapshots, restore_snapshot,
                                  snapshot_model_state)
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import build_from_recipe, standard_recipe, training_loader
from ..schedules import cosine_lr
from ..train import default_device, fit, make_optimizer
from .mode_connectivity_protocol import PathRun, pair_path

__all__ = ["SpawnParentRecipe", "SpawnChildRecipe", "spawn_parent", "spawn_child", "SpawnPathRun", "spawn_path",
           "spawn_recipes", "spawn_experiment"]


@dataclass(frozen=True)
class SpawnParentRecipe(TypedRecipe):
    """The standard run of ``recipe`` with snapshots after each epoch of ``spawn_epochs`` (sorted; the last
    epoch is always added)."""

    recipe: Recipe
    spawn_epochs: tuple

    def __post_init__(self):
        if not isinstance(self.recipe, Recipe):
            raise TypeError(f"recipe must be a Recipe (standard_recipe(profile, seed)), got {type(self.recipe)}")
        epochs = tuple(self.spawn_epochs)
        if any(isinstance(k, bool) or int(k) != k or not 0 <= k < self.recipe.epochs for k in epochs):
            raise ValueError(f"spawn_epochs must be integers in [0, {self.recipe.epochs}); got {epochs}")
        object.__setattr__(self, "spawn_epochs", tuple(sorted({int(k) for k in epochs} | {self.recipe.epochs})))


@dataclass(frozen=True)
class SpawnChildRecipe(TypedRecipe):
    """Child B of `parent`: restarts from the parent's epoch ``k`` and finishes with data-order seed
    ``child_seed``."""

    parent: SpawnParentRecipe
    k: int
    child_seed: int

    def __post_init__(self):
        if self.k not in self.parent.spawn_epochs or self.k == self.parent.recipe.epochs:
            raise ValueError(f"k must be a spawn epoch of the parent {self.parent.spawn_epochs[:-1]}; got {self.k}")
        checks.nonneg_int("child_seed", self.child_seed)


def _schedule(recipe: Recipe, offset: int):
    return lambda s: cosine_lr(s.epoch_float + offset, recipe.epochs, recipe.lr)


def spawn_parent(run: SpawnParentRecipe) -> dict:
    """Train the standard recipe once, keeping model + momentum at each spawn epoch and at the end (cached, kind
    "spawn_parent"): a `flatten_snapshots` dict."""
    recipe = run.recipe

    def build():
        device = default_device()  # the device of lsdl_ens.recipes.train, so the parent is the standard run
        model = build_from_recipe(recipe).to(device)
        optimizer = make_optimizer("sgd", model, recipe.lr, recipe.weight_decay)
        snaps = EpochSnapshots(run.spawn_epochs)
        fit(model, training_loader(recipe, recipe.seed, loader_class=OffsetLoader, offset=0), epochs=recipe.epochs,
            optimizer=optimizer, lr_schedule=_schedule(recipe, 0), seed=recipe.seed, callbacks=[snaps],
            device=device, desc="spawn parent", precision=recipe.precision, channels_last=recipe.channels_last)
        return flatten_snapshots(snaps.saved), {}

    return default_cache().get_or_create("spawn_parent", run, build)[0]


def spawn_child(run: SpawnChildRecipe) -> dict:
    """The state of a child continuing the parent from epoch k with data-order seed `child_seed` (cached)."""
    recipe, k = run.parent.recipe, run.k

    def build():
        parent = spawn_parent(run.parent)
        device = default_device()
        model = build_from_recipe(recipe).to(device)
        optimizer = make_optimizer("sgd", model, recipe.lr, recipe.weight_decay)
        restore_snapshot(parent, k, model, optimizer)
        fit(model, training_loader(recipe, run.child_seed, loader_class=OffsetLoader, offset=k),
            epochs=recipe.epochs - k, optimizer=optimizer, lr_schedule=_schedule(recipe, k), seed=run.child_seed,
            device=device, desc=f"child spawned at {k}", precision=recipe.precision,
            channels_last=recipe.channels_last)
        return model.state_dict(), {}

    return default_cache().get_or_create("spawn_child", run, build)[0]


@dataclass(frozen=True)
class SpawnPathRun:
    """The segment between the parent's final network (child A) and `child` (child B) at ``n_alphas`` points
    under the protocol of ``profile`` (kind ``"landscape_path"``, key `key()`)."""

    profile: Profile
    child: SpawnChildRecipe
    n_alphas: int

    def tags(self) -> tuple:
        parent = self.child.parent
        return ({"parent": parent, "end": parent.recipe.epochs},
                {"k": self.child.k, "child_seed": self.child.child_seed})

    def key(self) -> dict:
        recipe = self.child.parent.recipe
        return PathRun(self.profile, recipe, recipe, self.n_alphas).key(self.tags())


def spawn_path(run: SpawnPathRun) -> dict:
    """Test and train loss/error on the path of `run` (cached; see `pair_path`)."""
    parent_run = run.child.parent
    recipe = parent_run.recipe
    state_a = snapshot_model_state(spawn_parent(parent_run), recipe.epochs)
    state_b = spawn_child(run.child)
    return pair_path(run.profile, recipe, recipe, run.n_alphas, states=(state_a, state_b), tags=run.tags())


def spawn_recipes(p: Profile, spawn_epochs=None, seed: int = 0, child_seed: int | None = None) -> list:
    """The `SpawnChildRecipe` of every spawn epoch for the parent of standard seed `seed` (child data-order seed
    ``100 + seed`` unless given)."""
    spawn_epochs = tuple(p.landscape.spawn_epochs if spawn_epochs is None else spawn_epochs)
    parent = SpawnParentRecipe(standard_recipe(p, seed), spawn_epochs)
    child_seed = 100 + seed if child_seed is None else child_seed
    return [SpawnChildRecipe(parent, int(k), child_seed) for k in spawn_epochs]


def spawn_experiment(profile=None, spawn_epochs=None, seed: int = 0, child_seed: int | None = None,
                     n_alphas: int | None = None) -> dict:
    """Linear mode connectivity of two children spawned from one trajectory at each spawn epoch k.

    k = 0 means: same initialisation, different data order. Each pair's path is evaluated at `n_alphas` points
    (default ``landscape.n_spawn_alphas``; BN recomputed), and compared with the pair of independently trained
    standard models (seeds `seed`, `seed + 1`).

    Returns:
        ``{"spawn_epochs": [k...], "paths": {k: path}, "independent": path, "test_barrier": [...],
        "train_barrier": [...], "independent_test_barrier", "independent_train_barrier",
        "child_test_error": [...]}``; barriers of the error, linear reference, as fractions.
    """
    p = get_profile(profile)
    n_alphas = n_alphas or p.landscape.n_spawn_alphas
    children = spawn_recipes(p, spawn_epochs, seed, child_seed)
    ks = [child.k for child in children]
    paths = {child.k: spawn_path(SpawnPathRun(p, child, n_alphas)) for child in children}
    independent = pair_path(p, standard_recipe(p, seed), standard_recipe(p, seed + 1), n_alphas)
    return {
        "spawn_epochs": ks, "paths": paths, "independent": independent,
        "test_barrier": [barrier(paths[k]["error"], paths[k]["alphas"]) for k in ks],
        "train_barrier": [barrier(paths[k]["train_error"], paths[k]["alphas"]) for k in ks],
        "child_test_error": [paths[k]["error"][-1] for k in ks],
        "independent_test_barrier": barrier(independent["error"], independent["alphas"]),
        "independent_train_barrier": barrier(independent["train_error"], independent["alphas"]),
    }
