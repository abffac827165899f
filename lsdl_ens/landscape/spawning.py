"""Linear mode connectivity of networks spawned from one training trajectory (Frankle et al., ICML 2020).

Child A is the profile's standard run; child B restarts from the parent's weights and momentum after k epochs and
finishes the same cosine schedule with another data order. The parent's snapshots and every child are cached; the
paths between children follow the landscape protocol (`protocol.py`: BN recomputed at every point).

Reference: Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020
(instability vs the epoch k at which the copies are spawned). No reference code is followed (METHODS-1 §2 lists
none); BN is recomputed at every alpha and the barrier uses the linear reference, as the spec asks.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..cache import default_cache
from ..data import BatchLoader
from ..profiles import get_profile
from ..recipe_types import Recipe
from ..recipes import build_from_recipe, standard_recipe, training_loader
from ..schedules import cosine_lr
from ..train import Callback, default_device, fit, make_optimizer
from .linear import barrier
from .protocol import pair_path

__all__ = ["spawn_experiment", "spawn_parent", "spawn_child", "OffsetLoader"]


class OffsetLoader(BatchLoader):
    """A BatchLoader whose epoch e is the parent's epoch e + offset (a child continues the epoch numbering)."""

    def __init__(self, *args, offset: int = 0, **kw):
        super().__init__(*args, **kw)
        self.offset = offset

    def iterate(self, epoch: int = 0, seed: int | None = None):
        return super().iterate(epoch=epoch + self.offset, seed=seed)


def _loader(recipe: Recipe, seed: int, offset: int) -> OffsetLoader:
    return training_loader(recipe, seed, loader_class=OffsetLoader, offset=offset)


def _schedule(recipe: Recipe, offset: int):
    return lambda s: cosine_lr(s.epoch_float + offset, recipe.epochs, recipe.lr)


class _Snapshots(Callback):
    """Keep model and optimizer state after the given numbers of completed epochs (0 = before training)."""

    def __init__(self, epochs):
        self.epochs, self.saved = set(epochs), {}

    def _save(self, k, model, optimizer):
        self.saved[k] = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))

    def on_train_begin(self, model, optimizer):
        if 0 in self.epochs:
            self._save(0, model, optimizer)

    def on_epoch_end(self, model, optimizer, step, history):
        if step.epoch + 1 in self.epochs:
            self._save(step.epoch + 1, model, optimizer)


def _flatten_payload(saved: dict) -> dict:
    out = {}
    for k, (model_state, opt_state) in saved.items():
        out.update({f"{k}.model.{name}": v for name, v in model_state.items()})
        for i, buf in opt_state["state"].items():
            out[f"{k}.momentum.{i}"] = buf["momentum_buffer"]
    return out


