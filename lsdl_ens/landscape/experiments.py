"""Cached experiment drivers of the mode-connectivity chapter: curves between two standard models, planes, spawning
(linear mode connectivity vs the spawn epoch) and transfer learning (fine-tuned vs randomly initialised pairs).

The shared evaluation protocol and the cached linear path between two models are in `protocol.py` (sizes: the
profile's ``landscape`` section); the spawning experiment is in `spawning.py`. Both are re-exported here, so the
chapter imports one module.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import checks
from ..cache import default_cache
from ..data import balanced_subset, profile_transfer, training_set
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import finetune_recipe, pretrain_recipe, standard_recipe, train
from ..state import parameter_keys
from .curves import CurveModel, evaluate_curve, train_curve
from .plane import plane_basis, plane_grid, project
from .protocol import cached_arrays, landscape_data, pair_path, protocol_key
from .similarity import stage_similarity
from .spawning import spawn_experiment

__all__ = [
    "landscape_data", "CurveRecipe", "curve_recipe", "trained_curve", "curve_results",
    "segment_results", "plane_results", "spawn_experiment", "transfer_models", "transfer_lmc",
    "similarity_tables",
]


# ----------------------------------------------------------------------------------------------- curves
@dataclass(frozen=True)
class CurveRecipe(TypedRecipe):
    """A trained curve (``kind`` "bezier" or "polychain" with ``n_bends`` bends) between the networks of the
    recipes ``start`` and ``end``: epochs, peak LR, weight decay on w(t), batch size, seed; ``profile`` names the
    profile it was made for."""

    profile: str
    start: Recipe
    end: Recipe
    kind: str
    n_bends: int
    epochs: int
    lr: float
    weight_decay: float
    batch_size: int
    seed: int

    def __post_init__(self):
        if not isinstance(self.start, Recipe) or not isinstance(self.end, Recipe):
            raise TypeError("start and end must be Recipes (standard_recipe(profile, seed))")
        if self.kind not in ("bezier", "polychain"):
            raise ValueError(f"kind must be 'bezier' or 'polychain'; got {self.kind!r}")
        checks.positive_int("n_bends", self.n_bends)
        checks.nonneg_int("epochs", self.epochs)
        checks.positive_float("lr", self.lr)
        checks.nonneg_float("weight_decay", self.weight_decay)
        checks.positive_int("batch_size", self.batch_size)
        checks.nonneg_int("seed", self.seed)


def curve_recipe(profile=None, kind: str = "bezier", seeds=(0, 1), n_bends: int = 1, seed: int = 0,
                 **overrides) -> CurveRecipe:
    """Recipe of a curve between the standard models of `seeds` (Garipov et al.: lr constant for half the epochs,
    then linear to 1%; wd on w(t); ends fixed; one t per batch). Defaults: the profile's `curve_epochs`,
    standard lr and weight decay (the reference uses about 0.3x the endpoint lr but 20-50x more epochs)."""
    p = get_profile(profile)
    if kind not in ("bezier", "polychain"):
        raise ValueError(f"kind must be 'bezier' or 'polychain'; got {kind!r}")
    recipe = CurveRecipe(profile=p.name, start=standard_recipe(p, seeds[0]), end=standard_recipe(p, seeds[1]),
                         kind=kind, n_bends=n_bends, epochs=p.curve_epochs, lr=p.lr, weight_decay=p.weight_decay,
                         batch_size=p.batch_size, seed=seed)
    return recipe.replace(**overrides) if overrides else recipe


def trained_curve(recipe: CurveRecipe, progress: bool | None = None) -> tuple[CurveModel, dict]:
    """The trained `CurveModel` of a `curve_recipe` (cached under kind "curve") and its training history.

    Deliberate: the curve trains in fp32 with contiguous weights (`train_curve` has its own loop), whatever the
    ``precision`` and ``channels_last`` of its end points' recipes."""
    model_a, _ = train(recipe.start, progress=progress)
    model_b, _ = train(recipe.end, progress=progress)

    def make():
        return CurveModel(model_a, model_a.state_dict(), model_b.state_dict(), kind=recipe.kind,
                          n_bends=recipe.n_bends, seed=recipe.seed)

    def build():
        curve = make()
        history = train_curve(curve, training_set(recipe.start.data), epochs=recipe.epochs,
                              lr=recipe.lr, weight_decay=recipe.weight_decay, seed=recipe.seed,
                              batch_size=recipe.batch_size, progress=progress)
        return curve.state_dict(), {"history": history}

    state, extra = default_cache().get_or_create("curve", recipe, build)
    curve = make()
    curve.load_state_dict(state)
    return curve, extra["history"]


