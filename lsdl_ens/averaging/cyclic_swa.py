"""SWA with a cyclical learning rate: the run and its averaged iterates.

Cyclical schedule (Izmailov et al. 2018, eq. 2): within each cycle of ``c`` iterations
alpha(i) = (1 - t(i)) alpha_1 + t(i) alpha_2 with t(i) = (mod(i - 1, c) + 1) / c, so the rate falls linearly from
alpha_1 to alpha_2 and the iterate is averaged at the end of each cycle, where the rate is alpha_2. Before the first
cycle the rate follows `lsdl_ens.schedules.swa_lr` (constant, then a linear ramp) down to alpha_1.

The SWA talk's picture: on the plane through three iterates, the iterates of SGD with
a constant or a cyclical rate stay near the border of the low-error region and their average lies inside it
(`lsdl_ens.landscape.trajectory_plane` draws that plane from the iterates of `train_swa` or `train_cyclic_swa`).

References:
    Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018, eq. 2,
    Fig. 2, https://arxiv.org/abs/1803.05407; timgaripov/swa@411b2fc: train.py (averaging at epoch ends).

Deliberate deviation: one cycle is one epoch (the reference averages at epoch ends; the paper's cycle lengths are
in iterations).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import checks
from ..cache import default_cache
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import build_from_recipe, training_loader
from ..schedules import swa_lr
from ..train import TrainStep, default_device, fit
from .swa import SWACollector, swa_recipe

__all__ = ["CyclicSWARecipe", "cyclic_swa_lr", "cyclic_swa_recipe", "train_cyclic_swa"]


def cyclic_swa_lr(step: TrainStep, lr_init: float, lr_1: float, lr_2: float, swa_start: int) -> float:
    """The cyclical SWA rate at ``step``: one cycle per epoch from epoch ``swa_start`` (1-based, the first averaged
    epoch) on, falling linearly from ``lr_1`` to ``lr_2`` (reached at the epoch's last iteration); before it,
    ``swa_lr(epoch, lr_init, lr_1, swa_start - 1)`` (``lr_1`` throughout when ``swa_start`` is 1)."""
    first = swa_start - 1  # 0-based epoch of the first cycle
    if step.epoch < first:
        return swa_lr(step.epoch_float, lr_init, lr_1, first)
    t = (step.batch + 1) / step.iterations_per_epoch
    return (1 - t) * lr_1 + t * lr_2


@dataclass(frozen=True)
class CyclicSWARecipe(TypedRecipe):
    """A cyclical-LR SWA run on the standard-style run ``base``: one cycle per epoch from epoch ``swa_start`` on,
    the LR falling from ``lr_1`` to ``lr_2`` within each."""

    base: Recipe
    lr_1: float
    lr_2: float
    swa_start: int

    def __post_init__(self):
        if not isinstance(self.base, Recipe):
            raise TypeError(f"base must be a Recipe, got {type(self.base).__name__}")
        checks.positive_float("lr_1", self.lr_1)
        checks.positive_float("lr_2", self.lr_2)
        checks.positive_int("swa_start", self.swa_start)
        if self.swa_start > self.base.epochs:
            raise ValueError(f"swa_start ({self.swa_start}) is after the run's last epoch ({self.base.epochs}); "
                             "lower the profile's swa.swa_start or raise the budget")


def cyclic_swa_recipe(profile: Profile | str | None = None, seed: int = 0, *,
                      budget: float = 1.5) -> CyclicSWARecipe:
    """The recipe of a cyclical-LR SWA run: the standard recipe of `swa_recipe` (``budget`` x the profile's epochs),
    alpha_1 = ``profile.swa.cyclic_lr``, alpha_2 = ``profile.swa.swa_lr``, averaging from ``profile.swa.swa_start``."""
    p = get_profile(profile)
    return CyclicSWARecipe(base=swa_recipe(p, seed, budget=budget), lr_1=p.swa.cyclic_lr, lr_2=p.swa.swa_lr,
                           swa_start=p.swa.swa_start)


def train_cyclic_swa(recipe: CyclicSWARecipe, *, device=None, progress: bool | None = None) -> tuple[dict, dict]:
    """Train (or load from the cache) a `cyclic_swa_recipe` run.

    Returns:
        (states, info): ``states`` maps ``"average"`` (averaged parameters, buffers of the last iterate: recompute
        BN) and ``"iterate@E"`` (each averaged iterate, E the 1-based epoch) to state dicts; ``info["swa_epochs"]``.
    """
    base = recipe.base
    device = torch.device(device) if device is not None else default_device()

    def build():
        model = build_from_recipe(base).to(device)
        loader = training_loader(base)
        collector = SWACollector(recipe.swa_start, keep_iterates=True)
        fit(model, loader, epochs=base.epochs, optimizer=base.optimizer,
            lr_schedule=lambda s: cyclic_swa_lr(s, base.lr, recipe.lr_1, recipe.lr_2, recipe.swa_start),
            weight_decay=base.weight_decay, seed=base.seed, label_smoothing=base.label_smoothing,
            callbacks=[collector], device=device, progress=progress, desc=f"cyclic SWA seed {base.seed}",
            precision=base.precision, channels_last=base.channels_last)
        states = {f"average/{k}": v.detach().cpu() for k, v in collector.state.items()}
        for epoch, iterate in zip(collector.epochs, collector.iterates):
            states.update({f"iterate@{epoch}/{k}": v for k, v in iterate.items()})
        return states, {"swa_epochs": list(collector.epochs)}

    flat, info = default_cache().get_or_create("swa_cyclic", recipe, build)
    states: dict[str, dict] = {}
    for name, value in flat.items():
        head, _, param = name.partition("/")
        states.setdefault(head, {})[param] = value
    return states, info
