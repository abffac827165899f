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

The cached SWA runs of the chapter (recipes, per-epoch tracking) are in `lsdl_ens.experiments.weight_averaging`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import checks
from ..bn import update_bn
from ..train import Callback, TrainStep

__all__ = ["SWACollector", "swa_model"]


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
