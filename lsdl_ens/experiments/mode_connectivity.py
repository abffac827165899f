"""The cached runs of the mode-connectivity chapter (book/02_mode_connectivity.ipynb), in one namespace.

| what | module |
|---|---|
| evaluation protocol, cached linear paths (`landscape_data`, `PathRun`, `pair_path`) | `mode_connectivity_protocol` |
| trained curves, their evaluation, the segment, planes (`curve_recipe`, `plane_results`) | `mode_connectivity_curves` |
| the mode-connecting triangle (`mode_simplex_grid`) | `mode_connectivity_simplex` |
| spawning (`spawn_experiment`) | `mode_connectivity_spawning` |
| transfer: P, P-T, RI-T, paths, similarity, domains (`transfer_lmc`) | `mode_connectivity_transfer` |
| the chapter's claims measured over seeds (`claim_measures`, `claims`) | `mode_connectivity_claims` |

`runs(profile)` lists every cached run the chapter reads (what `lsdl-ens warm` trains ahead of time), parents first.
"""

from __future__ import annotations

from ..profiles import Profile, get_profile
from ..recipes import standard_recipe, train
from .mode_connectivity_claims import PAPER, STABLE, claim_measures, claim_pairs, claims
from .mode_connectivity_curves import (CurveEvaluation, CurveRecipe, PlaneRun, compute_plane, curve_recipe,
                                       curve_results, evaluate_trained_curve, plane_results, segment_results,
                                       segment_run, trained_curve)
from .mode_connectivity_protocol import PathRun, landscape_data, pair_path, path_results, protocol_key
from .mode_connectivity_simplex import (ModeSimplexGrid, ModeSimplexRecipe, evaluate_mode_simplex,
                                        mode_simplex_grid, mode_simplex_recipe, train_mode_simplex)
from .mode_connectivity_spawning import (SpawnChildRecipe, SpawnParentRecipe, SpawnPathRun, spawn_child,
                                         spawn_experiment, spawn_parent, spawn_path, spawn_recipes)
from .mode_connectivity_transfer import (PAIRS, TRANSFER_KINDS, DomainModelRun, domain_feature_distances,
                                         domain_model, domain_runs, similarity_tables, transfer_lmc,
                                         transfer_models, transfer_recipes, transfer_runs)
from .runs import CachedRun

__all__ = [
    "runs",
    # protocol and paths
    "landscape_data", "protocol_key", "PathRun", "path_results", "pair_path",
    # curves, segment, planes
    "CurveRecipe", "curve_recipe", "trained_curve", "CurveEvaluation", "evaluate_trained_curve", "curve_results",
    "segment_run", "segment_results", "PlaneRun", "compute_plane", "plane_results",
    # the mode-connecting triangle
    "ModeSimplexRecipe", "mode_simplex_recipe", "train_mode_simplex", "ModeSimplexGrid", "evaluate_mode_simplex",
    "mode_simplex_grid",
    # spawning
    "SpawnParentRecipe", "SpawnChildRecipe", "SpawnPathRun", "spawn_parent", "spawn_child", "spawn_path",
    "spawn_recipes", "spawn_experiment",
    # transfer
    "PAIRS", "TRANSFER_KINDS", "transfer_recipes", "transfer_models", "transfer_runs", "transfer_lmc",
    "similarity_tables", "DomainModelRun", "domain_model", "domain_runs", "domain_feature_distances",
    # claims
    "STABLE", "PAPER", "claim_pairs", "claim_measures", "claims",
]


def _standard(p: Profile, seeds) -> list[CachedRun]:
    return [CachedRun("train", standard_recipe(p, s), train, label=f"standard seed {s}") for s in seeds]


def _paths(runs_: list) -> list[CachedRun]:
    return [CachedRun("landscape_path", run, path_results, key=run.key()) for run in runs_]


def runs(profile: Profile | str | None = None) -> list[CachedRun]:
    """Every cached run the chapter reads under `profile`, parents first: standard networks, curves and their
    evaluations, planes, the mode-connecting triangle, spawning parents, children and paths, the transfer networks
    and their paths, the networks of the corrupted target domains."""
    p = get_profile(profile)
    sizes = p.landscape
    pairs = claim_pairs(p)
    seeds = sorted({0, 1, 2} | {s for pair in pairs for s in pair} | set(range(p.claim_seeds + 1)))
    out = _standard(p, seeds)
    # curves: the Bezier curve of every claim pair, the polygonal chain of the first
    curves = [curve_recipe(p, "bezier", seeds=pair) for pair in pairs] + [curve_recipe(p, "polychain")]
    out += [CachedRun("curve", c, trained_curve, label=f"{c.kind} curve {c.start.seed}-{c.end.seed}") for c in curves]
    evaluations = [CurveEvaluation(p, c, sizes.n_curve_points) for c in curves]
    out += [CachedRun("curve_eval", e, evaluate_trained_curve, key=e.key()) for e in evaluations]
    out += _paths([segment_run(p, pair) for pair in pairs])
    planes = [PlaneRun(p, third, sizes.plane_grid) for third in ("seed2", "bezier")]
    out += [CachedRun("plane", plane, compute_plane, key=plane.key(), label=f"plane {plane.third}")
            for plane in planes]
    simplex = mode_simplex_recipe(p)
    grid = ModeSimplexGrid(p, simplex, sizes.simplex_grid)
    out += [CachedRun("mode_simplex", simplex, train_mode_simplex, label="mode-connecting triangle"),
            CachedRun("mode_simplex_grid", grid, evaluate_mode_simplex, key=grid.key())]
    # spawning: one parent per claim seed, its children, their paths and the independent pair beside it
    for seed in range(p.claim_seeds):
        children = spawn_recipes(p, seed=seed)
        out.append(CachedRun("spawn_parent", children[0].parent, spawn_parent, label=f"spawn parent {seed}"))
        out += [CachedRun("spawn_child", c, spawn_child, label=f"child {seed} at {c.k}") for c in children]
        spawn_paths = [SpawnPathRun(p, c, sizes.n_spawn_alphas) for c in children]
        out += [CachedRun("landscape_path", run, spawn_path, key=run.key()) for run in spawn_paths]
        out += _paths([segment_run(p, (seed, seed + 1), sizes.n_spawn_alphas)])
    # transfer: the pre-trained network, P-T and RI-T of every claim pair, their paths, the corrupted domains
    transfer_seeds = [s for pair in pairs for s in pair]
    recipes = transfer_recipes(p, transfer_seeds)
    out.append(CachedRun("train", recipes["P"], train, label="pre-trained P"))
    out += [CachedRun("train", r, train, label=f"{kind} seed {r.seed}") for kind in TRANSFER_KINDS
            for r in recipes[kind]]
    out += _paths([run for pair in pairs for run in transfer_runs(p, pair).values()])
    for domain in sizes.domains:
        out += [CachedRun("domain_model", run, domain_model, key=run.key(), label=f"{run.kind} on {domain}")
                for run in domain_runs(p, domain)]
    return out
