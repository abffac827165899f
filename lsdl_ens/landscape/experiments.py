"""Cached experiment drivers of the mode-connectivity chapter: curves between two standard models, planes, spawning
(linear mode connectivity vs the spawn epoch) and transfer learning (fine-tuned vs randomly initialised pairs).

Every driver reads its sizes from the run profile plus the small table `LANDSCAPE_SIZES` below, and stores its
result in the checkpoint cache (`lsdl_ens.cache.default_cache`) under a recipe naming everything that determines
it, so a second run of the chapter only reads files.

Evaluation protocol shared by all drivers (`landscape_data`):
    * test error / loss on a fixed class-balanced subset of the profile's test set (``n_eval`` images);
    * "train" loss / error on a fixed class-balanced subset of the training set (``n_train_eval`` images, not
      augmented; the reference evaluates on augmented batches in eval mode);
    * BatchNorm recomputed at every point (``lsdl_ens.bn.update_bn``) on the first ``n_bn_batches`` augmented
      training batches of epoch 0 (the same batches at every point).

``LANDSCAPE_SIZES`` (per profile name):

==================  =====================================================================================
``n_eval``          test images per landscape point
``n_train_eval``    training images for train loss / error
``n_alphas``        points on the segment and transfer paths (Frankle et al.: about 30; 31 in the gpu profile)
``n_curve_points``  t's along each trained curve (the reference's 61 in the gpu profile)
``spawn_epochs``    epochs k at which the second child is spawned from the shared trajectory
``n_spawn_alphas``  points on each spawn path (fewer than ``n_alphas``: one path per spawn epoch)
``plane_grid``      grid side of the two planes (the profile's ``plane_grid`` is the reference's 21)
``ri_epochs``       epochs of the random-init models on the target classes (they need more than fine-tuning)
``n_similarity``    target test images for CKA / feature distances
==================  =====================================================================================

The cpu row is sized so that the whole chapter (two curves, one plane, the spawn sweep, the transfer models)
fits in about ten minutes of two idle cores on a cold cache: the model training dominates, evaluation sets are
1,000 images (error resolution 0.1 point, far below the barriers measured).
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import torch
from torch import nn

from ..cache import default_cache
from ..data import BatchLoader, ImageSet, balanced_subset
from ..profiles import Profile, get_profile
from ..recipes import (build_from_recipe, finetune_recipe, load_state, pretrain_recipe, profile_data,
                       profile_transfer, standard_recipe, train, training_set)
from ..schedules import cosine_lr
from ..state import parameter_keys
from ..train import Callback, fit
from .curves import CurveModel, evaluate_curve, train_curve
from .linear import barrier, linear_path
from .plane import plane_basis, plane_grid, project
from .similarity import stage_similarity

__all__ = [
    "LANDSCAPE_SIZES", "landscape_sizes", "landscape_data", "curve_recipe", "trained_curve", "curve_results",
    "segment_results", "plane_results", "spawn_experiment", "transfer_models", "transfer_lmc",
    "similarity_tables",
]

LANDSCAPE_SIZES = {
    "smoke": dict(n_eval=500, n_train_eval=500, n_alphas=5, n_curve_points=5, spawn_epochs=(0, 1),
                  n_spawn_alphas=5, plane_grid=4, ri_epochs=2, n_similarity=100),
    "cpu": dict(n_eval=1000, n_train_eval=1000, n_alphas=21, n_curve_points=21, spawn_epochs=(0, 2, 6),
                n_spawn_alphas=9, plane_grid=7, ri_epochs=30, n_similarity=500),
    "gpu": dict(n_eval=10_000, n_train_eval=5000, n_alphas=31, n_curve_points=61,
                spawn_epochs=(0, 1, 2, 5, 10, 20, 40), n_spawn_alphas=31, plane_grid=21, ri_epochs=100,
                n_similarity=1000),
}

def _profile(profile) -> Profile:
    return profile if isinstance(profile, Profile) else get_profile(profile)


def landscape_sizes(profile=None) -> dict:
    """The `LANDSCAPE_SIZES` row of a profile (a copy)."""
    return dict(LANDSCAPE_SIZES[_profile(profile).name])


def _bn_batches(train_set: ImageSet, p: Profile, seed: int = 0) -> list:
    loader = BatchLoader(train_set, p.batch_size, shuffle=True, augment=True, seed=seed)
    n = p.n_bn_batches if p.n_bn_batches is not None else len(loader)
    return list(itertools.islice(loader.iterate(epoch=0), n))


def landscape_data(profile=None, domain: str = "cifar10") -> dict:
    """Evaluation, train-evaluation and BN batches of the landscape protocol (see the module docstring).

    Args:
        domain: ``"cifar10"`` (the standard 10-class task) or ``"target"`` (the five target classes of the
            transfer split; ``n_train_eval`` is capped by the labelled target set).

    Returns:
        ``{"eval": ImageSet, "train_eval": ImageSet, "bn": [(x, y), ...], "train": ImageSet}``.
    """
    p, sizes = _profile(profile), landscape_sizes(profile)
    if domain == "cifar10":
        train_set, _, test_set = profile_data(p)
    elif domain == "target":
        split = profile_transfer(p)
        train_set, test_set = split.target_train, split.target_test
    else:
        raise ValueError(f"domain must be 'cifar10' or 'target'; got {domain!r}")
    eval_set = balanced_subset(test_set, min(sizes["n_eval"], len(test_set)), seed=11)
    train_eval = balanced_subset(train_set, min(sizes["n_train_eval"], len(train_set)), seed=12)
    return {"eval": eval_set, "train_eval": train_eval, "bn": _bn_batches(train_set, p), "train": train_set}


def _arrays(kind: str, recipe: dict, build) -> dict:
    """Cache a dict of numpy arrays (stored as tensors) under `recipe`."""
    def wrapped():
        out = build()
        return {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in out.items()}, {}

    state, _ = default_cache().get_or_create(kind, recipe, wrapped)
    return {k: v.numpy() for k, v in state.items()}


def _protocol(p: Profile, domain: str = "cifar10") -> dict:
    sizes = landscape_sizes(p)
    return {"profile": p.name, "domain": domain, "n_eval": sizes["n_eval"], "n_train_eval": sizes["n_train_eval"],
            "n_bn_batches": p.n_bn_batches, "batch_size": p.batch_size}


def _pair_path(p: Profile, recipe_a: dict, recipe_b: dict, n_alphas: int, domain: str = "cifar10",
               states=None) -> dict:
    """Cached linear path (test and train loss/error) between two recipes' models.

    With `states` = (state_a, state_b), the recipes only name the states (and give the architecture)."""
    key = {"a": recipe_a, "b": recipe_b, "n_alphas": n_alphas, "protocol": _protocol(p, domain),
           "given_states": states is not None}

    def build():
        data = landscape_data(p, domain)
        if states is not None:
            a, b = states
        else:
            a, b = train(recipe_a)[0].state_dict(), train(recipe_b)[0].state_dict()
        template = load_state(recipe_a, a)
        return linear_path(template, a, b, data["eval"], bn_data=data["bn"], train_data=data["train_eval"],
                           alphas=np.linspace(0.0, 1.0, n_alphas))

    return _arrays("landscape_path", key, build)


# ----------------------------------------------------------------------------------------------- curves
def curve_recipe(profile=None, kind: str = "bezier", seeds=(0, 1), n_bends: int = 1, seed: int = 0,
                 **overrides) -> dict:
    """Recipe of a curve between the standard models of `seeds` (Garipov et al.: lr constant for half the epochs,
    then linear to 1%; wd on w(t); ends fixed; one t per batch). Defaults: the profile's `curve_epochs`,
    standard lr and weight decay (the reference uses about 0.3x the endpoint lr but 20-50x more epochs)."""
    p = _profile(profile)
    if kind not in ("bezier", "polychain"):
        raise ValueError(f"kind must be 'bezier' or 'polychain'; got {kind!r}")
    recipe = {"profile": p.name, "start": standard_recipe(p, seeds[0]), "end": standard_recipe(p, seeds[1]),
              "kind": kind, "n_bends": n_bends, "epochs": p.curve_epochs, "lr": p.lr, "weight_decay": p.weight_decay,
              "batch_size": p.batch_size, "seed": seed}
    unknown = sorted(set(overrides) - set(recipe))
    if unknown:
        raise ValueError(f"unknown curve recipe field(s) {unknown}; valid: {sorted(recipe)}")
    recipe.update(overrides)
    return recipe


def trained_curve(recipe: dict, progress: bool | None = None) -> tuple[CurveModel, dict]:
    """The trained `CurveModel` of a `curve_recipe` (cached under kind "curve") and its training history."""
    model_a, _ = train(recipe["start"], progress=progress)
    model_b, _ = train(recipe["end"], progress=progress)

    def make():
        return CurveModel(model_a, model_a.state_dict(), model_b.state_dict(), kind=recipe["kind"],
                          n_bends=recipe["n_bends"], seed=recipe["seed"])

    def build():
        curve = make()
        history = train_curve(curve, training_set(recipe["start"]["data"]), epochs=recipe["epochs"],
                              lr=recipe["lr"], weight_decay=recipe["weight_decay"], seed=recipe["seed"],
                              batch_size=recipe["batch_size"], progress=progress)
        return curve.state_dict(), {"history": history}

    state, extra = default_cache().get_or_create("curve", recipe, build)
    curve = make()
    curve.load_state_dict(state)
    return curve, extra["history"]


def curve_results(recipe: dict, n_points: int | None = None) -> dict:
    """Test and train loss/error along a trained curve at `n_points` t's (default `n_curve_points` of
    `LANDSCAPE_SIZES`; 61 in the reference), BN recomputed per t; cached. Train loss excludes the L2 term."""
    p = get_profile(recipe["profile"])
    n_points = n_points or landscape_sizes(p)["n_curve_points"]
    key = {"curve": recipe, "n_points": n_points, "protocol": _protocol(p)}

    def build():
        curve, _ = trained_curve(recipe)
        data = landscape_data(p)
        return evaluate_curve(curve, None, data["eval"], bn_data=data["bn"], train_data=data["train_eval"],
                              ts=np.linspace(0.0, 1.0, n_points))

    return _arrays("curve_eval", key, build)


def segment_results(profile=None, seeds=(0, 1), n_alphas: int | None = None) -> dict:
    """Test and train loss/error on the straight segment between two standard models (BN recomputed per alpha)."""
    p = _profile(profile)
    return _pair_path(p, standard_recipe(p, seeds[0]), standard_recipe(p, seeds[1]),
                      n_alphas or landscape_sizes(p)["n_alphas"])


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
    p = _profile(profile)
    if third not in ("seed2", "bezier"):
        raise ValueError(f"third must be 'seed2' or 'bezier'; got {third!r}")
    grid = grid or landscape_sizes(p)["plane_grid"]
    curves = {kind: curve_recipe(p, kind) for kind in ("bezier", "polychain")}
    key = {"third": third, "grid": grid, "curves": curves, "third_recipe": standard_recipe(p, 2),
           "protocol": _protocol(p)}

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

    return _arrays("plane", key, build)


# ----------------------------------------------------------------------------------------------- spawning
class _OffsetLoader(BatchLoader):
    """A BatchLoader whose epoch e is the parent's epoch e + offset (a child continues the epoch numbering)."""

    def __init__(self, *args, offset: int = 0, **kw):
        super().__init__(*args, **kw)
        self.offset = offset

    def iterate(self, epoch: int = 0, seed: int | None = None):
        return super().iterate(epoch=epoch + self.offset, seed=seed)


