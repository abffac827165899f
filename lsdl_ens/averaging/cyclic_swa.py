"""SWA with a cyclical learning rate, and the plane through three SWA iterates with their average on it.

Cyclical schedule (Izmailov et al. 2018, eq. 2): within each cycle of ``c`` iterations
alpha(i) = (1 - t(i)) alpha_1 + t(i) alpha_2 with t(i) = (mod(i - 1, c) + 1) / c, so the rate falls linearly from
alpha_1 to alpha_2 and the iterate is averaged at the end of each cycle, where the rate is alpha_2. Before the first
cycle the rate follows `lsdl_ens.schedules.swa_lr` (constant, then a linear ramp) down to alpha_1.

The SWA talk's picture: on the plane through three iterates, the iterates of SGD with
a constant or a cyclical rate stay near the border of the low-error region and their average lies inside it.
`iterate_plane` computes that plane for the constant-rate run of `swa_recipe` or the cyclical run of
`cyclic_swa_recipe`.

References:
    Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018, eq. 2,
    Fig. 2, https://arxiv.org/abs/1803.05407; timgaripov/swa@411b2fc: train.py (averaging at epoch ends).

Deliberate deviation: one cycle is one epoch (the reference averages at epoch ends; the paper's cycle lengths are
in iterations), and the plane is spanned by the first, the middle and the last averaged iterate.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import checks
from ..cache import default_cache
from ..data import BatchLoader, balanced_subset
from ..landscape import plane_basis, plane_grid, project
from ..landscape.points import evaluate_point, replayable
from ..profiles import Profile, get_profile
from ..recipes import augmentation_kwargs, build_from_recipe, load_state, profile_data, training_set
from ..schedules import swa_lr
from ..state import parameter_keys
from ..train import TrainStep, default_device, fit
from .swa import SWACollector, swa_recipe, train_swa

__all__ = ["cyclic_swa_lr", "cyclic_swa_recipe", "train_cyclic_swa", "iterate_plane"]


def cyclic_swa_lr(step: TrainStep, lr_init: float, lr_1: float, lr_2: float, swa_start: int) -> float:
    """The cyclical SWA rate at ``step``: one cycle per epoch from epoch ``swa_start`` (1-based, the first averaged
    epoch) on, falling linearly from ``lr_1`` to ``lr_2`` (reached at the epoch's last iteration); before it,
    ``swa_lr(epoch, lr_init, lr_1, swa_start - 1)`` (``lr_1`` throughout when ``swa_start`` is 1)."""
    first = swa_start - 1  # 0-based epoch of the first cycle
    if step.epoch < first:
        return swa_lr(step.epoch_float, lr_init, lr_1, first)
    t = (step.batch + 1) / step.iterations_per_epoch
    return (1 - t) * lr_1 + t * lr_2


def cyclic_swa_recipe(profile: Profile | str | None = None, seed: int = 0, *, budget: float = 1.5) -> dict:
    """The recipe of a cyclical-LR SWA run: the standard recipe of `swa_recipe` (``budget`` x the profile's epochs),
    alpha_1 = ``profile.swa.cyclic_lr``, alpha_2 = ``profile.swa.swa_lr``, averaging from ``profile.swa.swa_start``."""
    p = get_profile(profile)
    return {"method": "swa_cyclic", "base": swa_recipe(p, seed, budget=budget), "lr_1": p.swa.cyclic_lr,
            "lr_2": p.swa.swa_lr, "swa_start": p.swa.swa_start}


def train_cyclic_swa(recipe: dict, *, device=None, progress: bool | None = None) -> tuple[dict, dict]:
    """Train (or load from the cache) a `cyclic_swa_recipe` run.

    Returns:
        (states, info): ``states`` maps ``"average"`` (averaged parameters, buffers of the last iterate: recompute
        BN) and ``"iterate@E"`` (each averaged iterate, E the 1-based epoch) to state dicts; ``info["swa_epochs"]``.
    """
    base = recipe["base"]
    device = torch.device(device) if device is not None else default_device()
    checks.positive_int("recipe['swa_start']", recipe["swa_start"])
    if recipe["swa_start"] > base["epochs"]:
        raise ValueError(f"swa_start ({recipe['swa_start']}) is after the run's last epoch ({base['epochs']}); "
                         "lower the profile's swa.swa_start or raise the budget")

    def build():
        model = build_from_recipe(base).to(device)
        data = training_set(base["data"])
        loader = BatchLoader(data, base["batch_size"], shuffle=True, **augmentation_kwargs(base["augment"]),
                             drop_last=len(data) > base["batch_size"], seed=base["seed"])
        collector = SWACollector(recipe["swa_start"], keep_iterates=True)
        fit(model, loader, epochs=base["epochs"], optimizer=base["optimizer"],
            lr_schedule=lambda s: cyclic_swa_lr(s, base["lr"], recipe["lr_1"], recipe["lr_2"], recipe["swa_start"]),
            weight_decay=base["weight_decay"], seed=base["seed"], label_smoothing=base["label_smoothing"],
            callbacks=[collector], device=device, progress=progress, desc=f"cyclic SWA seed {base['seed']}")
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


def _run_states(p: Profile, schedule: str, seed: int) -> tuple[dict, list, dict]:
    """(average state, [iterate states], template recipe) of the constant- or cyclical-rate SWA run."""
    if schedule == "constant":
        recipe = swa_recipe(p, seed, budget=1.5)
        states, info = train_swa(recipe, report_epochs=(p.epochs,))
        return states[f"swa@{recipe['epochs']}"], [states[f"iterate@{e}"] for e in info["swa_epochs"]], recipe
    recipe = cyclic_swa_recipe(p, seed)
    states, info = train_cyclic_swa(recipe)
    return states["average"], [states[f"iterate@{e}"] for e in info["swa_epochs"]], recipe["base"]


def iterate_plane(profile: Profile | str | None = None, schedule: str = "constant", seed: int = 0) -> dict:
    """Test error on the plane through the first, middle and last averaged iterate of an SWA run, cached.

    BN statistics are recomputed at every grid point and for every marked network (the profile's ``n_bn_batches``
    augmented training batches); errors are on ``profile.averaging.n_eval`` test images, the grid has
    ``profile.averaging.grid`` points per axis.

    Args:
        schedule: ``"constant"`` (the run of ``swa_recipe(profile, seed, budget=1.5)``, as chapter 03 trains it) or
            ``"cyclical"`` (``cyclic_swa_recipe``).

    Returns:
        the `plane_grid` result (``xs``, ``ys``, ``loss``, ``error`` [G, G], ``points`` [3, 2]) plus ``iterates_xy``
        [n, 2] (every averaged iterate projected), ``average_xy`` [2], ``iterate_error`` [n] and ``average_error``
        (each network's test error at its own weights, not at its projection).
    """
    if schedule not in ("constant", "cyclical"):
        raise ValueError(f"schedule must be 'constant' or 'cyclical'; got {schedule!r}")
    p = get_profile(profile)
    sizes = p.averaging
    run = swa_recipe(p, seed, budget=1.5) if schedule == "constant" else cyclic_swa_recipe(p, seed)
    key = {"run": run, "schedule": schedule, "grid": sizes.grid, "n_eval": sizes.n_eval,
           "n_bn_batches": p.n_bn_batches}

    def build():
        average, iterates, template_recipe = _run_states(p, schedule, seed)
        if len(iterates) < 3:
            raise ValueError(f"the {schedule} run averaged {len(iterates)} iterates; a plane needs 3: lower the "
                             "profile's swa.swa_start")
        train_set, _, test_set = profile_data(p)
        eval_set = balanced_subset(test_set, min(sizes.n_eval, len(test_set)), seed=5)
        device = default_device()
        bn = list(BatchLoader(train_set, p.batch_size, shuffle=True, augment=True, seed=11).iterate(epoch=0))
        bn = bn[:p.n_bn_batches or None]
        template = load_state(template_recipe, iterates[0]).to(device)
        corners = (iterates[0], iterates[len(iterates) // 2], iterates[-1])
        basis = plane_basis(*corners, keys=parameter_keys(template))
        out = plane_grid(template, basis, eval_set, bn_data=bn, grid=sizes.grid, margin=0.3)
        eval_batches, bn_batches = replayable(eval_set, "eval_set"), replayable(bn, "bn", batch_size=128)

        def error(state) -> float:
            return evaluate_point(template, state, eval_batches, bn_batches=bn_batches, train_batches=None,
                                  device=device)["error"]

        out.update(iterates_xy=np.array([project(s, basis) for s in iterates]),
                   average_xy=np.array(project(average, basis)),
                   iterate_error=np.array([error(s) for s in iterates]), average_error=error(average))
        return {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in out.items()}, {}

    state, _ = default_cache().get_or_create("iterate_plane", key, build)
    return {k: v.numpy() for k, v in state.items()}
