"""Uniform soups of transfer-ensemble members, and the batches that recompute their BatchNorm statistics.

A soup of N members of one architecture averages their weights,

    theta_soup = (1/N) sum_i theta_i   (floating entries; `lsdl_ens.state.average`),

and then recomputes the BatchNorm running statistics (`lsdl_ens.bn.update_bn`) on augmented target training
batches, as the reference's ``utils/batch_norm.py`` does: the averaged running statistics of the members do not
describe the averaged network's activations. A soup costs one forward pass, but it only works when the members share
a basin (linearly connected with low loss between them).

The soup recipe (`soup_recipe`, a `SoupRecipe`) names the members; training and loading the members is the job of
the chapter's experiments module (`lsdl_ens.experiments.transfer`), which hands their states to `soup_model`.

References: Wortsman et al., "Model soups", ICML 2022 (uniform soup); Sadrtdinov et al., NeurIPS 2023,
https://arxiv.org/abs/2303.03374 (soups of StarSSE members); isadrtdinov/ens-for-transfer@8984ccc.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import checks
from ..bn import update_bn
from ..data import BatchLoader
from ..recipe_types import Recipe
from ..recipes import load_state, training_loader
from ..state import average
from ..train import default_device
from .member_recipes import SoupRecipe, first_of

__all__ = ["soup_recipe", "base_recipe", "bn_loader", "soup_model"]


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


def soup_model(states: Sequence[dict], base: Recipe, *, bn_seed: int = 0, device=None) -> torch.nn.Module:
    """The uniform soup of member `states` (state dicts of recipe `base`'s architecture):
    theta = (1/N) sum_i theta_i over the floating entries (`lsdl_ens.state.average`), then BatchNorm statistics
    recomputed (`update_bn`) on augmented training batches of `base` shuffled with `bn_seed`."""
    states = checks.non_empty("states", list(states), "pass the state dicts of the soup's members")
    if not isinstance(base, Recipe):
        raise TypeError(f"base must be the members' fine-tuning Recipe (base_recipe(member)), got "
                        f"{type(base).__name__}")
    device = torch.device(device) if device is not None else default_device()
    model = load_state(base, average(states)).to(device)
    update_bn(model, bn_loader(base, bn_seed).iterate(epoch=0), device=device)
    return model
