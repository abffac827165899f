"""Chapter 06 (transfer ensembles): every cached run the chapter reads (`runs`), and what the chapter computes from
them (`results`, in `transfer_results`).

The chapter imports this module as ``T``: it re-exports the cached runs of `transfer_members` (recipes, members,
predictions) and `transfer_eval` (grid, corruptions, paths, planes) and the algorithms of `lsdl_ens.transfer` it
calls (`ensemble_curve`, `member_diversity`, `select_settings`, ...).

Which cells of the SSE / StarSSE grid the chapter studies further (paths, planes, predictions under corruption)
depends on their *validation* scores, so those evaluations cannot be listed before the grid is trained. `runs` lists
everything that does not depend on the scores, parents first, and ends with one selection run (`train_selection`):
it scores the grid (reading, or training on a miss, the grid's predictions), chooses the cells as the chapter does
(`chosen_settings`) and builds every evaluation of the chosen cells; its cache entry (kind "transfer_selection")
holds the choice. The selection also builds the chapter's replicates (`transfer_replicates`: every compared
method again with new seeds, at the chosen cells), whose pre-trainings and fine-tunings `runs` lists before it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..cache import default_cache
from ..profiles import Profile, get_profile
from ..recipes import train
from ..transfer import (CycleMemberRecipe, backbone_of, ensemble_curve, grid_corners, member_diversity, ood_accuracy,
                        pretrain_cost, select_settings, soup_recipe)
from .runs import CachedRun
from .transfer_eval import (SEVERITIES, barrier_of, consecutive_paths, member_path, member_plane, ood_key, ood_labels,
                            ood_probs, ood_sets, path_key, plane_key, run_grid, run_soup_grid)
from .transfer_members import (global_de_recipes, grid_settings, labels, load_member, local_de_recipes,
                               member_histories, member_probs, method_recipes, probs_key, stack_probs,
                               train_cycle_member, transfer_finetune_recipe)
from .transfer_claims import claims
from .transfer_replicates import replicate_measures, replicate_recipes
from .transfer_results import results

__all__ = [
    "runs", "results", "claims", "EvalJob", "train_probs", "train_ood", "train_path", "train_plane", "train_selection",
    "selection_key", "chosen_settings", "METHODS", "probs_key", "ood_key", "path_key", "plane_key",
    # cached runs and evaluations
    "transfer_finetune_recipe", "local_de_recipes", "global_de_recipes", "grid_settings", "method_recipes",
    "train_cycle_member", "load_member", "member_histories", "member_probs", "labels", "stack_probs",
    "run_grid", "run_soup_grid", "SEVERITIES", "ood_sets", "ood_labels", "ood_probs", "barrier_of",
    "member_path", "consecutive_paths", "member_plane", "replicate_recipes", "replicate_measures",
    # algorithms of lsdl_ens.transfer the chapter calls
    "ensemble_curve", "member_diversity", "ood_accuracy", "pretrain_cost", "select_settings", "soup_recipe",
]

METHODS = ("sse", "starsse")


@dataclass(frozen=True)
class EvalJob:
    """What an evaluation run is called with: its ``target`` (a member or soup recipe; a pair of members for a path;
    three members for a plane; None for the selection) and the resolved profile."""

    target: object
    profile: Profile


def train_probs(job: EvalJob) -> dict:
    """`member_probs` of ``job.target`` (trains the member on a miss)."""
    return member_probs(job.target, job.profile)


def train_ood(job: EvalJob):
    """`ood_probs` of ``job.target``."""
    return ood_probs(job.target, job.profile)


def train_path(job: EvalJob) -> dict:
    """`member_path` between the two members of ``job.target``."""
    return member_path(*job.target, job.profile)


def train_plane(job: EvalJob) -> dict:
    """`member_plane` through the three members of ``job.target``."""
    return member_plane(list(job.target), job.profile)


def chosen_settings(p: Profile) -> dict:
    """``{"ensemble": {method: select_settings(run_grid(...))}, "soup": {method: the best validation soup cell}}``
    (trains the grid on a miss)."""
    return {"ensemble": {m: select_settings(run_grid(m, p)) for m in METHODS},
            "soup": {m: select_settings(run_soup_grid(m, p))["optimal"] for m in METHODS}}


def selection_key(p: Profile) -> dict:
    """The cache key of `train_selection` (kind "transfer_selection"): everything the grid's scores and the
    evaluations of the chosen cells depend on."""
    return {"selection": "transfer", "profile": p.name, "transfer": dataclasses.asdict(p.transfer),
            "ensemble_size": p.ensemble_size, "first": transfer_finetune_recipe(p),
            "eval": probs_key(None, p)["eval"], "replicates": p.claim_seeds}


def _selected_evaluations(p: Profile, chosen: dict) -> None:
    best = {m: method_recipes(m, p, chosen["ensemble"][m]["optimal"]) for m in METHODS}
    consecutive_paths(best["sse"], p)
    for m in METHODS:
        member_plane(method_recipes(m, p, chosen["ensemble"][m]["optimal"], n_members=3), p)
        for r in best[m]:
            ood_probs(r, p)
        ood_probs(soup_recipe(method_recipes(m, p, chosen["soup"][m])), p)
    for replicate in range(p.claim_seeds):
        replicate_measures(p, chosen, replicate)


def train_selection(job: EvalJob) -> dict:
    """The chapter's choice of grid cells (`chosen_settings`), after building every evaluation of the chosen cells
    (the optimal SSE chain's paths, the planes through the first three members of optimal SSE and StarSSE,
    predictions under corruption of their members and of the best validation soups, and every replicate's runs at
    the chosen cells, `replicate_measures`). Cached (kind
    "transfer_selection"); returns the choice with cells as (lr_mult, epoch_mult) tuples."""
    p = job.profile
    cache = default_cache()

    def build():
        chosen = chosen_settings(p)
        _selected_evaluations(p, chosen)
        plain = {"ensemble": {m: {k: list(v) for k, v in c.items()} for m, c in chosen["ensemble"].items()},
                 "soup": {m: list(v) for m, v in chosen["soup"].items()}}
        return {"done": torch.ones(1)}, plain

    _, extra = cache.get_or_create("transfer_selection", selection_key(p), build)
    return {"ensemble": {m: {k: tuple(v) for k, v in c.items()} for m, c in extra["ensemble"].items()},
            "soup": {m: tuple(v) for m, v in extra["soup"].items()}}


def _unique(recipes) -> list:
    """`recipes` without repeats (recipes hold dicts, so they are compared by their cache key), in order."""
    seen, out = set(), []
    for r in recipes:
        if r.key() not in seen:
            seen.add(r.key())
            out.append(r)
    return out


def runs(profile: Profile | str | None = None) -> list[CachedRun]:
    """Every cached run chapter 06 reads under `profile`, parents first (see the module doc)."""
    p = get_profile(profile)
    local, glob = method_recipes("local_de", p), method_recipes("global_de", p)
    grid = {(m, cell): method_recipes(m, p, cell) for m in METHODS for cell in grid_settings(p)}
    out: list[CachedRun] = []
    fine = _unique(local + glob)
    repeats = _unique(r for rep in range(1, p.claim_seeds) for method in ("local_de", "global_de")
                      for r in method_recipes(method, p, replicate=rep))
    out += [CachedRun("train", b, train, label=f"pre-training seed {b.seed}")
            for b in _unique(backbone_of(r) for r in fine + repeats)]
    out += [CachedRun("train", r, train, label=f"fine-tuning of backbone {backbone_of(r).seed}, seed {r.seed}")
            for r in _unique(fine + repeats)]
    for (m, cell), members in grid.items():
        out += [CachedRun("transfer_cycle", r, train_cycle_member, label=f"{m} {cell} member {r.cycle.index + 1}")
                for r in members if isinstance(r, CycleMemberRecipe)]

    def probs_run(target, label):
        return CachedRun("transfer_probs", EvalJob(target, p), train_probs, key=probs_key(target, p), label=label)

    def ood_run(target, label):
        return CachedRun("transfer_ood", EvalJob(target, p), train_ood, key=ood_key(target, p), label=label)

    members = _unique(fine + [r for rs in grid.values() for r in rs])
    out += [probs_run(r, "member predictions") for r in members]
    soups = [soup_recipe(rs) for rs in grid.values()] + [soup_recipe(local), soup_recipe(glob)]
    out += [probs_run(s, "soup predictions") for s in soups]
    out += [ood_run(r, "member under corruption") for r in fine]
    out.append(ood_run(soup_recipe(local), "soup under corruption"))
    for name, cell in grid_corners(grid_settings(p)).items():
        chain = grid[("sse", cell)]
        out += [CachedRun("transfer_path", EvalJob((a, b), p), train_path, key=path_key(a, b, p),
                          label=f"SSE {name} path") for a, b in zip(chain[:-1], chain[1:])]
    out.append(CachedRun("transfer_selection", EvalJob(None, p), train_selection, key=selection_key(p),
                         label="chosen cells and their evaluations"))
    return out

