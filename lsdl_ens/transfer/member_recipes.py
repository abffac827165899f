"""Typed recipes of the transfer chapter's members beyond a plain fine-tuning (`lsdl_ens.recipe_types.Recipe`):
a cycle member of SSE / StarSSE and a uniform soup of members. Frozen and checked when built, with ``replace``,
``as_dict`` and ``key`` (`lsdl_ens.recipe_types.TypedRecipe`)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from ..recipe_types import Recipe, TypedRecipe

__all__ = ["CYCLE_METHODS", "Cycle", "CycleMemberRecipe", "SoupRecipe", "first_of"]

CYCLE_METHODS = ("sse", "starsse")


@dataclass(frozen=True)
class Cycle(TypedRecipe):
    """One extra cycle of SSE or StarSSE: the member ``index`` (>= 1), max LR ``lr`` (``lr_mult`` times model 1's)
    and length ``epochs`` (``epoch_mult`` times model 1's, truncated), LR steps ``per`` iteration or epoch, and its
    data-order seed."""

    method: str
    index: int
    lr: float
    epochs: int
    lr_mult: float
    epoch_mult: float
    per: str
    seed: int

    def __post_init__(self):
        if self.method not in CYCLE_METHODS:
            raise ValueError(f"method must be one of {CYCLE_METHODS}; got {self.method!r}")
        if self.per not in ("iteration", "epoch"):
            raise ValueError(f"per must be 'iteration' or 'epoch'; got {self.per!r}")
        checks.positive_int("index", self.index)
        checks.positive_int("epochs", self.epochs)
        checks.nonneg_int("seed", self.seed)
        for name in ("lr", "lr_mult", "epoch_mult"):
            checks.positive_float(name, getattr(self, name))


@dataclass(frozen=True)
class CycleMemberRecipe(TypedRecipe):
    """Member ``cycle.index`` of SSE / StarSSE started from model 1, the fine-tuning ``first``."""

    cycle: Cycle
    first: Recipe

    def __post_init__(self):
        if not isinstance(self.cycle, Cycle) or not isinstance(self.first, Recipe):
            raise TypeError("a cycle member needs a Cycle and model 1's Recipe (first)")


@dataclass(frozen=True)
class SoupRecipe(TypedRecipe):
    """The uniform soup of ``members`` (recipes of one architecture), BatchNorm statistics recomputed on augmented
    batches of the target training set shuffled with ``bn_seed``."""

    members: tuple
    bn_seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "members", tuple(self.members))
        if not self.members:
            raise ValueError("member_recipes is empty; a soup needs at least one ingredient")
        checks.nonneg_int("bn_seed", self.bn_seed)


def first_of(recipe) -> Recipe:
    """The plain fine-tuning a member descends from: the recipe itself, or model 1 of a cycle member."""
    return recipe.first if isinstance(recipe, CycleMemberRecipe) else recipe
