"""The cached runs of chapter 03 (weight averaging): SWA and its SGD baseline tracked every epoch, the
cyclical-LR SWA run, and the list `runs(profile)` of every cached run the chapter reads.

SWA (Izmailov et al., UAI 2018, https://arxiv.org/abs/1803.05407): an SWA run follows the profile's standard
recipe with the SWA schedule (`lsdl_ens.schedules.swa_lr`) for ``budget`` x the profile's epochs and averages the
end-of-epoch iterates from ``profile.swa.swa_start`` on (`lsdl_ens.averaging.SWACollector`); its SGD baseline uses
the cosine schedule. Both are tracked every epoch (test accuracy of the iterate and of the BN-updated average).
The cyclical-LR run (eq. 2 of the paper, `lsdl_ens.averaging.cyclic_swa_lr`) averages at the end of every cycle.
The algorithms stay in `lsdl_ens.averaging`; this module only trains and caches. The fine-tuning sweep of the
model-soups sections is in `lsdl_ens.experiments.weight_averaging_sweep`.

References: timgaripov/swa@411b2fc: train.py (schedule, averaging at epoch ends).
Deliberate deviation: a cyclical-LR cycle is one epoch (the reference averages at epoch ends).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import checks
from ..averaging import SWACollector, cyclic_swa_lr, swa_model
from ..cache import default_cache
from ..data import data_splits
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import build_from_recipe, standard_recipe, training_loader
from ..schedules import make_schedule
from ..train import Callback, default_device, evaluate, fit
from .runs import CachedRun
from .weight_averaging_sweep import sweep_runs

__all__ = ["swa_recipe", "SWARun", "swa_run", "train_swa", "CyclicSWARecipe", "cyclic_swa_recipe",
           "train_cyclic_swa", "runs"]


def swa_recipe(profile: Profile | str | None = None, seed: int = 0, *, budget: float = 1.5, schedule: str = "swa",
               **overrides) -> Recipe:
    """The recipe of an SWA run (``schedule="swa"``) or of its SGD baseline with per-epoch tracking
    (``schedule="cosine"``, ``budget`` 1): the profile's standard recipe with epochs = round(budget * epochs)."""
    p = get_profile(profile)
    checks.positive_float("budget", budget, "pass the training budget in units of the profile's epochs, e.g. 1.5")
    if schedule not in ("swa", "cosine"):
        raise ValueError(f"schedule must be 'swa' or 'cosine'; got {schedule!r}")
    kw = {"swa_start": p.swa.swa_start, "swa_lr": p.swa.swa_lr} if schedule == "swa" else {}
    recipe = standard_recipe(p, seed, epochs=int(round(budget * p.epochs)), schedule=schedule, schedule_kw=kw)
    return recipe.replace(**overrides) if overrides else recipe


@dataclass(frozen=True)
class SWARun(TypedRecipe):
    """A tracked SWA run (or SGD baseline) of ``recipe`` and the 1-based epochs whose states it keeps (the last
    epoch always; ``report_epochs`` is stored sorted, with the last epoch added)."""

    recipe: Recipe
    report_epochs: tuple[int, ...] = ()

    def __post_init__(self):
        if not isinstance(self.recipe, Recipe):
            raise TypeError(f"recipe must be a Recipe (e.g. swa_recipe(profile)), got {type(self.recipe).__name__}")
        epochs = [checks.positive_int("report_epochs", e) for e in self.report_epochs]
        if any(e > self.recipe.epochs for e in epochs):
            raise ValueError(f"report_epochs must lie within the run's {self.recipe.epochs} epochs, got {epochs}")
        object.__setattr__(self, "report_epochs", tuple(sorted(set(epochs) | {self.recipe.epochs})))

    def cache_key(self) -> dict:
        """The checkpoint-cache key: the recipe's fields plus ``report_epochs``."""
        return {**self.recipe.as_dict(), "report_epochs": list(self.report_epochs)}


def swa_run(profile: Profile | str | None = None, seed: int = 0, *, budget: float = 1.5,
            schedule: str = "swa") -> SWARun:
    """The chapter's tracked run: `swa_recipe(...)`, keeping the states at one budget and at the last epoch."""
    p = get_profile(profile)
    recipe = swa_recipe(p, seed, budget=budget, schedule=schedule)
    return SWARun(recipe, tuple(e for e in (p.epochs,) if e <= recipe.epochs))