def _sgd(model: nn.Module, recipe: dict) -> torch.optim.Optimizer:
    """The optimizer `lsdl_ens.train.fit` builds for a standard recipe (SGD, Nesterov momentum 0.9)."""
    return torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=recipe["lr"], momentum=0.9,
                           nesterov=True, weight_decay=recipe["weight_decay"])


def _loader(recipe: dict, seed: int, offset: int) -> _OffsetLoader:
    data = training_set(recipe["data"])
    return _OffsetLoader(data, recipe["batch_size"], shuffle=True, augment=recipe["augment"],
                         drop_last=len(data) > recipe["batch_size"], seed=seed, offset=offset)


def _schedule(recipe: dict, offset: int):
    return lambda s: cosine_lr(s.epoch_float + offset, recipe["epochs"], recipe["lr"])


class _Snapshots(Callback):
    """Keep model and optimizer state after the given numbers of completed epochs (0 = before training)."""

    def __init__(self, epochs):
        self.epochs, self.saved = set(epochs), {}

    def _save(self, k, model, optimizer):
        self.saved[k] = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))

    def on_train_begin(self, model, optimizer):
        if 0 in self.epochs:
            self._save(0, model, optimizer)

    def on_epoch_end(self, model, optimizer, step, history):
        if step.epoch + 1 in self.epochs:
            self._save(step.epoch + 1, model, optimizer)


