"""Cached snapshot runs of a profile, counted in training budgets: SSE, FGE and the standard run's trajectory.

A budget B is the profile's standard run (``profile.epochs`` epochs); a snapshot's ``cost`` is the number of B spent
when it was taken (FGE includes its 0.8 B pre-training), so "SSE at 1B" is the snapshots with cost <= 1 and compares
at equal cost with one standard network. The 1B snapshots are a prefix of the 2B run.

Sizes: the profile's ``cyclic`` section: SSE cycles per B and peak LR (2x the standard LR, as Huang et al.); FGE cycle
length as a fraction of B and lr_1, lr_2 as fractions of the standard LR (VGG16 of Garipov et al.: pre-training
0.05, lr_1 1e-2, lr_2 5e-4); checkpoints of the no-cycle (standard) run every `every_epochs` epochs.

Every run goes through the checkpoint cache (`lsdl_ens.cache`), keyed by its recipe. The training loops themselves
are in the method family, `lsdl_ens.ensembles.snapshots` (`run_sse`, `run_fge`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .. import checks
from ..cache import default_cache
from ..data import BatchLoader
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import build_from_recipe, load_state, standard_recipe, training_loader
from ..schedules import cosine_lr
from ..train import default_device, fit, make_optimizer
from ..ensembles.snapshots import SnapshotCollector, run_fge, run_sse

__all__ = ["SSERecipe", "TrajectoryRecipe", "FGERecipe", "SnapshotRun", "pack_states", "unpack_states",
           "cached_snapshot_run", "sse_recipe", "train_sse", "trajectory_recipe", "train_trajectory", "fge_recipe",
           "train_fge"]

# ----------------------------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class SSERecipe(TypedRecipe):
    """SSE on the standard run ``base`` for ``budget`` B: ``n_cycles`` cosine cycles in total, peak LR ``lr_max``."""

    base: Recipe
    budget: int
    n_cycles: int
    lr_max: float

    def __post_init__(self):
        self.check_base()
        checks.positive_int("budget", self.budget)
        checks.positive_int("n_cycles", self.n_cycles)
        checks.positive_float("lr_max", self.lr_max)


@dataclass(frozen=True)
class TrajectoryRecipe(TypedRecipe):
    """A re-run of the standard run ``base`` keeping the checkpoint at ``start_fraction`` of it (with momentum) and
    checkpoints every ``every_epochs`` epochs."""

    base: Recipe
    start_fraction: float
    every_epochs: int

    def __post_init__(self):
        self.check_base()
        checks.number("start_fraction", self.start_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        checks.positive_int("every_epochs", self.every_epochs)


@dataclass(frozen=True)
class FGERecipe(TypedRecipe):
    """FGE for ``budget`` B in total from the checkpoint of ``trajectory``: cycles of ``cycle`` B, LR between
    ``lr_1`` and ``lr_2``; ``base`` is the standard run (architecture, data, weight decay)."""

    trajectory: TrajectoryRecipe
    base: Recipe
    budget: float
    cycle: float
    lr_1: float
    lr_2: float

    def __post_init__(self):
        self.check_base()
        if not isinstance(self.trajectory, TrajectoryRecipe):
            raise TypeError(f"trajectory must be a TrajectoryRecipe, got {type(self.trajectory).__name__}")
        checks.number("budget", self.budget, low=0.8, low_open=True,
                      fix="the first 0.8 B are the standard run; pass e.g. 2")
        checks.positive_float("cycle", self.cycle)
        checks.positive_float("lr_1", self.lr_1)
        checks.positive_float("lr_2", self.lr_2)



# ----------------------------------------------------------------------------------------------- collector
@dataclass
class SnapshotRun:
    """Snapshots of one cached run: states in collection order, where they were taken and what they cost."""

    recipe: TypedRecipe
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
        """Networks holding the chosen snapshots (default all), in eval mode, on `device` (default
        `lsdl_ens.train.default_device`)."""
        base = self.recipe.base
        indices = range(len(self)) if indices is None else indices
        device = device or default_device()
        return [load_state(base, self.states[i]).to(device).eval() for i in indices]


def pack_states(states: list[dict], **tensors) -> dict:
    """One flat state dict holding `states` (keys ``"{index}/{name}"``) and extra `tensors`, for the cache."""
    packed = {f"{i}/{k}": v for i, s in enumerate(states) for k, v in s.items()}
    packed.update(tensors)
    return packed


def unpack_states(packed: dict, n: int) -> list[dict]:
    """The `n` states packed by `pack_states` (extra tensors are ignored)."""
    states = [dict() for _ in range(n)]
    for key, value in packed.items():
        head, _, name = key.partition("/")
        if head.isdigit():
            states[int(head)][name] = value
    return states


def sse_recipe(profile: Profile | str | None = None, seed: int = 0, budget: int = 2, **overrides) -> SSERecipe:
    """Recipe of an SSE run of `budget` B on the profile's standard setting (snapshots of 1B are its prefix)."""
    checks.positive_int("budget", budget, "pass the budget in units of the standard run, e.g. 2")
    p = get_profile(profile)
    sizes = p.cyclic
    recipe = SSERecipe(base=standard_recipe(p, seed), budget=budget, n_cycles=sizes.sse_cycles * budget,
                       lr_max=sizes.sse_lr_factor * p.lr)
    return recipe.replace(**overrides) if overrides else recipe


