"""Snapshot methods from one training run: Snapshot Ensembles (SSE) and Fast Geometric Ensembling (FGE).

* SSE (Huang et al., ICLR 2017): cosine restarts set every iteration (`lsdl_ens.schedules.sse_lr`), optimiser
  state kept across restarts, a snapshot at the **end** of each cycle (LR near 0).
  Reference implementation: gaohuang/SnapshotEnsemble@1c27584: train.lua (``learningRateCosine``).
* FGE (Garipov et al., NeurIPS 2018): start from the checkpoint at 80% of a normal run (with its momentum), then
  triangular cycles (`lsdl_ens.schedules.fge_lr`) with a snapshot at **mid-cycle** (LR minimum lr_2).
  Reference implementation: timgaripov/dnn-mode-connectivity@f0bf253: fge.py, utils.py (``cyclic_learning_rate``).

Predictions of snapshots are averaged in probability space; BatchNorm uses the running statistics collected during
training (no recompute), as in both references.

Budgets are counted in units B of the profile's standard run (``profile.epochs`` epochs): a snapshot's ``cost`` is
the number of B spent when it was taken (FGE includes its 0.8 B pre-training). So "SSE at 1B" is the snapshots with
cost <= 1 and compares at equal cost with one standard network.

The cached, budget-counted runs of a profile (`sse_recipe`, `train_sse`, `fge_recipe`, `train_fge`, ...) are in
`lsdl_ens.experiments.ensembles_snapshots`; this file holds the collector, the snapshot positions and the drivers.

Deliberate deviations: cycles are set in iterations, so the 80% start and the FGE cycle need not fall on epoch
boundaries (the references count whole epochs); the FGE cycle is 5% of B rather than 1% (2 of 200 epochs), so a
12-epoch budget still has cycles of ~47 iterations; FGE at budget kB starts from the same 0.8 B checkpoint and runs
(k - 0.8) B, so the 1B snapshots are a prefix of the 2B run.
"""

from __future__ import annotations

import copy
import math

from torch import nn

from .. import checks
from ..data import BatchLoader, ImageSet
from ..schedules import fge_lr, sse_lr
from ..train import Callback, fit, make_optimizer

__all__ = ["SnapshotCollector", "sse_snapshot_iterations", "fge_snapshot_iterations", "fit_iterations", "run_sse",
           "run_fge"]


class SnapshotCollector(Callback):
    """A `lsdl_ens.train.Callback` copying the model's state after the optimiser step of chosen iterations.

    Args:
        iterations: global iterations (from 0, as `TrainStep.iteration`) after whose step a snapshot is taken.
        optimizer_state: also keep each snapshot's optimiser state (e.g. momentum, to resume from it).
        transform: optional ``state -> state`` applied to each copy.

    Attributes:
        states, iterations, lrs: per snapshot, in collection order (lr = the LR of the step just taken).
        optimizer_states: per snapshot (only with ``optimizer_state=True``).
    """

    def __init__(self, iterations, *, optimizer_state: bool = False):
        if isinstance(iterations, (str, bytes)) or not hasattr(iterations, "__iter__"):
            raise TypeError(f"iterations must be a list of iteration indices, got {iterations!r}")
        wanted = sorted({checks.integer(f"iterations[{j}]", i) for j, i in enumerate(iterations)})
        if any(i < 0 for i in wanted):
            raise ValueError(f"iterations must be >= 0; got {wanted}")
        self.wanted = set(wanted)
        self.keep_optimizer = optimizer_state
        self.states: list[dict] = []
        self.iterations: list[int] = []
        self.lrs: list[float] = []
        self.optimizer_states: list[dict] = []

    @classmethod
    def sse(cls, total_iterations: int, n_cycles: int, **kw) -> SnapshotCollector:
        """Snapshots at the end of each SSE cycle (see `sse_snapshot_iterations`)."""
        return cls(sse_snapshot_iterations(total_iterations, n_cycles), **kw)

    @classmethod
    def fge(cls, total_iterations: int, cycle_iterations: int, **kw) -> SnapshotCollector:
        """Snapshots at the middle (LR minimum) of each FGE cycle (see `fge_snapshot_iterations`)."""
        return cls(fge_snapshot_iterations(total_iterations, cycle_iterations), **kw)

    def on_step_end(self, model, optimizer, step, loss) -> None:
        if step.iteration not in self.wanted:
            return
        self.states.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        self.iterations.append(step.iteration)
        self.lrs.append(float(optimizer.param_groups[0]["lr"]))
        if self.keep_optimizer:
            self.optimizer_states.append(copy.deepcopy(optimizer.state_dict()))

    def __len__(self) -> int:
        return len(self.states)

    def models(self, template: nn.Module) -> list[nn.Module]:
        """One copy of `template` per snapshot, holding its state, in eval mode."""
        out = []
        for state in self.states:
            m = copy.deepcopy(template)
            m.load_state_dict(state)
            out.append(m.eval())
        return out