def curve_results(recipe: CurveRecipe, n_points: int | None = None, *, profile: Profile) -> dict:
    """Test and train loss/error along a trained curve at `n_points` t's (default: the profile's
    ``landscape.n_curve_points``; 61 in the reference), BN recomputed per t; cached. Train loss excludes the L2
    term. `profile` is the resolved profile the recipe was made with (its evaluation sizes)."""
    p = get_profile(profile)
    n_points = n_points or p.landscape.n_curve_points
    key = {"curve": recipe, "n_points": n_points, "protocol": protocol_key(p)}

    def build():
        curve, _ = trained_curve(recipe)
        data = landscape_data(p)
        return evaluate_curve(curve, None, data["eval"], bn_data=data["bn"], train_data=data["train_eval"],
                              ts=np.linspace(0.0, 1.0, n_points))

    return cached_arrays("curve_eval", key, build)


def segment_results(profile=None, seeds=(0, 1), n_alphas: int | None = None) -> dict:
    """Test and train loss/error on the straight segment between two standard models (BN recomputed per alpha)."""
    p = get_profile(profile)
    return pair_path(p, standard_recipe(p, seeds[0]), standard_recipe(p, seeds[1]),
                      n_alphas or p.landscape.n_alphas)


# ----------------------------------------------------------------------------------------------- planes
def plane_results(profile=None, third: str = "seed2", grid: int | None = None) -> dict:
    """Train loss/error on the plane through the standard models of seeds 0 and 1 and a third state, with the
    trained Bezier and polychain curves (and their bends) projected onto it; BN recomputed at every grid point.

    Args:
        third: ``"seed2"`` (a third independently trained model: the plane of Garipov et al. Fig. 1 left) or
            ``"bezier"`` (the Bezier bend: the plane contains the whole Bezier curve, Fig. 1 middle).

    Returns:
        the `plane_grid` result (``xs``, ``ys``, ``loss``/``error`` on the train-evaluation subset, ``points``)
        plus ``bezier_xy`` / ``polychain_xy`` [n, 2] (curve points) and ``bends_xy`` [2, 2] (Bezier, polychain).
    """
    p = get_profile(profile)
    if third not in ("seed2", "bezier"):
        raise ValueError(f"third must be 'seed2' or 'bezier'; got {third!r}")
    grid = grid or p.landscape.plane_grid
    curves = {kind: curve_recipe(p, kind) for kind in ("bezier", "polychain")}
    key = {"third": third, "grid": grid, "curves": curves, "third_recipe": standard_recipe(p, 2),
           "protocol": protocol_key(p)}

    def build():
        model_a, _ = train(standard_recipe(p, 0))
        model_b, _ = train(standard_recipe(p, 1))
        trained = {kind: trained_curve(r)[0] for kind, r in curves.items()}
        if third == "seed2":
            state_c = train(standard_recipe(p, 2))[0].state_dict()
        else:
            state_c = trained["bezier"].state_at(0.0)
            state_c.update({k: v.detach().clone() for k, v in trained["bezier"].control_point(1).items()})
        keys = parameter_keys(model_a)
        basis = plane_basis(model_a.state_dict(), model_b.state_dict(), state_c, keys=keys)
        data = landscape_data(p)
        out = plane_grid(copy.deepcopy(model_a), basis, data["train_eval"], bn_data=data["bn"], grid=grid)
        ts = np.linspace(0.0, 1.0, 21)
        for kind, curve in trained.items():
            out[f"{kind}_xy"] = np.array([project(curve.state_at(float(t)), basis) for t in ts])
        bends = []
        for kind in ("bezier", "polychain"):
            bend = trained[kind].state_at(0.0)
            bend.update({k: v.detach() for k, v in trained[kind].control_point(1).items()})
            bends.append(project(bend, basis))
        out["bends_xy"] = np.array(bends)
        return out

    return cached_arrays("plane", key, build)