def cached_snapshot_run(kind: str, recipe: TypedRecipe, loader: BatchLoader, collect) -> SnapshotRun:
    """The cached run `kind` of `recipe`: on a miss `collect()` trains and returns its `SnapshotCollector`.

    For runs that start at iteration 0 of the standard recipe ``recipe.base`` with `loader`: a snapshot taken
    after iteration i costs (i + 1) / (iterations of one budget) B."""
    def build():
        col = collect()
        return pack_states(col.states), {"iterations": col.iterations, "lrs": col.lrs}

    state, extra = default_cache().get_or_create(kind, recipe, build)
    per_budget = recipe.base.epochs * len(loader)
    costs = [(i + 1) / per_budget for i in extra["iterations"]]
    return SnapshotRun(recipe, unpack_states(state, len(extra["iterations"])), extra["iterations"], extra["lrs"], costs,
                       {"iterations_per_budget": per_budget})


def train_sse(recipe: SSERecipe, *, device=None, progress=None) -> SnapshotRun:
    """The cached SSE run of `recipe` (see `sse_recipe`)."""
    base = recipe.base
    loader = training_loader(base, base.seed)

    def collect():
        model = build_from_recipe(base).to(device or default_device())
        return run_sse(model, loader, epochs=base.epochs * recipe.budget, n_cycles=recipe.n_cycles,
                       lr_max=recipe.lr_max, weight_decay=base.weight_decay, seed=base.seed,
                       progress=progress, precision=base.precision, channels_last=base.channels_last)

    return cached_snapshot_run("sse", recipe, loader, collect)


