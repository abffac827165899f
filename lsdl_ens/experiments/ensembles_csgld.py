"""Cached cSGLD runs of a profile: the recipe, the cached sampler run, and the sampler at two temperatures.

`csgld_recipe` sizes a run from the profile's ``csgld`` section; `train_csgld` trains it through the checkpoint cache
(the sampler itself, `lsdl_ens.ensembles.csgld.run_csgld`, stays in the method family).

Two temperatures: the reference code's cold T (``profile.csgld.temperature``) and a warmer one
(``profile.csgld.warm_temperature``, e.g. the Bayes posterior T = 1) at which the Langevin noise is large enough to
move the samples away from plain SGD. The sampling stage adds noise of standard deviation sqrt(2 alpha T / N) per
parameter: at T = 1/50000, alpha = 0.02 and N = 10^4 that is below 1e-5, far under the step sizes' effect, so the
cold sampler behaves like a snapshot ensemble; at T = 1 it is sqrt(50000), about 220, times larger.

Reference: Zhang et al., "Cyclical Stochastic Gradient MCMC for Bayesian Deep Learning", ICLR 2020 (T = 1 is the
posterior; the reference code's default ``--temperature`` is 1/50000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import checks, metrics
from ..data import profile_data
from ..ensembles.csgld import run_csgld
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import build_from_recipe, load_state, standard_recipe, training_loader
from ..train import default_device, predict_logits
from .ensembles_snapshots import SnapshotRun, cached_snapshot_run

__all__ = ["CSGLDRecipe", "csgld_recipe", "train_csgld", "csgld_temperature_recipes", "csgld_temperatures"]


@dataclass(frozen=True)
class CSGLDRecipe(TypedRecipe):
    """cSGLD on the standard setting ``base`` for ``budget`` B: ``n_cycles`` cycles with step size ``lr_0`` at
    their start, Langevin noise for the fraction of each cycle at or above ``beta``, ``samples_per_cycle`` samples
    at its end, posterior ``temperature``."""

    base: Recipe
    budget: int
    n_cycles: int
    lr_0: float
    beta: float
    samples_per_cycle: int
    temperature: float

    def __post_init__(self):
        self.check_base()
        checks.positive_int("budget", self.budget, "pass the budget in units of the standard run, e.g. 1")
        checks.positive_int("n_cycles", self.n_cycles)
        checks.positive_float("lr_0", self.lr_0)
        checks.number("beta", self.beta, low=0.0, high=1.0)
        checks.positive_int("samples_per_cycle", self.samples_per_cycle)
        checks.positive_float("temperature", self.temperature)


def csgld_recipe(profile: Profile | str | None = None, seed: int = 0, budget: int = 1,
                 **overrides) -> CSGLDRecipe:
    """Recipe of a cSGLD run of `budget` B on the profile's standard setting (sizes: the profile's ``csgld``)."""
    checks.positive_int("budget", budget, "pass the budget in units of the standard run, e.g. 1")
    p = get_profile(profile)
    s = p.csgld
    recipe = CSGLDRecipe(base=standard_recipe(p, seed), budget=budget, n_cycles=s.cycles * budget,
                         lr_0=s.lr_factor * p.lr, beta=s.beta, samples_per_cycle=s.samples_per_cycle,
                         temperature=s.temperature)
    return recipe.replace(**overrides) if overrides else recipe


def train_csgld(recipe: CSGLDRecipe, *, device=None, progress=None) -> SnapshotRun:
    """The cached cSGLD run of `recipe`: its samples as a `SnapshotRun`."""
    base = recipe.base
    loader = training_loader(base, base.seed)

    def collect():
        model = build_from_recipe(base).to(device or default_device())
        col, _ = run_csgld(model, loader, epochs=base.epochs * recipe.budget, n_cycles=recipe.n_cycles,
                           lr_0=recipe.lr_0, beta=recipe.beta, samples_per_cycle=recipe.samples_per_cycle,
                           temperature=recipe.temperature, weight_decay=base.weight_decay, seed=base.seed,
                           progress=progress, precision=base.precision, channels_last=base.channels_last)
        return col

    return cached_snapshot_run("csgld", recipe, loader, collect)


def csgld_temperature_recipes(profile: Profile | str | None = None, seed: int = 0, budget: int = 1) -> dict:
    """``{"reference": recipe at profile.csgld.temperature, "warm": recipe at profile.csgld.warm_temperature}``, both
    of `budget` B (`csgld_recipe` with only the temperature changed)."""
    p = get_profile(profile)
    return {"reference": csgld_recipe(p, seed, budget),
            "warm": csgld_recipe(p, seed, budget, temperature=p.csgld.warm_temperature)}


def csgld_temperatures(profile: Profile | str | None = None, seed: int = 0, budget: int = 2) -> dict:
    """Train (or load) the cSGLD runs of `csgld_temperature_recipes` and score them on the profile's test split.

    Returns:
        ``{name: {"temperature", "noise_std" (sqrt(2 alpha T / N) at the first sample's step size), "samples",
        "sample_accuracy" [per sample, %], "accuracy" (%), "nll", "ece" (%) of the sample ensemble}}``.
    """
    p = get_profile(profile)
    train_set, _, test_set = profile_data(p)
    labels = torch.as_tensor(test_set.labels)
    template = standard_recipe(p, seed)
    out = {}
    for name, recipe in csgld_temperature_recipes(p, seed, budget).items():
        run = train_csgld(recipe)
        probs = torch.stack([predict_logits(load_state(template, s), test_set).softmax(-1) for s in run.states])
        ensemble = probs.mean(0)
        out[name] = {"temperature": float(recipe.temperature),
                     "noise_std": math.sqrt(2.0 * float(run.lrs[0]) * recipe.temperature / len(train_set)),
                     "samples": len(run),
                     "sample_accuracy": [100 * metrics.accuracy(q, labels) for q in probs],
                     "accuracy": 100 * metrics.accuracy(ensemble, labels), "nll": metrics.nll(ensemble, labels),
                     "ece": 100 * metrics.ece(ensemble, labels)}
    return out