class _Tracker(Callback):
    """Per-epoch test accuracy of the iterate and of the SWA model (BN recomputed), plus snapshots."""

    def __init__(self, collector, test, bn_loader, report_epochs):
        self.collector, self.test, self.bn = collector, test, bn_loader
        self.report_epochs, self.rows, self.snapshots = set(report_epochs), [], {}

    def on_epoch_end(self, model, optimizer, step, history):
        epoch = step.epoch + 1
        row = {"epoch": epoch, "train_loss": history.train_loss[-1],
               "sgd_test_accuracy": evaluate(model, self.test)["accuracy"]}
        if self.collector is not None and self.collector.n_averaged:
            avg = swa_model(model, self.collector.state, self.bn.iterate(epoch=0))
            row["swa_test_accuracy"] = evaluate(avg, self.test)["accuracy"]
            if epoch in self.report_epochs:
                self.snapshots[f"swa@{epoch}"] = avg.state_dict()
        if epoch in self.report_epochs:
            self.snapshots[f"sgd@{epoch}"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.rows.append(row)


def _unflatten(flat: dict) -> dict[str, dict]:
    states: dict[str, dict] = {}
    for name, value in flat.items():
        head, _, param = name.partition("/")
        states.setdefault(head, {})[param] = value
    return states


def train_swa(run: SWARun | Recipe, *, cache=None, device=None, progress: bool | None = None):
    """Train (or load from the cache) an SWA run or its SGD baseline, tracking test accuracy every epoch.

    The SWA model's BN statistics are recomputed with a full pass over the augmented training set
    (``update_bn``) at every epoch end and at the reported epochs.

    Args:
        run: an `SWARun` (from `swa_run`), or a recipe from `swa_recipe` (then only the last epoch is reported).

    Returns:
        (states, info): ``states`` maps ``"sgd@E"`` / ``"swa@E"`` to state dicts (plus ``"iterate@E"`` for every
        averaged iterate); ``info`` has ``"rows"`` (per epoch: epoch, train_loss, sgd_test_accuracy and
        swa_test_accuracy once averaging has begun) and ``"swa_epochs"``.
    """
    run = SWARun(run) if isinstance(run, Recipe) else run
    if not isinstance(run, SWARun):
        raise TypeError(f"run must be an SWARun (swa_run(profile)) or a Recipe, got {type(run).__name__}")
    recipe = run.recipe
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()

    def build():
        model = build_from_recipe(recipe).to(device)
        loader = training_loader(recipe)
        bn_loader = training_loader(recipe, recipe.seed + 12345, device=device, drop_last=False)
        collector = SWACollector(recipe.schedule_kw["swa_start"], keep_iterates=True) \
            if recipe.schedule == "swa" else None
        tracker = _Tracker(collector, data_splits(recipe.data)[2], bn_loader, run.report_epochs)
        schedule = make_schedule(recipe.schedule, epochs=recipe.epochs, lr=recipe.lr, **recipe.schedule_kw)
        fit(model, loader, epochs=recipe.epochs, optimizer=recipe.optimizer, lr_schedule=schedule,
            weight_decay=recipe.weight_decay, seed=recipe.seed, label_smoothing=recipe.label_smoothing,
            callbacks=[c for c in (collector, tracker) if c is not None], device=device, progress=progress,
            desc=f"{recipe.schedule} seed {recipe.seed}", precision=recipe.precision,
            channels_last=recipe.channels_last)
        states = {f"{name}/{k}": v.detach().cpu() for name, st in tracker.snapshots.items() for k, v in st.items()}
        swa_epochs = collector.epochs if collector is not None else []
        if collector is not None:
            for epoch, it in zip(collector.epochs, collector.iterates):
                states.update({f"iterate@{epoch}/{k}": v for k, v in it.items()})
        return states, {"rows": tracker.rows, "swa_epochs": swa_epochs}

    flat, info = cache.get_or_create("swa", run.cache_key(), build)
    return _unflatten(flat), info


@dataclass(frozen=True)
class CyclicSWARecipe(TypedRecipe):
    """A cyclical-LR SWA run on the standard-style run ``base``: one cycle per epoch from epoch ``swa_start`` on,
    the LR falling from ``lr_1`` to ``lr_2`` within each."""

    base: Recipe
    lr_1: float
    lr_2: float
    swa_start: int

    def __post_init__(self):
        self.check_base()
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
    if not isinstance(recipe, CyclicSWARecipe):
        raise TypeError(f"recipe must be a CyclicSWARecipe (cyclic_swa_recipe(profile)), got {type(recipe).__name__}")
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
    return _unflatten(flat), info


def swa_runs(profile: Profile) -> list[CachedRun]:
    """The tracked SWA (1.5 budgets) and SGD (1 budget) runs of seeds 0 .. ``profile.claim_seeds - 1``."""
    out = []
    for seed in range(profile.claim_seeds):
        for budget, schedule, name in ((1.5, "swa", "SWA"), (1.0, "cosine", "SGD")):
            run = swa_run(profile, seed, budget=budget, schedule=schedule)
            out.append(CachedRun("swa", run, train_swa, key=run.cache_key(), label=f"{name} seed {seed}"))
    return out


def runs(profile: Profile) -> list[CachedRun]:
    """Every cached run chapter 03 reads, parents first: the SWA / SGD seeds, the cyclical-LR SWA run, then the
    pre-trained backbone, its linear probe and the fine-tuning sweep (`weight_averaging_sweep.sweep_runs`)."""
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a Profile (get_profile(...)), got {type(profile).__name__}")
    cyclic = CachedRun("swa_cyclic", cyclic_swa_recipe(profile, 0), train_cyclic_swa, label="cyclical-LR SWA")
    return [*swa_runs(profile), cyclic, *sweep_runs(profile)]
