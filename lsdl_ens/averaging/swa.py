"""Stochastic Weight Averaging: an equal-weight running average of SGD iterates, with BN recomputed.

w_SWA <- (n w_SWA + w) / (n + 1) at the end of every epoch with (epoch + 1) >= swa_start (or every
``cycle_epochs`` epochs with a cyclic LR), parameters only; the average's BatchNorm statistics are then recomputed
with one pass over the (augmented) training data (``lsdl_ens.bn.update_bn``). The learning rate follows
``lsdl_ens.schedules.swa_lr`` (constant, linear ramp to swa_lr, constant).

References:
    Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018,
    https://arxiv.org/abs/1803.05407. Reference implementation: timgaripov/swa@411b2fc: train.py (schedule,
    averaging at epoch ends), utils.py (``moving_average``, ``bn_update``); pytorch/pytorch@03481fc:
    torch/optim/swa_utils.py (``AveragedModel``, ``update_bn``).

Sizes: the profile's ``swa`` section (``swa_start`` about 0.75 of one budget, as in the paper's 161 of 200 epochs,
and ``swa_lr``); budgets are 1 and 1.5 times the profile's ``epochs``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import checks
from ..bn import update_bn
from ..cache import default_cache
from ..data import data_splits
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import build_from_recipe, standard_recipe, training_loader
from ..schedules import make_schedule
from ..train import Callback, TrainStep, default_device, evaluate, fit

__all__ = ["SWACollector", "swa_recipe", "train_swa", "swa_model"]


class SWACollector(Callback):
    """A ``lsdl_ens.train.fit`` callback keeping the equal-weight running average of the iterates.

    At the end of epoch e (1-based) with e >= ``swa_start`` and (e - swa_start) divisible by ``cycle_epochs``,
    w_SWA <- w_SWA + (w - w_SWA) / (n + 1), n <- n + 1 (accumulated in float64). Only the model's parameters are
    averaged; its buffers (BN running statistics) are copied from the current iterate, like
    ``torch.optim.swa_utils.AveragedModel(use_buffers=False)``: they belong to the iterate, not to the average,
    so call ``lsdl_ens.bn.update_bn`` (see ``swa_model``) before evaluating.

    Args:
        swa_start: first epoch (1-based) whose end-of-epoch iterate enters the average.
        cycle_epochs: average every this many epochs (1: every epoch; the cycle length with a cyclic LR).
        keep_iterates: also keep a copy of each averaged iterate (``.iterates``, for planes through iterates).

    Attributes:
        n_averaged: number of iterates in the average. ``state`` (property): the averaged state.
    """

    def __init__(self, swa_start: int, cycle_epochs: int = 1, keep_iterates: bool = False):
        if int(swa_start) != swa_start or swa_start < 1:
            raise ValueError(f"swa_start must be a 1-based epoch >= 1; got {swa_start}")
        if int(cycle_epochs) != cycle_epochs or cycle_epochs < 1:
            raise ValueError(f"cycle_epochs must be an integer >= 1; got {cycle_epochs}")
        self.swa_start, self.cycle_epochs, self.keep_iterates = int(swa_start), int(cycle_epochs), keep_iterates
        self.n_averaged = 0
        self._mean: dict[str, torch.Tensor] = {}
        self._last: dict[str, torch.Tensor] = {}
        self.iterates: list[dict] = []
        self.epochs: list[int] = []

    def due(self, epoch: int) -> bool:
        """Whether the iterate at the end of 1-based ``epoch`` is averaged."""
        return epoch >= self.swa_start and (epoch - self.swa_start) % self.cycle_epochs == 0

    @torch.no_grad()
    def collect(self, model: nn.Module) -> None:
        """Add ``model``'s current parameters to the average (also usable without ``fit``)."""
        params = dict(model.named_parameters())
        for name, p in params.items():
            if self.n_averaged == 0:
                self._mean[name] = p.detach().double().clone()
            else:
                self._mean[name] += (p.detach().double() - self._mean[name]) / (self.n_averaged + 1)
        self._last = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.n_averaged += 1
        if self.keep_iterates:
            self.iterates.append({k: v.cpu() for k, v in self._last.items()})

    def on_epoch_end(self, model, optimizer, step: TrainStep, history) -> None:
        epoch = step.epoch + 1
        if self.due(epoch):
            self.collect(model)
            self.epochs.append(epoch)

    @property
    def state(self) -> dict:
        """The averaged state: averaged parameters, buffers of the last averaged iterate (recompute BN!)."""
        if self.n_averaged == 0:
            raise ValueError("no iterate has been averaged yet (training stopped before swa_start?)")
        return {k: (self._mean[k].to(v.dtype) if k in self._mean else v.clone()) for k, v in self._last.items()}


