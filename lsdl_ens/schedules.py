"""Learning-rate schedules as pure functions of the iteration or (fractional) epoch.

Use them with `lsdl_ens.train.fit` through a lambda over `TrainStep`, e.g.
``lr_schedule=lambda s: sse_lr(s.iteration, s.total_iterations, n_cycles=5, lr_max=0.1)``; `fit` sets the LR
before every iteration, so per-iteration schedules are exact (no per-epoch staircase).
"""

from __future__ import annotations

import math

from . import checks

_LR_FIX = "pass a positive learning rate such as 0.05"


def cosine_lr(epoch: float, epochs: float, lr_max: float, lr_min: float = 0.0) -> float:
    """Cosine annealing from `lr_max` at epoch 0 to `lr_min` at `epochs`:
    lr = lr_min + (lr_max - lr_min) / 2 * (1 + cos(pi * epoch / epochs))."""
    if not epochs > 0:
        raise ValueError(f"epochs must be > 0 for a cosine schedule; got {epochs} (a 0-epoch recipe needs no "
                         "schedule: use schedule='constant')")
    epoch = checks.finite("epoch", epoch)
    epochs = checks.positive_float("epochs", epochs)
    lr_max = checks.nonneg_float("lr_max", lr_max, _LR_FIX)
    lr_min = checks.nonneg_float("lr_min", lr_min, "pass 0.0 (the default) or a small positive final rate")
    t = min(max(epoch / epochs, 0.0), 1.0)
    return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + math.cos(math.pi * t))


def sse_lr(iteration: int, total_iterations: int, n_cycles: int, lr_max: float) -> float:
    """Snapshot-ensemble cosine restarts (Huang et al. 2017, Eq. 2; gaohuang/SnapshotEnsemble: train.lua).

    With c = total_iterations / n_cycles: lr = lr_max / 2 * (1 + cos(pi * (iteration mod c) / c)). lr_max at each
    cycle's first iteration (iteration counted from 0), approaching 0 at its end, where the snapshot is taken.
    Deviation: c may be fractional (the Lua code rounds cycles to whole epochs and stretches the last one).
    """
    iteration = checks.nonneg_int("iteration", iteration)
    n_cycles = checks.positive_int("n_cycles", n_cycles, "pass the number of snapshots, e.g. 5")
    total_iterations = checks.integer("total_iterations", total_iterations, minimum=n_cycles,
                                      fix="each cycle needs at least one iteration")
    lr_max = checks.nonneg_float("lr_max", lr_max, _LR_FIX)
    c = total_iterations / n_cycles
    return lr_max / 2 * (1 + math.cos(math.pi * math.fmod(iteration, c) / c))


def fge_lr(iteration: int, cycle_iterations: int, lr_1: float, lr_2: float) -> float:
    """Fast Geometric Ensembling triangular cycle (Garipov et al. 2018, Eq. 3; dnn-mode-connectivity: utils.py).

    With t = (iteration mod c) / c: lr = (1 - 2t) lr_1 + 2t lr_2 for t < 1/2, else (2t - 1) lr_1 + (2 - 2t) lr_2.
    So lr_1 at a cycle's start, lr_2 at mid-cycle, where snapshots are taken. ``cycle_iterations`` may be
    fractional (>= 2), as SSE's cycle length; ``iteration`` is a whole number >= 0.
    """
    iteration = checks.nonneg_int("iteration", iteration)
    cycle_iterations = checks.number("cycle_iterations", cycle_iterations, low=2.0,
                                     fix="a cycle needs a start and a middle")
    lr_1 = checks.nonneg_float("lr_1", lr_1, _LR_FIX)
    lr_2 = checks.nonneg_float("lr_2", lr_2, "pass a small positive learning rate such as 0.0005")
    t = (iteration % cycle_iterations) / cycle_iterations
    if t < 0.5:
        return (1 - 2 * t) * lr_1 + 2 * t * lr_2
    return (2 * t - 1) * lr_1 + (2 - 2 * t) * lr_2