def _parent_checkpoint(flat: dict, k: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    prefix = f"{k}.model."
    model.load_state_dict({name[len(prefix):]: v for name, v in flat.items() if name.startswith(prefix)})
    params = optimizer.param_groups[0]["params"]
    for i, q in enumerate(params):
        key = f"{k}.momentum.{i}"
        if key in flat:
            optimizer.state[q]["momentum_buffer"] = flat[key].to(q.device, copy=True)


def spawn_parent(recipe: Recipe, spawn_epochs) -> dict:
    """Train the standard recipe once, keeping model + momentum at each spawn epoch and at the end (cached, kind
    "spawn_parent"): a flat dict with entries ``"{k}.model.{name}"`` and ``"{k}.momentum.{i}"`` per epoch k."""
    key = {"recipe": recipe, "spawn_epochs": sorted(set(spawn_epochs) | {recipe.epochs})}

    def build():
        device = default_device()  # the device of lsdl_ens.recipes.train, so the parent is the standard run
        model = build_from_recipe(recipe).to(device)
        optimizer = make_optimizer("sgd", model, recipe.lr, recipe.weight_decay)
        snaps = _Snapshots(key["spawn_epochs"])
        fit(model, _loader(recipe, recipe.seed, 0), epochs=recipe.epochs, optimizer=optimizer,
            lr_schedule=_schedule(recipe, 0), seed=recipe.seed, callbacks=[snaps], device=device,
            desc="spawn parent", precision=recipe.precision, channels_last=recipe.channels_last)
        return _flatten_payload(snaps.saved), {}

    return default_cache().get_or_create("spawn_parent", key, build)[0]


def spawn_child(recipe: Recipe, spawn_epochs, k: int, child_seed: int) -> dict:
    """The state of a child continuing the parent from epoch k with data-order seed `child_seed` (cached)."""
    key = {"recipe": recipe, "spawn_epochs": sorted(set(spawn_epochs) | {recipe.epochs}), "k": k,
           "child_seed": child_seed}

    def build():
        parent = spawn_parent(recipe, spawn_epochs)
        device = default_device()
        model = build_from_recipe(recipe).to(device)
        optimizer = make_optimizer("sgd", model, recipe.lr, recipe.weight_decay)
        _parent_checkpoint(parent, k, model, optimizer)
        fit(model, _loader(recipe, child_seed, k), epochs=recipe.epochs - k, optimizer=optimizer,
            lr_schedule=_schedule(recipe, k), seed=child_seed, device=device, desc=f"child spawned at {k}",
            precision=recipe.precision, channels_last=recipe.channels_last)
        return model.state_dict(), {}

    return default_cache().get_or_create("spawn_child", key, build)[0]


def spawn_experiment(profile=None, spawn_epochs=None, seed: int = 0, child_seed: int = 100,
                     n_alphas: int | None = None) -> dict:
    """Linear mode connectivity of two children spawned from one trajectory at epoch k (Frankle et al. 2020).

    The parent is the profile's standard run (seed `seed`); child A is the parent itself continued to the end
    (data order of `seed`), child B restarts from the parent's weights *and momentum* at epoch k and finishes the
    same cosine schedule with data-order seed `child_seed`. k = 0 means: same initialisation, different data
    order. Each pair's path is evaluated at `n_alphas` points (BN recomputed), and compared with the pair of
    independently trained standard models (seeds `seed`, `seed + 1`).

    Returns:
        ``{"spawn_epochs": [k...], "paths": {k: path}, "independent": path, "test_barrier": [...],
        "train_barrier": [...], "independent_test_barrier", "independent_train_barrier",
        "child_test_error": [...]}``; barriers of the error, linear reference, as fractions.
    """
    p = get_profile(profile)
    sizes = p.landscape
    spawn_epochs = tuple(sizes.spawn_epochs if spawn_epochs is None else spawn_epochs)
    if any(int(k) != k or not 0 <= k < p.epochs for k in spawn_epochs):
        raise ValueError(f"spawn_epochs must be integers in [0, {p.epochs}); got {spawn_epochs}")
    n_alphas = n_alphas or sizes.n_spawn_alphas
    recipe = standard_recipe(p, seed)
    parent = spawn_parent(recipe, spawn_epochs)
    end = recipe.epochs
    state_a = {name[len(f"{end}.model."):]: v for name, v in parent.items() if name.startswith(f"{end}.model.")}
    paths = {}
    for k in spawn_epochs:
        state_b = spawn_child(recipe, spawn_epochs, k, child_seed)
        tags = ({"parent_end": True, "spawn_epochs": sorted(spawn_epochs)},
                {"k": k, "child_seed": child_seed, "spawn_epochs": sorted(spawn_epochs)})
        paths[k] = pair_path(p, recipe, recipe, n_alphas, states=(state_a, state_b), tags=tags)
    independent = pair_path(p, standard_recipe(p, seed), standard_recipe(p, seed + 1), n_alphas)
    return {
        "spawn_epochs": list(spawn_epochs), "paths": paths, "independent": independent,
        "test_barrier": [barrier(paths[k]["error"], paths[k]["alphas"]) for k in spawn_epochs],
        "train_barrier": [barrier(paths[k]["train_error"], paths[k]["alphas"]) for k in spawn_epochs],
        "child_test_error": [paths[k]["error"][-1] for k in spawn_epochs],
        "independent_test_barrier": barrier(independent["error"], independent["alphas"]),
        "independent_train_barrier": barrier(independent["train_error"], independent["alphas"]),
    }