def swa_model(template: nn.Module, state: dict, bn_data, *, device=None, num_batches: int | None = None) -> nn.Module:
    """A copy of ``template`` holding ``state`` with BN statistics recomputed on ``bn_data`` (``update_bn``)."""
    checks.module("template", template, "pass a model of the architecture; the averaged weights go in state")
    checks.state_dict_like("state", state)
    model = copy.deepcopy(template)
    model.load_state_dict(state)
    if device is not None:
        model.to(device)
    update_bn(model, bn_data, num_batches=num_batches)
    return model


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


class _Tracker(Callback):
    """Per-epoch test accuracy of the iterate and of the SWA model (BN recomputed), plus snapshots."""

    def __init__(self, collector, test, bn_loader, num_bn_batches, report_epochs):
        self.collector, self.test, self.bn, self.nbn = collector, test, bn_loader, num_bn_batches
        self.report_epochs, self.rows, self.snapshots = set(report_epochs), [], {}

    def on_epoch_end(self, model, optimizer, step, history):
        epoch = step.epoch + 1
        row = {"epoch": epoch, "train_loss": history.train_loss[-1],
               "sgd_test_accuracy": evaluate(model, self.test)["accuracy"]}
        if self.collector is not None and self.collector.n_averaged:
            avg = swa_model(model, self.collector.state, self.bn.iterate(epoch=0), num_batches=self.nbn)
            row["swa_test_accuracy"] = evaluate(avg, self.test)["accuracy"]
            if epoch in self.report_epochs:
                self.snapshots[f"swa@{epoch}"] = avg.state_dict()
        if epoch in self.report_epochs:
            self.snapshots[f"sgd@{epoch}"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.rows.append(row)


def train_swa(recipe: Recipe, *, report_epochs=(), cache=None, device=None, progress: bool | None = None):
    """Train (or load from the cache) an SWA run or its SGD baseline, tracking test accuracy every epoch.

    The SWA model's BN statistics are recomputed with a full pass over the augmented training set
    (``update_bn``) at every epoch end and at the reported epochs.

    Args:
        recipe: from ``swa_recipe``.
        report_epochs: 1-based epochs whose SGD iterate (``"sgd@E"``) and BN-updated SWA model (``"swa@E"``) are
            returned; the last epoch is always reported.

    Returns:
        (states, info): ``states`` maps ``"sgd@E"`` / ``"swa@E"`` to state dicts (plus ``"iterate@E"`` for every
        averaged iterate); ``info`` has ``"rows"`` (per epoch: epoch, train_loss, sgd_test_accuracy and
        swa_test_accuracy once averaging has begun) and ``"swa_epochs"``.
    """
    cache = cache or default_cache()
    device = torch.device(device) if device is not None else default_device()
    report = sorted(set(int(e) for e in report_epochs) | {recipe.epochs})
    key = {**recipe.as_dict(), "report_epochs": report}

    def build():
        model = build_from_recipe(recipe).to(device)
        loader = training_loader(recipe)
        bn_loader = training_loader(recipe, recipe.seed + 12345, device=device, drop_last=False)
        collector = SWACollector(recipe.schedule_kw["swa_start"], keep_iterates=True) \
            if recipe.schedule == "swa" else None
        tracker = _Tracker(collector, _test_set(recipe), bn_loader, None, report)
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

    flat, info = cache.get_or_create("swa", key, build)
    states: dict[str, dict] = {}
    for name, value in flat.items():
        head, _, param = name.partition("/")
        states.setdefault(head, {})[param] = value
    return states, info


def _test_set(recipe):
    return data_splits(recipe.data)[2]
