"""The recipe of a SWAG run: a SWA-schedule training run that collects SWAG moments (Maddox et al. 2019).

The run itself is sized from the profile and trained through the checkpoint cache by
``lsdl_ens.experiments.basin_sampling`` (``swag_recipe``, ``train_swag``).

The posterior itself (the moments, the callback that collects them during `lsdl_ens.train.fit`, and the Bayesian
model average ``bma_predict``) is in ``lsdl_ens.ensembles.swag_posterior``; its names are re-exported here, so
``from lsdl_ens.ensembles.swag import SWAG, SWAGCallback, bma_predict`` keeps working.

References:
    Maddox et al., "A Simple Baseline for Bayesian Uncertainty in Deep Learning", NeurIPS 2019,
    https://arxiv.org/abs/1902.02476. Reference implementation: wjmaddox/swa_gaussian@61a918f:
    experiments/uncertainty/uncertainty.py (the training loop with ``swag_model.collect_model``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from ..recipe_types import Recipe, TypedRecipe
from .swag_posterior import SWAG, SWAGCallback, bma_predict

__all__ = ["SWAG", "SWAGCallback", "bma_predict", "SWAGRecipe"]


@dataclass(frozen=True)
class SWAGRecipe(TypedRecipe):
    """A SWAG run: the standard-style run ``train`` (on the SWA schedule), moments collected
    ``collections_per_epoch`` times per epoch from epoch ``swa_start`` on, deviation matrix of rank at most
    ``max_rank``."""

    train: Recipe
    swa_start: int
    max_rank: int
    collections_per_epoch: int = 1

    def __post_init__(self):
        if not isinstance(self.train, Recipe):
            raise TypeError(f"train must be a Recipe, got {type(self.train).__name__}")
        checks.positive_int("swa_start", self.swa_start)
        checks.positive_int("max_rank", self.max_rank)
        checks.positive_int("collections_per_epoch", self.collections_per_epoch)