def _flatten_payload(saved: dict) -> dict:
    out = {}
    for k, (model_state, opt_state) in saved.items():
        out.update({f"{k}.model.{name}": v for name, v in model_state.items()})
        for i, buf in opt_state["state"].items():
            out[f"{k}.momentum.{i}"] = buf["momentum_buffer"]
    return out


def _parent_checkpoint(flat: dict, k: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    prefix = f"{k}.model."
    model.load_state_dict({name[len(prefix):]: v for name, v in flat.items() if name.startswith(prefix)})
    params = optimizer.param_groups[0]["params"]
    for i, q in enumerate(params):
        key = f"{k}.momentum.{i}"
        if key in flat:
            optimizer.state[q]["momentum_buffer"] = flat[key].clone()


def _spawn_parent(recipe: dict, spawn_epochs) -> dict:
    """Train the standard recipe once, keeping model + momentum at each spawn epoch and at the end (cached)."""
    key = {"recipe": recipe, "spawn_epochs": sorted(set(spawn_epochs) | {recipe["epochs"]})}

    def build():
        model = build_from_recipe(recipe)
        optimizer = _sgd(model, recipe)
        snaps = _Snapshots(key["spawn_epochs"])
        fit(model, _loader(recipe, recipe["seed"], 0), epochs=recipe["epochs"], optimizer=optimizer,
            lr_schedule=_schedule(recipe, 0), seed=recipe["seed"], callbacks=[snaps], desc="spawn parent")
        return _flatten_payload(snaps.saved), {}

    return default_cache().get_or_create("spawn_parent", key, build)[0]


def _spawn_child(recipe: dict, spawn_epochs, k: int, child_seed: int) -> dict:
    """The state of a child continuing the parent from epoch k with data-order seed `child_seed` (cached)."""
    key = {"recipe": recipe, "spawn_epochs": sorted(set(spawn_epochs) | {recipe["epochs"]}), "k": k,
           "child_seed": child_seed}

    def build():
        parent = _spawn_parent(recipe, spawn_epochs)
        model = build_from_recipe(recipe)
        optimizer = _sgd(model, recipe)
        _parent_checkpoint(parent, k, model, optimizer)
        fit(model, _loader(recipe, child_seed, k), epochs=recipe["epochs"] - k, optimizer=optimizer,
            lr_schedule=_schedule(recipe, k), seed=child_seed, desc=f"child spawned at {k}")
        return model.state_dict(), {}

    return default_cache().get_or_create("spawn_child", key, build)[0]


def spawn_experiment(profile=None, spawn_epochs=None, seed: int = 0, child_seed: int = 100,
                     n_alphas: int | None = None) -> dict:
    """Linear mode connectivity of two children spawned from one trajectory at epoch k (Frankle et al. 2020).

    The parent is the profile's standard run (seed `seed`); child A is the parent itself continued to the end
    (data order of `seed`), child B restarts from the parent's weights *and momentum* at epoch k and finishes the
    same cosine schedule with data-order seed `child_seed`. k = 0 means: same initialisation, different data
    order. Each pair's path is evaluated at `n_alphas` points (BN recomputed), and compared with the pair of
    independently trained standard models (seeds `seed`, `seed + 1`).

    Returns:
        ``{"spawn_epochs": [k...], "paths": {k: path}, "independent": path, "test_barrier": [...],
        "train_barrier": [...], "independent_test_barrier", "independent_train_barrier",
        "child_test_error": [...]}``; barriers of the error, linear reference, as fractions.
    """
    p = _profile(profile)
    sizes = landscape_sizes(p)
    spawn_epochs = tuple(sizes["spawn_epochs"] if spawn_epochs is None else spawn_epochs)
    if any(int(k) != k or not 0 <= k < p.epochs for k in spawn_epochs):
        raise ValueError(f"spawn_epochs must be integers in [0, {p.epochs}); got {spawn_epochs}")
    n_alphas = n_alphas or sizes["n_spawn_alphas"]
    recipe = standard_recipe(p, seed)
    parent = _spawn_parent(recipe, spawn_epochs)
    end = recipe["epochs"]
    state_a = {name[len(f"{end}.model."):]: v for name, v in parent.items() if name.startswith(f"{end}.model.")}
    paths = {}
    for k in spawn_epochs:
        state_b = _spawn_child(recipe, spawn_epochs, k, child_seed)
        named_a = dict(recipe, spawn={"parent_end": True, "spawn_epochs": sorted(spawn_epochs)})
        named_b = dict(recipe, spawn={"k": k, "child_seed": child_seed, "spawn_epochs": sorted(spawn_epochs)})
        paths[k] = _pair_path(p, named_a, named_b, n_alphas, states=(state_a, state_b))
    independent = _pair_path(p, standard_recipe(p, seed), standard_recipe(p, seed + 1), n_alphas)
    return {
        "spawn_epochs": list(spawn_epochs), "paths": paths, "independent": independent,
        "test_barrier": [barrier(paths[k]["error"], paths[k]["alphas"]) for k in spawn_epochs],
        "train_barrier": [barrier(paths[k]["train_error"], paths[k]["alphas"]) for k in spawn_epochs],
        "child_test_error": [paths[k]["error"][-1] for k in spawn_epochs],
        "independent_test_barrier": barrier(independent["error"], independent["alphas"]),
        "independent_train_barrier": barrier(independent["train_error"], independent["alphas"]),
    }


# ----------------------------------------------------------------------------------------------- transfer
def _random_init_recipe(p: Profile, seed: int) -> dict:
    """Training from random init on the labelled target classes (same data as fine-tuning, longer schedule)."""
    target = finetune_recipe(p)["data"]
    return standard_recipe(p, seed, num_classes=5, data=target, epochs=landscape_sizes(p)["ri_epochs"])


def transfer_models(profile=None, seeds=(0, 1), backbone_seed: int = 0) -> dict:
    """The models of the transfer experiments (all cached recipes).

    Returns:
        ``{"P": pre-trained (source head), "P-T": [fine-tuned from P with `seeds`], "RI-T": [trained from
        random init on the target classes with `seeds`], "recipes": {...}}``.
    """
    p = _profile(profile)
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
    p = _profile(profile)
    n_alphas = n_alphas or landscape_sizes(p)["n_alphas"]
    transfer_models(p, seeds)  # trains (or loads) all of them first
    pt = [finetune_recipe(p, seed=s) for s in seeds]
    ri = [_random_init_recipe(p, s) for s in seeds]
    return {"P-T": _pair_path(p, pt[0], pt[1], n_alphas, domain="target"),
            "RI-T": _pair_path(p, ri[0], ri[1], n_alphas, domain="target")}


def similarity_tables(profile=None, seeds=(0, 1)) -> dict:
    """Per-stage linear CKA and feature L2 distance on target test images for the pairs of Neyshabur et al.
    (Table 2 / Fig. 4): P-T & P, P-T & P-T, P-T & RI-T, RI-T & RI-T, RI-T & P.

    Returns:
        ``{"stages": [...], "cka": {pair: np.ndarray}, "l2": {pair: np.ndarray}}``.
    """
    p = _profile(profile)
    models = transfer_models(p, seeds)
    data = balanced_subset(profile_transfer(p).target_test, landscape_sizes(p)["n_similarity"], seed=13)
    pairs = {"P-T & P": (models["P-T"][0], models["P"]), "P-T & P-T": tuple(models["P-T"]),
             "P-T & RI-T": (models["P-T"][0], models["RI-T"][0]), "RI-T & RI-T": tuple(models["RI-T"]),
             "RI-T & P": (models["RI-T"][0], models["P"])}
    out = {"stages": None, "cka": {}, "l2": {}}
    for name, (a, b) in pairs.items():
        result = stage_similarity(a, b, data)
        out["stages"] = result["stages"]
        out["cka"][name], out["l2"][name] = result["cka"], result["l2"]
    return out
