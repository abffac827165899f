"""cSGLD at two temperatures: the reference code's cold T (``profile.csgld.temperature``) and a warmer one
(``profile.csgld.warm_temperature``, e.g. the Bayes posterior T = 1) at which the Langevin noise is large enough to
move the samples away from plain SGD.

The sampling stage adds noise of standard deviation sqrt(2 alpha T / N) per parameter (see `lsdl_ens.ensembles.csgld`):
at T = 1/50000, alpha = 0.02 and N = 10^4 that is below 1e-5, far under the step sizes' effect, so the cold sampler
behaves like a snapshot ensemble; at T = 1 it is sqrt(50000), about 220, times larger.

Reference: Zhang et al., "Cyclical Stochastic Gradient MCMC for Bayesian Deep Learning", ICLR 2020 (T = 1 is the
posterior; the reference code's default ``--temperature`` is 1/50000).
"""

from __future__ import annotations

import math

import torch

from .. import metrics
from ..data import profile_data
from ..profiles import Profile, get_profile
from ..recipes import load_state, standard_recipe
from ..train import predict_logits
from .csgld import csgld_recipe, train_csgld

__all__ = ["csgld_temperature_recipes", "csgld_temperatures"]


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