def sse_snapshot_iterations(total_iterations: int, n_cycles: int) -> list[int]:
    """Last iteration of each cycle of `sse_lr`: ceil((j + 1) c) - 1 for c = total / n_cycles, j < n_cycles."""
    if n_cycles < 1 or total_iterations < n_cycles:
        raise ValueError(f"need n_cycles >= 1 and total_iterations >= n_cycles; got {n_cycles}, {total_iterations}")
    c = total_iterations / n_cycles
    return [min(math.ceil((j + 1) * c - 1e-9), total_iterations) - 1 for j in range(n_cycles)]


def fge_snapshot_iterations(total_iterations: int, cycle_iterations: int) -> list[int]:
    """Mid-cycle iterations of `fge_lr` (where lr = lr_2 for even c): j c + c // 2 below `total_iterations`."""
    if cycle_iterations < 2:
        raise ValueError(f"cycle_iterations must be >= 2; got {cycle_iterations}")
    return list(range(cycle_iterations // 2, total_iterations, cycle_iterations))


class _BudgetReached(Exception):
    """Raised by `_StopAfter` to end `fit` in the middle of an epoch."""


class _StopAfter(Callback):
    def __init__(self, iterations: int):
        self.iterations = iterations

    def on_step_end(self, model, optimizer, step, loss) -> None:
        if step.iteration + 1 >= self.iterations:
            raise _BudgetReached


def fit_iterations(model, loader: BatchLoader, iterations: int, *, optimizer, lr_schedule, callbacks=(),
                   seed: int = 0, progress=None, desc="train", precision: str = "fp32",
                   channels_last: bool = False) -> None:
    """`lsdl_ens.train.fit` for exactly `iterations` steps (the last epoch may stop part-way); ``precision`` and
    ``channels_last`` as in `fit`."""
    epochs = math.ceil(iterations / len(loader))
    try:
        fit(model, loader, epochs=epochs, optimizer=optimizer, lr_schedule=lr_schedule,
            callbacks=[*callbacks, _StopAfter(iterations)], seed=seed, progress=progress, desc=desc,
            precision=precision, channels_last=channels_last)
    except _BudgetReached:
        pass


# ----------------------------------------------------------------------------------------------- drivers
def run_sse(model, data, *, epochs: int, n_cycles: int, lr_max: float, weight_decay: float = 5e-4,
            batch_size: int = 128, seed: int = 0, progress=None, precision: str = "fp32",
            channels_last: bool = False) -> SnapshotCollector:
    """Train `model` in place for `epochs` epochs of SSE (SGD-Nesterov, cosine restarts per iteration) and return
    the collector holding the `n_cycles` end-of-cycle snapshots. `data`: an ImageSet (augmented) or a loader;
    ``precision`` and ``channels_last`` as in `lsdl_ens.train.fit`."""
    loader = _loader(data, batch_size, seed)
    total = epochs * len(loader)
    collector = SnapshotCollector.sse(total, n_cycles)
    fit(model, loader, epochs=epochs, optimizer=make_optimizer("sgd", model, lr_max, weight_decay), seed=seed,
        progress=progress, lr_schedule=lambda s: sse_lr(s.iteration, total, n_cycles, lr_max), callbacks=[collector],
        desc="SSE", precision=precision, channels_last=channels_last)
    return collector


def run_fge(model, data, *, iterations: int, cycle_iterations: int, lr_1: float, lr_2: float,
            weight_decay: float = 5e-4, optimizer_state: dict | None = None, batch_size: int = 128, seed: int = 0,
            progress=None, precision: str = "fp32", channels_last: bool = False) -> SnapshotCollector:
    """Continue training `model` (normally the 80% checkpoint) for `iterations` steps of FGE and return the
    collector of mid-cycle snapshots. `optimizer_state`: the SGD state of the checkpoint (momentum), restored;
    ``precision`` and ``channels_last`` as in `lsdl_ens.train.fit`."""
    loader = _loader(data, batch_size, seed)
    opt = make_optimizer("sgd", model, lr_1, weight_decay)
    if optimizer_state is not None:
        opt.load_state_dict(copy.deepcopy(optimizer_state))  # torch would update the caller's buffers in place
    collector = SnapshotCollector.fge(iterations, cycle_iterations)
    fit_iterations(model, loader, iterations, optimizer=opt, seed=seed, progress=progress, callbacks=[collector],
                   lr_schedule=lambda s: fge_lr(s.iteration, cycle_iterations, lr_1, lr_2), desc="FGE",
                   precision=precision, channels_last=channels_last)
    return collector


def _loader(data, batch_size, seed):
    if isinstance(data, BatchLoader):
        return data
    if not isinstance(data, ImageSet):
        raise ValueError(f"data must be an ImageSet or a BatchLoader; got {type(data).__name__}")
    return BatchLoader(data, batch_size, shuffle=True, augment=True, drop_last=len(data) > batch_size, seed=seed)
