"""Cached runs of the mode-connectivity chapter between two standard networks: trained curves (Garipov et al.
2018), their evaluation, the straight segment, and planes through three networks.

Algorithms (the curve model and its training loop, planes, linear paths) are in `lsdl_ens.landscape`; this module
names each run by a frozen recipe, trains it through the checkpoint cache and evaluates it under the chapter's
protocol (`mode_connectivity_protocol`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .. import checks
from ..cache import default_cache
from ..data import training_set
from ..landscape import CurveModel, evaluate_curve, plane_basis, plane_grid, project, train_curve
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe, TypedRecipe
from ..recipes import standard_recipe, train
from ..state import parameter_keys
from .mode_connectivity_protocol import PathRun, cached_arrays, landscape_data, path_results, protocol_key

__all__ = ["CurveRecipe", "curve_recipe", "trained_curve", "CurveEvaluation", "evaluate_trained_curve",
           "curve_results", "segment_run", "segment_results", "PlaneRun", "compute_plane", "plane_results",
           "CURVE_KINDS", "PLANE_THIRDS"]

CURVE_KINDS = ("bezier", "polychain")
#: the third state of a plane: a third independent network, or the Bezier curve's bend
PLANE_THIRDS = ("seed2", "bezier")


def _check_kind(kind: str) -> str:
    if kind not in CURVE_KINDS:
        raise ValueError(f"kind must be 'bezier' or 'polychain'; got {kind!r}")
    return kind


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
        _check_kind(self.kind)
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
    _check_kind(kind)
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


@dataclass(frozen=True)
class CurveEvaluation:
    """A trained curve evaluated at ``n_points`` evenly spaced t's under the protocol of ``profile`` (kind
    ``"curve_eval"``, key `key()`)."""

    profile: Profile
    curve: CurveRecipe
    n_points: int

    def key(self) -> dict:
        return {"curve": self.curve, "n_points": self.n_points, "protocol": protocol_key(self.profile)}


def evaluate_trained_curve(run: CurveEvaluation) -> dict:
    """Test and train loss/error along the curve of `run` (``ts``, ``loss``, ``error``, ``train_loss``,
    ``train_error``), BN recomputed per t; cached. Train loss excludes the L2 term."""
    def build():
        curve, _ = trained_curve(run.curve)
        data = landscape_data(run.profile)
        return evaluate_curve(curve, None, data["eval"], bn_data=data["bn"], train_data=data["train_eval"],
                              ts=np.linspace(0.0, 1.0, run.n_points))

    return cached_arrays("curve_eval", run.key(), build)


def curve_results(recipe: CurveRecipe, n_points: int | None = None, *, profile: Profile) -> dict:
    """`evaluate_trained_curve` at `n_points` t's (default: the profile's ``landscape.n_curve_points``; 61 in the
    reference). `profile` is the resolved profile the recipe was made with (its evaluation sizes)."""
    p = get_profile(profile)
    return evaluate_trained_curve(CurveEvaluation(p, recipe, n_points or p.landscape.n_curve_points))


def segment_run(p: Profile, seeds=(0, 1), n_alphas: int | None = None) -> PathRun:
    """The straight segment between the standard models of two seeds, at ``landscape.n_alphas`` points."""
    return PathRun(p, standard_recipe(p, seeds[0]), standard_recipe(p, seeds[1]), n_alphas or p.landscape.n_alphas)


def segment_results(profile=None, seeds=(0, 1), n_alphas: int | None = None) -> dict:
    """Test and train loss/error on the straight segment between two standard models (BN recomputed per alpha)."""
    return path_results(segment_run(get_profile(profile), seeds, n_alphas))


# ----------------------------------------------------------------------------------------------- planes
@dataclass(frozen=True)
class PlaneRun:
    """Train loss/error on a ``grid`` x ``grid`` plane through the standard models of seeds 0 and 1 and a third
    state (``third``: "seed2" or "bezier"), under the protocol of ``profile`` (kind ``"plane"``, key `key()`)."""

    profile: Profile
    third: str
    grid: int

    def __post_init__(self):
        if self.third not in PLANE_THIRDS:
            raise ValueError(f"third must be 'seed2' or 'bezier'; got {self.third!r}")
        checks.positive_int("grid", self.grid)

    def curves(self) -> dict:
        return {kind: curve_recipe(self.profile, kind) for kind in CURVE_KINDS}

    def key(self) -> dict:
        p = self.profile
        return {"third": self.third, "grid": self.grid, "curves": self.curves(), "third_recipe": standard_recipe(p, 2),
                "protocol": protocol_key(p)}


def _bend_state(curve: CurveModel) -> dict:
    state = curve.state_at(0.0)
    state.update({k: v.detach().clone() for k, v in curve.control_point(1).items()})
    return state


def compute_plane(run: PlaneRun) -> dict:
    """The plane of `run`, BN recomputed at every grid point, with the trained Bezier and polychain curves (and
    their bends) projected onto it; cached.

    Returns:
        the `plane_grid` result (``xs``, ``ys``, ``loss``/``error`` on the train-evaluation subset, ``points``)
        plus ``bezier_xy`` / ``polychain_xy`` [n, 2] (curve points) and ``bends_xy`` [2, 2] (Bezier, polychain).
    """
    p = run.profile

    def build():
        model_a, _ = train(standard_recipe(p, 0))
        model_b, _ = train(standard_recipe(p, 1))
        trained = {kind: trained_curve(r)[0] for kind, r in run.curves().items()}
        if run.third == "seed2":
            state_c = train(standard_recipe(p, 2))[0].state_dict()
        else:
            state_c = _bend_state(trained["bezier"])
        basis = plane_basis(model_a.state_dict(), model_b.state_dict(), state_c, keys=parameter_keys(model_a))
        data = landscape_data(p)
        out = plane_grid(copy.deepcopy(model_a), basis, data["train_eval"], bn_data=data["bn"], grid=run.grid)
        ts = np.linspace(0.0, 1.0, 21)
        for kind, curve in trained.items():
            out[f"{kind}_xy"] = np.array([project(curve.state_at(float(t)), basis) for t in ts])
        out["bends_xy"] = np.array([project(_bend_state(trained[kind]), basis) for kind in CURVE_KINDS])
        return out

    return cached_arrays("plane", run.key(), build)


def plane_results(profile=None, third: str = "seed2", grid: int | None = None) -> dict:
    """`compute_plane` through seeds 0, 1 and `third` (``"seed2"``: a third independently trained model, the
    plane of Garipov et al. Fig. 1 left; ``"bezier"``: the Bezier bend, a plane holding the whole Bezier curve,
    Fig. 1 middle) on a ``landscape.plane_grid`` grid."""
    p = get_profile(profile)
    return compute_plane(PlaneRun(p, third, grid or p.landscape.plane_grid))
