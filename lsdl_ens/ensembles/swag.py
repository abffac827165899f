"""Cached SWAG runs: a SWA-schedule training run that collects SWAG moments (Maddox et al. 2019), stored in the
checkpoint cache under its recipe.

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

import torch

from .. import checks
from ..recipe_types import Recipe, TypedRecipe
from .swag_posterior import SWAG, SWAGCallback, bma_predict

__all__ = ["SWAG", "SWAGCallback", "bma_predict", "SWAGRecipe", "swag_recipe", "train_swag"]


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


def swag_recipe(profile=None, seed: int = 0, **sizes) -> SWAGRecipe:
    """The recipe of a SWAG run: the profile's standard recipe on the SWA schedule (the profile's ``swag`` section;
    `sizes` override its fields), collecting once per epoch after ``swa_start`` (``collections_per_epoch`` times
    when that field is above 1)."""
    from ..profiles import get_profile
    from ..recipes import standard_recipe

    p = get_profile(profile, swag=sizes) if sizes else get_profile(profile)
    cfg = p.swag
    train = standard_recipe(p, seed, epochs=cfg.epochs, schedule="swa",
                            schedule_kw={"swa_lr": cfg.swa_lr, "swa_start": cfg.swa_start})
    return SWAGRecipe(train=train, swa_start=cfg.swa_start, max_rank=cfg.max_rank,
                      collections_per_epoch=cfg.collections_per_epoch)


def train_swag(recipe: SWAGRecipe, *, cache=None, device=None, progress: bool | None = None):
    """Run (or load from the checkpoint cache) a SWAG recipe. Returns ``(swag, model, history)``: the moments, the
    last SGD iterate (its own BN statistics) and the training history."""
    from ..cache import default_cache
    from ..recipes import build_from_recipe, load_state, training_loader
    from ..schedules import make_schedule
    from ..train import History, default_device, fit

    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    r = recipe.train

    def build():
        model = build_from_recipe(r).to(device)
        swag = SWAG(model, max_rank=recipe.max_rank)
        history = fit(model, training_loader(r), epochs=r.epochs, optimizer=r.optimizer,
                      lr_schedule=make_schedule(r.schedule, epochs=r.epochs, lr=r.lr, **r.schedule_kw),
                      weight_decay=r.weight_decay, seed=r.seed, batch_size=r.batch_size,
                      callbacks=[SWAGCallback(swag, recipe.swa_start, recipe.collections_per_epoch)],
                      device=device, progress=progress, desc=f"SWAG seed {r.seed}", precision=r.precision,
                      channels_last=r.channels_last)
        state = {f"model.{k}": v for k, v in model.state_dict().items()}
        state.update({f"swag.{k}": v for k, v in swag.state_dict().items()})
        return state, {"history": history.as_dict()}

    state, extra = cache.get_or_create("swag", recipe, build)
    model = load_state(r, {k[6:]: v for k, v in state.items() if k.startswith("model.")}).to(device)
    swag = SWAG(model, max_rank=recipe.max_rank).load_state_dict(
        {k[5:]: v for k, v in state.items() if k.startswith("swag.")})
    return swag, model, History.from_dict(extra["history"])
