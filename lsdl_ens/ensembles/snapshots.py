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

Sizes per profile (`CYCLIC_SIZES`): SSE cycles per B and peak LR (2x the standard LR, as Huang et al.); FGE cycle
length as a fraction of B and lr_1, lr_2 as fractions of the standard LR (VGG16 of Garipov et al.: pre-training
0.05, lr_1 1e-2, lr_2 5e-4); checkpoints of the no-cycle (standard) run every `every_epochs` epochs.

Deliberate deviations: cycles are set in iterations, so the 80% start and the FGE cycle need not fall on epoch
boundaries (the references count whole epochs); the FGE cycle is 5% of B rather than 1% (2 of 200 epochs), so a
12-epoch budget still has cycles of ~47 iterations; FGE at budget kB starts from the same 0.8 B checkpoint and runs
(k - 0.8) B, so the 1B snapshots are a prefix of the 2B run.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..cache import default_cache
from ..data import BatchLoader, ImageSet
from ..profiles import Profile, get_profile
from ..recipes import build_from_recipe, load_state, standard_recipe, training_set
from ..schedules import cosine_lr, fge_lr, sse_lr
from ..train import Callback, default_device, fit

__all__ = ["SnapshotCollector", "SnapshotRun", "CYCLIC_SIZES", "cyclic_sizes", "sse_snapshot_iterations",
           "fge_snapshot_iterations", "run_sse", "run_fge", "sse_recipe", "fge_recipe", "trajectory_recipe",
           "train_sse", "train_fge", "train_trajectory"]

CYCLIC_SIZES = {
    #        SSE cycles/B, SSE lr / std lr, FGE cycle / B, FGE lr_1, lr_2 / std lr, no-cycle checkpoints every
    "smoke": dict(sse_cycles=2, sse_lr_factor=2.0, fge_cycle=0.25, fge_lr_1=0.2, fge_lr_2=0.01, every_epochs=1),
    "cpu": dict(sse_cycles=4, sse_lr_factor=2.0, fge_cycle=0.05, fge_lr_1=0.2, fge_lr_2=0.01, every_epochs=3),
    "gpu": dict(sse_cycles=5, sse_lr_factor=2.0, fge_cycle=0.05, fge_lr_1=0.5, fge_lr_2=0.005, every_epochs=12),
}


