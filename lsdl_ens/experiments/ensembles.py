"""Chapter 04 (deep ensembles, snapshot ensembles, FGE and cSGLD): every cached run the chapter reads, as data.

``runs(profile)`` lists them, parents first, for `lsdl-ens warm` and for tests: the deep-ensemble members (standard
runs of seeds 0 .. ensemble_size - 1), one standard run of 2B per claim seed (the budget conditions), and per claim
seed the standard run re-played with checkpoints (the parent of FGE), SSE and FGE of the largest budget of
``profile.cyclic.table_budgets`` (their snapshots within kB are the method at kB); cSGLD of 2B at the reference and
at the warm temperature. ``chapter_results(profile)`` measures everything the chapter shows from these runs and
``claims(results, profile)`` judges its claims.

The runs live in sibling modules, re-exported here so that other chapters (05 reuses SSE, FGE, cSGLD and the
deep-ensemble members) import them from this one place:

* ``ensembles_members``: `member_recipe`, `train_member`, `train_deep_ensemble`;
* ``ensembles_snapshots``: `SnapshotRun`, `sse_recipe`, `train_sse`, `trajectory_recipe`, `train_trajectory`,
  `fge_recipe`, `train_fge`;
* ``ensembles_csgld``: `csgld_recipe`, `train_csgld`, `csgld_temperature_recipes`, `csgld_temperatures`;
* ``ensembles_budget``: `ensemble_error`, `ind_errors`, `budget_errors`;
* ``ensembles_results``: `chapter_results`, `long_recipe`; ``ensembles_claims``: `claims`.
"""

from __future__ import annotations

from .. import recipes
from ..profiles import Profile
from .ensembles_budget import budget_errors, ensemble_error, ind_errors
from .ensembles_csgld import csgld_recipe, csgld_temperature_recipes, csgld_temperatures, train_csgld
from .ensembles_claims import claims
from .ensembles_members import member_recipe, train_deep_ensemble, train_member
from .ensembles_results import chapter_results, long_recipe
from .ensembles_snapshots import (SnapshotRun, fge_recipe, sse_recipe, train_fge, train_sse, train_trajectory,
                                  trajectory_recipe)
from .runs import CachedRun

__all__ = ["runs", "chapter_results", "claims", "long_recipe", "member_recipe", "train_member", "train_deep_ensemble",
           "SnapshotRun", "sse_recipe", "train_sse", "trajectory_recipe", "train_trajectory", "fge_recipe", "train_fge",
           "csgld_recipe", "train_csgld", "csgld_temperature_recipes", "csgld_temperatures", "ensemble_error",
           "ind_errors", "budget_errors"]


def runs(profile: Profile) -> list[CachedRun]:
    """Every cached run chapter 04 reads under `profile`, parents first (the standard run re-played with checkpoints
    before the FGE run that starts from it)."""
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a resolved Profile (lsdl_ens.profiles.get_profile(...)), got "
                        f"{type(profile).__name__}")
    top = max(profile.cyclic.table_budgets)
    seeds = range(profile.claim_seeds)
    out = [CachedRun("train", member_recipe(profile, i), recipes.train, label=f"deep-ensemble member {i}")
           for i in range(max(profile.ensemble_size, profile.claim_seeds))]
    out += [CachedRun("train", long_recipe(profile, s), recipes.train, label=f"standard run of 2B, seed {s}")
            for s in seeds]
    for s in seeds:
        out.append(CachedRun("trajectory", trajectory_recipe(profile, s), train_trajectory,
                             label=f"standard run with checkpoints, seed {s}"))
        out.append(CachedRun("sse", sse_recipe(profile, s, budget=top), train_sse, label=f"SSE {top}B, seed {s}"))
        out.append(CachedRun("fge", fge_recipe(profile, s, budget=top), train_fge, label=f"FGE {top}B, seed {s}"))
    for name, recipe in csgld_temperature_recipes(profile, 0, budget=2).items():
        out.append(CachedRun("csgld", recipe, train_csgld, label=f"cSGLD 2B, {name} temperature"))
    return out
