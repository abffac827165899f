"""Building blocks of spawning (Frankle et al., ICML 2020): a parent run's snapshots of weights and momentum, and
a child that continues the parent's epoch numbering.

`EpochSnapshots` keeps model and optimizer state at chosen epochs of a `lsdl_ens.train.fit` run;
`flatten_snapshots` turns them into one flat dict of tensors (what the checkpoint cache stores) and
`restore_snapshot` loads one epoch's weights and momentum buffers back into a model and its SGD optimizer.
`OffsetLoader` makes a child's epoch e the parent's epoch e + k, so the child finishes the parent's schedule with
the parent's epoch numbering. The cached parent and children are in `lsdl_ens.experiments.mode_connectivity`.

Reference: Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020
(instability vs the epoch k at which the copies are spawned). No reference code is followed (METHODS-1 §2 lists
none).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..data import BatchLoader
from ..train import Callback

__all__ = ["OffsetLoader", "EpochSnapshots", "flatten_snapshots", "snapshot_model_state", "restore_snapshot"]


class OffsetLoader(BatchLoader):
    """A BatchLoader whose epoch e is the parent's epoch e + offset (a child continues the epoch numbering)."""

    def __init__(self, *args, offset: int = 0, **kw):
        super().__init__(*args, **kw)
        self.offset = offset

    def iterate(self, epoch: int = 0, seed: int | None = None):
        return super().iterate(epoch=epoch + self.offset, seed=seed)


class EpochSnapshots(Callback):
    """Keep model and optimizer state after the given numbers of completed epochs (0 = before training) in
    ``saved``: ``{k: (model state, optimizer state)}``."""

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


def flatten_snapshots(saved: dict) -> dict:
    """``EpochSnapshots.saved`` as one flat dict: ``"{k}.model.{name}"`` and ``"{k}.momentum.{i}"`` (the SGD
    momentum buffer of the i-th parameter) per epoch k."""
    out = {}
    for k, (model_state, opt_state) in saved.items():
        out.update({f"{k}.model.{name}": v for name, v in model_state.items()})
        for i, buf in opt_state["state"].items():
            out[f"{k}.momentum.{i}"] = buf["momentum_buffer"]
    return out


def snapshot_model_state(flat: dict, k: int) -> dict:
    """The model state of epoch k in a `flatten_snapshots` dict."""
    prefix = f"{k}.model."
    state = {name[len(prefix):]: v for name, v in flat.items() if name.startswith(prefix)}
    if not state:
        raise ValueError(f"k={k} is not an epoch of the snapshots; epochs held: "
                         f"{sorted({int(name.split('.')[0]) for name in flat})}")
    return state


def restore_snapshot(flat: dict, k: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Load epoch k's weights into `model` and its momentum buffers into `optimizer` (SGD, one param group)."""
    model.load_state_dict(snapshot_model_state(flat, k))
    params = optimizer.param_groups[0]["params"]
    for i, q in enumerate(params):
        key = f"{k}.momentum.{i}"
        if key in flat:
            optimizer.state[q]["momentum_buffer"] = flat[key].to(q.device, copy=True)