def cyclic_sizes(profile: Profile | str | None = None) -> dict:
    """The `CYCLIC_SIZES` row of a profile (custom profiles fall back to the row of the same base name)."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    if p.name not in CYCLIC_SIZES:
        raise ValueError(f"no cyclic sizes for profile {p.name!r}; valid: {', '.join(CYCLIC_SIZES)}")
    return dict(CYCLIC_SIZES[p.name])


# ----------------------------------------------------------------------------------------------- collector
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
        wanted = sorted({int(i) for i in iterations})
        if any(i < 0 for i in wanted):
            raise ValueError(f"iterations must be >= 0; got {wanted}")
        self.wanted = set(wanted)
        self.keep_optimizer = optimizer_state
        self.states: list[dict] = []
        self.iterations: list[int] = []
        self.lrs: list[float] = []
        self.optimizer_states: list[dict] = []

    @classmethod
    def sse(cls, total_iterations: int, n_cycles: int, **kw) -> "SnapshotCollector":
        """Snapshots at the end of each SSE cycle (see `sse_snapshot_iterations`)."""
        return cls(sse_snapshot_iterations(total_iterations, n_cycles), **kw)

    @classmethod
    def fge(cls, total_iterations: int, cycle_iterations: int, **kw) -> "SnapshotCollector":
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


def _sgd(model, lr, weight_decay):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9, nesterov=True,
                           weight_decay=weight_decay)


def fit_iterations(model, loader: BatchLoader, iterations: int, *, optimizer, lr_schedule, callbacks=(),
                   seed: int = 0, progress=None, desc="train") -> None:
    """`lsdl_ens.train.fit` for exactly `iterations` steps (the last epoch may stop part-way)."""
    epochs = math.ceil(iterations / len(loader))
    try:
        fit(model, loader, epochs=epochs, optimizer=optimizer, lr_schedule=lr_schedule,
            callbacks=[*callbacks, _StopAfter(iterations)], seed=seed, progress=progress, desc=desc)
    except _BudgetReached:
        pass


# ----------------------------------------------------------------------------------------------- drivers
def run_sse(model, data, *, epochs: int, n_cycles: int, lr_max: float, weight_decay: float = 5e-4,
            batch_size: int = 128, seed: int = 0, progress=None) -> SnapshotCollector:
    """Train `model` in place for `epochs` epochs of SSE (SGD-Nesterov, cosine restarts per iteration) and return
    the collector holding the `n_cycles` end-of-cycle snapshots. `data`: an ImageSet (augmented) or a loader."""
    loader = _loader(data, batch_size, seed)
    total = epochs * len(loader)
    collector = SnapshotCollector.sse(total, n_cycles)
    fit(model, loader, epochs=epochs, optimizer=_sgd(model, lr_max, weight_decay), seed=seed, progress=progress,
        lr_schedule=lambda s: sse_lr(s.iteration, total, n_cycles, lr_max), callbacks=[collector], desc="SSE")
    return collector


def run_fge(model, data, *, iterations: int, cycle_iterations: int, lr_1: float, lr_2: float,
            weight_decay: float = 5e-4, optimizer_state: dict | None = None, batch_size: int = 128, seed: int = 0,
            progress=None) -> SnapshotCollector:
    """Continue training `model` (normally the 80% checkpoint) for `iterations` steps of FGE and return the
    collector of mid-cycle snapshots. `optimizer_state`: the SGD state of the checkpoint (momentum), restored."""
    loader = _loader(data, batch_size, seed)
    opt = _sgd(model, lr_1, weight_decay)
    if optimizer_state is not None:
        opt.load_state_dict(copy.deepcopy(optimizer_state))  # torch would update the caller's buffers in place
    collector = SnapshotCollector.fge(iterations, cycle_iterations)
    fit_iterations(model, loader, iterations, optimizer=opt, seed=seed, progress=progress, callbacks=[collector],
                   lr_schedule=lambda s: fge_lr(s.iteration, cycle_iterations, lr_1, lr_2), desc="FGE")
    return collector


def _loader(data, batch_size, seed):
    if isinstance(data, BatchLoader):
        return data
    if not isinstance(data, ImageSet):
        raise ValueError(f"data must be an ImageSet or a BatchLoader; got {type(data).__name__}")
    return BatchLoader(data, batch_size, shuffle=True, augment=True, drop_last=len(data) > batch_size, seed=seed)


# ----------------------------------------------------------------------------------------------- cached runs
@dataclass
class SnapshotRun:
    """Snapshots of one cached run: states in collection order, where they were taken and what they cost."""

    recipe: dict
    states: list
    iterations: list
    lrs: list
    costs: list                     # budget (in B) spent when each snapshot was taken
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.states)

    def within(self, budget: float) -> list[int]:
        """Indices of the snapshots taken within `budget` B."""
        return [i for i, c in enumerate(self.costs) if c <= budget + 1e-9]

    def models(self, indices=None, device=None) -> list[nn.Module]:
        """Networks holding the chosen snapshots (default all), in eval mode."""
        base = self.recipe["base"]
        indices = range(len(self)) if indices is None else indices
        return [load_state(base, self.states[i]).to(device or "cpu").eval() for i in indices]


def _pack(states: list[dict], **tensors) -> dict:
    packed = {f"{i}/{k}": v for i, s in enumerate(states) for k, v in s.items()}
    packed.update(tensors)
    return packed


def _unpack(packed: dict, n: int) -> list[dict]:
    states = [dict() for _ in range(n)]
    for key, value in packed.items():
        head, _, name = key.partition("/")
        if head.isdigit():
            states[int(head)][name] = value
    return states


def _base_loader(base: dict, seed: int) -> BatchLoader:
    data = training_set(base["data"])
    return BatchLoader(data, base["batch_size"], shuffle=True, augment=base["augment"],
                       drop_last=len(data) > base["batch_size"], seed=seed)


def sse_recipe(profile: Profile | str | None = None, seed: int = 0, budget: int = 2, **overrides) -> dict:
    """Recipe of an SSE run of `budget` B on the profile's standard setting (snapshots of 1B are its prefix)."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    sizes = cyclic_sizes(p)
    recipe = {"method": "sse", "base": standard_recipe(p, seed), "budget": budget,
              "n_cycles": sizes["sse_cycles"] * budget, "lr_max": sizes["sse_lr_factor"] * p.lr}
    recipe.update(overrides)
    return recipe


def train_sse(recipe: dict, *, device=None, progress=None) -> SnapshotRun:
    """The cached SSE run of `recipe` (see `sse_recipe`)."""
    base = recipe["base"]
    epochs = base["epochs"] * recipe["budget"]
    loader = _base_loader(base, base["seed"])

    def build():
        model = build_from_recipe(base).to(device or default_device())
        col = run_sse(model, loader, epochs=epochs, n_cycles=recipe["n_cycles"], lr_max=recipe["lr_max"],
                      weight_decay=base["weight_decay"], seed=base["seed"], progress=progress)
        return _pack(col.states), {"iterations": col.iterations, "lrs": col.lrs}

    state, extra = default_cache().get_or_create("sse", recipe, build)
    per_budget = base["epochs"] * len(loader)
    costs = [(i + 1) / per_budget for i in extra["iterations"]]
    return SnapshotRun(recipe, _unpack(state, len(extra["iterations"])), extra["iterations"], extra["lrs"], costs,
                       {"iterations_per_budget": per_budget})