def trajectory_recipe(profile: Profile | str | None = None, seed: int = 0,
                      start_fraction: float = 0.8) -> TrajectoryRecipe:
    """Recipe of a re-run of the standard run keeping the checkpoint at `start_fraction` (with momentum) and
    checkpoints every few epochs (the no-cycle variant of Huang et al. Fig. 5)."""
    checks.number("start_fraction", start_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    p = get_profile(profile)
    return TrajectoryRecipe(base=standard_recipe(p, seed), start_fraction=start_fraction,
                            every_epochs=p.cyclic.every_epochs)


def train_trajectory(recipe: TrajectoryRecipe, *, device=None, progress=None) -> dict:
    """The cached trajectory: ``{"start": state, "start_momentum": {param index: buffer}, "start_iteration",
    "checkpoints": [states], "checkpoint_iterations", "iterations_per_budget"}``. The run repeats the standard
    recipe step for step (same init, data order, optimiser, cosine schedule), so its final state is the cached
    standard network of that seed."""
    base = recipe.base
    loader = training_loader(base, base.seed)
    ipe, epochs = len(loader), base.epochs
    start_iteration = round(recipe.start_fraction * epochs * ipe) - 1
    every = [e * ipe - 1 for e in range(recipe.every_epochs, epochs + 1, recipe.every_epochs)]

    def build():
        model = build_from_recipe(base).to(device or default_device())
        start = SnapshotCollector([start_iteration], optimizer_state=True)
        checkpoints = SnapshotCollector(every)
        fit(model, loader, epochs=epochs, optimizer=make_optimizer("sgd", model, base.lr, base.weight_decay),
            lr_schedule=lambda s: cosine_lr(s.epoch_float, epochs, base.lr), seed=base.seed,
            callbacks=[start, checkpoints], progress=progress, desc="standard run with checkpoints",
            precision=base.precision, channels_last=base.channels_last)
        momentum = {f"momentum/{i}": s["momentum_buffer"] for i, s in start.optimizer_states[0]["state"].items()}
        start_state = {f"start/{k}": v for k, v in start.states[0].items()}
        extra = {"checkpoint_iterations": checkpoints.iterations}
        return pack_states(checkpoints.states, **start_state, **momentum), extra

    state, extra = default_cache().get_or_create("trajectory", recipe, build)
    n = len(extra["checkpoint_iterations"])
    return {"start": {k[6:]: v for k, v in state.items() if k.startswith("start/")},
            "start_momentum": {int(k[9:]): v for k, v in state.items() if k.startswith("momentum/")},
            "start_iteration": start_iteration, "checkpoints": unpack_states(state, n),
            "checkpoint_iterations": extra["checkpoint_iterations"], "iterations_per_budget": epochs * ipe}


def fge_recipe(profile: Profile | str | None = None, seed: int = 0, budget: float = 2, **overrides) -> FGERecipe:
    """Recipe of an FGE run of `budget` B in total: 0.8 B of the standard run, then FGE cycles."""
    checks.number("budget", budget, low=0.8, low_open=True, fix="the first 0.8 B are the standard run; pass e.g. 2")
    p = get_profile(profile)
    sizes = p.cyclic
    recipe = FGERecipe(trajectory=trajectory_recipe(p, seed), base=standard_recipe(p, seed), budget=budget,
                       cycle=sizes.fge_cycle, lr_1=sizes.fge_lr_1 * p.lr, lr_2=sizes.fge_lr_2 * p.lr)
    return recipe.replace(**overrides) if overrides else recipe


def train_fge(recipe: FGERecipe, *, device=None, progress=None) -> SnapshotRun:
    """The cached FGE run of `recipe` (see `fge_recipe`); snapshot costs include the 0.8 B pre-training."""
    base = recipe.base
    traj = train_trajectory(recipe.trajectory, device=device, progress=progress)
    per_budget = traj["iterations_per_budget"]
    start_iterations = traj["start_iteration"] + 1
    iterations = round(recipe.budget * per_budget) - start_iterations
    cycle = max(2, 2 * round(recipe.cycle * per_budget / 2))  # even, so mid-cycle is exactly lr_2

    def build():
        model = load_state(base, traj["start"]).to(device or default_device())
        opt = make_optimizer("sgd", model, recipe.lr_1, base.weight_decay)
        opt_state = opt.state_dict()
        opt_state["state"] = {i: {"momentum_buffer": b} for i, b in traj["start_momentum"].items()}
        col = run_fge(model, training_loader(base, base.seed + 10_000), iterations=iterations,
                      cycle_iterations=cycle, lr_1=recipe.lr_1, lr_2=recipe.lr_2,
                      weight_decay=base.weight_decay, optimizer_state=opt_state, seed=base.seed + 10_000,
                      progress=progress, precision=base.precision, channels_last=base.channels_last)
        return pack_states(col.states), {"iterations": col.iterations, "lrs": col.lrs}

    state, extra = default_cache().get_or_create("fge", recipe, build)
    costs = [(start_iterations + i + 1) / per_budget for i in extra["iterations"]]
    return SnapshotRun(recipe, unpack_states(state, len(extra["iterations"])), extra["iterations"], extra["lrs"], costs,
                       {"iterations_per_budget": per_budget, "start_iterations": start_iterations,
                        "cycle_iterations": cycle})