def swa_lr(epoch: float, lr_init: float, swa_lr: float, swa_start: float) -> float:
    """SWA schedule of Izmailov et al. 2018 (timgaripov/swa: train.py, `schedule`).

    With t = epoch / swa_start and r = swa_lr / lr_init: lr_init for t <= 0.5, then linear to swa_lr by
    t = 0.9, then constant swa_lr (also after swa_start, while the average is collected).
    """
    epoch = checks.nonneg_float("epoch", epoch)
    lr_init = checks.positive_float("lr_init", lr_init, _LR_FIX)
    swa_lr = checks.nonneg_float("swa_lr", swa_lr, "pass the constant SWA learning rate, e.g. 0.01")
    swa_start = checks.positive_float("swa_start", swa_start, "pass the epoch at which averaging starts (> 0); "
                                      "for averaging from the start use a constant schedule")
    t = epoch / swa_start
    r = swa_lr / lr_init
    if t <= 0.5:
        factor = 1.0
    elif t <= 0.9:
        factor = 1.0 - (1.0 - r) * (t - 0.5) / 0.4
    else:
        factor = r
    return lr_init * factor


def make_schedule(name: str, *, epochs: int, lr: float, **kw):
    """A `TrainStep -> lr` function for a named schedule: "constant", "cosine", "swa" (kw: swa_lr, swa_start),
    "sse" (kw: n_cycles), "fge" (kw: cycle_epochs, lr_2). Used by recipes, which must be JSON-able.

    Every argument is checked here, when the schedule is made, so a missing or bad keyword fails before training
    (not at the first step). Unknown keywords raise ``TypeError``. ``lr=0`` is accepted (a frozen run).
    """
    schedule_kw = {"constant": (), "cosine": ("lr_min",), "swa": ("swa_lr", "swa_start"), "sse": ("n_cycles",),
                   "fge": ("cycle_epochs", "lr_2")}
    if not isinstance(name, str) or name not in schedule_kw:
        raise ValueError(f"unknown schedule {name!r}; valid: constant, cosine, swa, sse, fge")
    epochs = checks.nonneg_int("epochs", epochs)
    lr = checks.nonneg_float("lr", lr, _LR_FIX)
    unknown = sorted(set(kw) - set(schedule_kw[name]))
    if unknown:
        raise TypeError(f"schedule {name!r} takes no keyword argument(s) {unknown}; it takes "
                        f"{list(schedule_kw[name]) or 'none besides epochs and lr'}")
    required = [k for k in schedule_kw[name] if k != "lr_min" and k not in kw]
    if required:
        raise ValueError(f"schedule {name!r} needs {required[0]}=...; e.g. make_schedule({name!r}, epochs=..., "
                         f"lr=..., {', '.join(f'{k}=...' for k in schedule_kw[name])})")
    if name == "cosine":
        checks.positive_int("epochs", epochs, "a 0-epoch recipe needs no schedule: use schedule='constant'")
        checks.nonneg_float("lr_min", kw.get("lr_min", 0.0))
    if name == "swa":
        swa_lr(0.0, lr, kw["swa_lr"], kw["swa_start"])
    if name == "sse":
        checks.positive_int("n_cycles", kw["n_cycles"], "pass the number of snapshots, e.g. 5")
    if name == "fge":
        checks.positive_float("cycle_epochs", kw["cycle_epochs"], "pass the cycle length in epochs, e.g. 2")
        checks.nonneg_float("lr_2", kw["lr_2"], "pass a small positive learning rate such as 0.0005")
    if name == "constant":
        return lambda s: lr
    if name == "cosine":
        return lambda s: cosine_lr(s.epoch_float, epochs, lr, kw.get("lr_min", 0.0))
    if name == "swa":
        return lambda s: swa_lr(s.epoch_float, lr, kw["swa_lr"], kw["swa_start"])
    if name == "sse":
        return lambda s: sse_lr(s.iteration, s.total_iterations, kw["n_cycles"], lr)
    if name == "fge":
        return lambda s: fge_lr(s.iteration, kw["cycle_epochs"] * s.iterations_per_epoch, lr, kw["lr_2"])
    raise ValueError(f"unknown schedule {name!r}; valid: constant, cosine, swa, sse, fge")
