"""Cached runs of transfer-ensemble members: cycle members of SSE / StarSSE, uniform soups, and `load_member`, which
returns the trained model of any member recipe (a fine-tuning, a cycle member or a soup), training it on a miss.

A cycle member (a `CycleMemberRecipe` of `lsdl_ens.transfer.cycles.cycle_recipes`) is trained by
one `lsdl_ens.train.fit` run of the cycle's schedule from its start member (model 1 for StarSSE and the first SSE
cycle, SSE member k - 1 otherwise), cached under kind "transfer_cycle". A soup recipe (`soup_recipe`, a
`SoupRecipe`) is the uniform average of its members' weights (Wortsman et al., ICML 2022) with BatchNorm statistics
recomputed (`lsdl_ens.bn.update_bn`) on augmented target training batches, as the reference's
``utils/batch_norm.py`` does.

Reference: Sadrtdinov et al., NeurIPS 2023, https://arxiv.org/abs/2303.03374; isadrtdinov/ens-for-transfer@8984ccc.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..bn import update_bn
from ..cache import default_cache
from ..data import BatchLoader
from ..recipe_types import Recipe
from ..recipes import load_state, train, training_loader
from ..state import average
from ..train import default_device, fit
from .cycles import cycle_schedule, run_cycles
from .member_recipes import CycleMemberRecipe, SoupRecipe, first_of

__all__ = ["train_cycle_member", "load_member", "member_histories", "soup_recipe", "load_soup", "bn_loader",
           "base_recipe"]


# ----------------------------------------------------------------------------------------------- cycle members
def _start_recipe(recipe: CycleMemberRecipe):
    cycle = recipe.cycle
    if cycle.method == "starsse" or cycle.index == 1:
        return recipe.first
    return recipe.replace(cycle=cycle.replace(index=cycle.index - 1, seed=cycle.seed - 1))


def train_cycle_member(recipe: CycleMemberRecipe, *, cache=None, device=None,
                       progress: bool | None = None) -> tuple[dict, dict]:
    """(state, extra) of one cycle member (cached, kind "transfer_cycle"); trains its start member if needed.

    extra: ``{"history": ...}`` of the cycle's `fit`.
    """
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    cycle, first = recipe.cycle, recipe.first

    def build():
        start_model = load_member(_start_recipe(recipe), cache=cache, device=device, progress=progress)
        history = {}

        def train_cycle(model, _k):
            h = fit(model, training_loader(first, cycle.seed), epochs=cycle.epochs, optimizer=first.optimizer,
                    lr_schedule=cycle_schedule(cycle.lr, cycle.per), weight_decay=first.weight_decay,
                    seed=cycle.seed, label_smoothing=first.label_smoothing, device=device, progress=progress,
                    desc=f"{cycle.method} cycle {cycle.index}", precision=first.precision,
                    channels_last=first.channels_last)
            history.update(h.as_dict())

        states = run_cycles(start_model.state_dict(), lambda: load_state(first, start_model.state_dict()).to(device),
                            train_cycle, 2, star=True)
        return states[1], {"history": history}

    return cache.get_or_create("transfer_cycle", recipe, build)


def load_member(recipe, *, cache=None, device=None, progress: bool | None = None) -> nn.Module:
    """The trained model of any member recipe of this package: a `recipes.train` recipe, a `CycleMemberRecipe`, or
    a `SoupRecipe` (see `soup_recipe`)."""
    device = torch.device(device) if device is not None else default_device()
    if isinstance(recipe, SoupRecipe):
        return load_soup(recipe, cache=cache, device=device, progress=progress)
    if isinstance(recipe, CycleMemberRecipe):
        state, _ = train_cycle_member(recipe, cache=cache, device=device, progress=progress)
        return load_state(recipe.first, state).to(device)
    model, _ = train(recipe, cache=cache, device=device, progress=progress)
    return model


def member_histories(recipes: Sequence, *, cache=None) -> list[dict]:
    """The `fit` history of each cycle member (None for non-cycle members)."""
    return [train_cycle_member(r, cache=cache)[1]["history"] if isinstance(r, CycleMemberRecipe) else None
            for r in recipes]


# ----------------------------------------------------------------------------------------------- soups
def soup_recipe(member_recipes: Sequence) -> SoupRecipe:
    """Recipe of the uniform soup of `member_recipes` with BN recomputed on the target training set."""
    return SoupRecipe(tuple(member_recipes))


def base_recipe(recipe) -> Recipe:
    """The plain fine-tuning recipe a member descends from (model 1 of a cycle member): its architecture and data."""
    return first_of(recipe)


def bn_loader(base: Recipe, seed: int = 0) -> BatchLoader:
    """Augmented (crop with padding 4 and flip, whatever the recipe's augmentation), shuffled batches of the
    training set of recipe `base` for `update_bn`, the last incomplete batch kept."""
    return training_loader(base, seed, augment=True, crop_padding=4, flip=True, drop_last=False)


def load_soup(recipe: SoupRecipe, *, cache=None, device=None, progress=None) -> torch.nn.Module:
    """The uniform soup of a `soup_recipe`: theta = (1/N) sum_i theta_i over the members' floating entries
    (`lsdl_ens.state.average`), BN statistics recomputed (`update_bn`) on target training batches."""
    device = torch.device(device) if device is not None else default_device()
    states = [load_member(r, cache=cache, device=device, progress=progress).state_dict() for r in recipe.members]
    base = base_recipe(recipe.members[0])
    model = load_state(base, average(states)).to(device)
    update_bn(model, bn_loader(base, recipe.bn_seed).iterate(epoch=0), device=device)
    return model