def trajectory_recipe(profile: Profile | str | None = None, seed: int = 0, start_fraction: float = 0.8) -> dict:
    """Recipe of a re-run of the standard run keeping the checkpoint at `start_fraction` (with momentum) and
    checkpoints every few epochs (the no-cycle variant of Huang et al. Fig. 5)."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    return {"method": "trajectory", "base": standard_recipe(p, seed), "start_fraction": start_fraction,
            "every_epochs": cyclic_sizes(p)["every_epochs"]}


def train_trajectory(recipe: dict, *, device=None, progress=None) -> dict:
    """The cached trajectory: ``{"start": state, "start_momentum": {param index: buffer}, "start_iteration",
    "checkpoints": [states], "checkpoint_iterations", "iterations_per_budget"}``. The run repeats the standard
    recipe step for step (same init, data order, optimiser, cosine schedule), so its final state is the cached
    standard network of that seed."""
    base = recipe["base"]
    loader = _base_loader(base, base["seed"])
    ipe, epochs = len(loader), base["epochs"]
    start_iteration = round(recipe["start_fraction"] * epochs * ipe) - 1
    every = [e * ipe - 1 for e in range(recipe["every_epochs"], epochs + 1, recipe["every_epochs"])]

    def build():
        model = build_from_recipe(base).to(device or default_device())
        start = SnapshotCollector([start_iteration], optimizer_state=True)
        checkpoints = SnapshotCollector(every)
        fit(model, loader, epochs=epochs, optimizer=_sgd(model, base["lr"], base["weight_decay"]),
            lr_schedule=lambda s: cosine_lr(s.epoch_float, epochs, base["lr"]), seed=base["seed"],
            callbacks=[start, checkpoints], progress=progress, desc="standard run with checkpoints")
        momentum = {f"momentum/{i}": s["momentum_buffer"] for i, s in start.optimizer_states[0]["state"].items()}
        start_state = {f"start/{k}": v for k, v in start.states[0].items()}
        return _pack(checkpoints.states, **start_state, **momentum), {"checkpoint_iterations": checkpoints.iterations}

    state, extra = default_cache().get_or_create("trajectory", recipe, build)
    n = len(extra["checkpoint_iterations"])
    return {"start": {k[6:]: v for k, v in state.items() if k.startswith("start/")},
            "start_momentum": {int(k[9:]): v for k, v in state.items() if k.startswith("momentum/")},
            "start_iteration": start_iteration, "checkpoints": _unpack(state, n),
            "checkpoint_iterations": extra["checkpoint_iterations"], "iterations_per_budget": epochs * ipe}


def fge_recipe(profile: Profile | str | None = None, seed: int = 0, budget: float = 2, **overrides) -> dict:
    """Recipe of an FGE run of `budget` B in total: 0.8 B of the standard run, then FGE cycles."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    sizes = cyclic_sizes(p)
    recipe = {"method": "fge", "trajectory": trajectory_recipe(p, seed), "base": standard_recipe(p, seed),
              "budget": budget, "cycle": sizes["fge_cycle"], "lr_1": sizes["fge_lr_1"] * p.lr,
              "lr_2": sizes["fge_lr_2"] * p.lr}
    recipe.update(overrides)
    return recipe


def train_fge(recipe: dict, *, device=None, progress=None) -> SnapshotRun:
    """The cached FGE run of `recipe` (see `fge_recipe`); snapshot costs include the 0.8 B pre-training."""
    base = recipe["base"]
    traj = train_trajectory(recipe["trajectory"], device=device, progress=progress)
    per_budget = traj["iterations_per_budget"]
    start_iterations = traj["start_iteration"] + 1
    iterations = round(recipe["budget"] * per_budget) - start_iterations
    cycle = max(2, 2 * round(recipe["cycle"] * per_budget / 2))  # even, so mid-cycle is exactly lr_2

    def build():
        model = load_state(base, traj["start"]).to(device or default_device())
        opt = _sgd(model, recipe["lr_1"], base["weight_decay"])
        opt_state = opt.state_dict()
        opt_state["state"] = {i: {"momentum_buffer": b} for i, b in traj["start_momentum"].items()}
        col = run_fge(model, _base_loader(base, base["seed"] + 10_000), iterations=iterations,
                      cycle_iterations=cycle, lr_1=recipe["lr_1"], lr_2=recipe["lr_2"],
                      weight_decay=base["weight_decay"], optimizer_state=opt_state, seed=base["seed"] + 10_000,
                      progress=progress)
        return _pack(col.states), {"iterations": col.iterations, "lrs": col.lrs}

    state, extra = default_cache().get_or_create("fge", recipe, build)
    costs = [(start_iterations + i + 1) / per_budget for i in extra["iterations"]]
    return SnapshotRun(recipe, _unpack(state, len(extra["iterations"])), extra["iterations"], extra["lrs"], costs,
                       {"iterations_per_budget": per_budget, "start_iterations": start_iterations,
                        "cycle_iterations": cycle})