# ----------------------------------------------------------------------------------------------- transfer
def _random_init_recipe(p: Profile, seed: int) -> Recipe:
    """Training from random init on the labelled target classes (same data as fine-tuning, longer schedule)."""
    target = finetune_recipe(p).data
    return standard_recipe(p, seed, num_classes=5, data=target, epochs=p.landscape.ri_epochs)


def transfer_models(profile=None, seeds=(0, 1), backbone_seed: int = 0) -> dict:
    """The models of the transfer experiments (all cached recipes).

    Returns:
        ``{"P": pre-trained (source head), "P-T": [fine-tuned from P with `seeds`], "RI-T": [trained from
        random init on the target classes with `seeds`], "recipes": {...}}``.
    """
    p = get_profile(profile)
    recipes = {"P": pretrain_recipe(p, backbone_seed),
               "P-T": [finetune_recipe(p, backbone_seed=backbone_seed, seed=s) for s in seeds],
               "RI-T": [_random_init_recipe(p, s) for s in seeds]}
    return {"P": train(recipes["P"])[0], "P-T": [train(r)[0] for r in recipes["P-T"]],
            "RI-T": [train(r)[0] for r in recipes["RI-T"]], "recipes": recipes}


def transfer_lmc(profile=None, seeds=(0, 1), n_alphas: int | None = None) -> dict:
    """Linear paths on the target task between two fine-tuned models (P-T & P-T) and between two randomly
    initialised ones (RI-T & RI-T) (Neyshabur et al. 2020, Fig. 5); BN recomputed on target training batches.

    Returns:
        ``{"P-T": path, "RI-T": path}`` with ``alphas``, test ``loss``/``error``, ``train_loss``/``train_error``.
    """
    p = get_profile(profile)
    n_alphas = n_alphas or p.landscape.n_alphas
    transfer_models(p, seeds)  # trains (or loads) all of them first
    pt = [finetune_recipe(p, seed=s) for s in seeds]
    ri = [_random_init_recipe(p, s) for s in seeds]
    return {"P-T": pair_path(p, pt[0], pt[1], n_alphas, domain="target"),
            "RI-T": pair_path(p, ri[0], ri[1], n_alphas, domain="target")}


def similarity_tables(profile=None, seeds=(0, 1)) -> dict:
    """Per-stage linear CKA and feature L2 distance on target test images for the pairs of Neyshabur et al.
    (Table 2 / Fig. 4): P-T & P, P-T & P-T, P-T & RI-T, RI-T & RI-T, RI-T & P.

    Returns:
        ``{"stages": [...], "cka": {pair: np.ndarray}, "l2": {pair: np.ndarray}}``.
    """
    p = get_profile(profile)
    models = transfer_models(p, seeds)
    data = balanced_subset(profile_transfer(p).target_test, p.landscape.n_similarity, seed=13)
    pairs = {"P-T & P": (models["P-T"][0], models["P"]), "P-T & P-T": tuple(models["P-T"]),
             "P-T & RI-T": (models["P-T"][0], models["RI-T"][0]), "RI-T & RI-T": tuple(models["RI-T"]),
             "RI-T & P": (models["RI-T"][0], models["P"])}
    out = {"stages": None, "cka": {}, "l2": {}}
    for name, (a, b) in pairs.items():
        result = stage_similarity(a, b, data)
        out["stages"] = result["stages"]
        out["cka"][name], out["l2"][name] = result["cka"], result["l2"]
    return out
