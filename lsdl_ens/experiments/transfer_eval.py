"""Chapter 06's cached evaluations: the SSE / StarSSE grid, predictions under corruption, and paths and planes
between members.

* `run_grid` / `run_soup_grid`: every (lr_mult, epoch_mult) cell of the profile's grid, scored by its ensemble's or
  its uniform soup's accuracy on the target validation and test sets (select with `lsdl_ens.transfer.select_settings`).
* Out of distribution: every corruption of `lsdl_ens.data.CORRUPTIONS` at severities 1..5 on a class-balanced subset
  of ``transfer.n_ood`` target test images (seed 0), corrupted with a seed fixed per (corruption, severity), so every
  member sees the same images; member predictions on all sets are cached (kind "transfer_ood"). Reported as the mean
  accuracy over corruptions per severity (`lsdl_ens.transfer.ood_accuracy`), as the reference does for CIFAR-100-C.
  Deviation: 18 corruptions (no spatter; see `lsdl_ens.data.corruptions`).
* Landscapes: test and train error/loss along the segment between consecutive members and on the plane through three
  members; BatchNorm statistics recomputed at every point (`lsdl_ens.bn.update_bn`) on augmented target training
  batches, as the reference's ``utils/batch_norm.py`` does before evaluating averaged weights. Cached per pair (kind
  "transfer_path") and per plane (kind "transfer_plane").

References: Sadrtdinov et al., NeurIPS 2023 (https://arxiv.org/abs/2303.03374); Hendrycks & Dietterich, ICLR 2019;
Garipov et al., NeurIPS 2018 (the plane through three networks).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from ..cache import default_cache
from ..data import CORRUPTIONS, ImageSet, balanced_subset, corrupt, profile_transfer
from ..landscape import barrier, linear_path, plane_basis, plane_grid
from ..profiles import Profile, get_profile
from ..state import parameter_keys
from ..train import predict_probs
from ..transfer import base_recipe, bn_loader, ensemble_curve, soup_recipe
from .transfer_members import grid_settings, labels, load_member, member_probs, method_recipes, stack_probs

__all__ = ["run_grid", "run_soup_grid", "SEVERITIES", "ood_sets", "ood_labels", "ood_key", "ood_probs",
           "barrier_of", "path_key", "member_path", "consecutive_paths", "plane_key", "member_plane"]

SEVERITIES = (1, 2, 3, 4, 5)


# ----------------------------------------------------------------------------------------------- the grid
def run_grid(method: str, profile: Profile | str | None = None, **kw) -> dict:
    """Train (cached) every grid cell of `method` ("sse" or "starsse") and score it.

    Returns ``{(lr_mult, epoch_mult): {"val_curve", "test_curve", "val_acc", "members_test_acc"}}``: the ensemble
    accuracy vs size on the validation and test sets, the full ensemble's validation accuracy, and each member's
    test accuracy.
    """
    p = get_profile(profile)
    y = labels(p)
    out = {}
    for setting in grid_settings(p):
        recipes = method_recipes(method, p, setting)
        val, test = stack_probs(recipes, p, "val", **kw), stack_probs(recipes, p, "test", **kw)
        val_curve, test_curve = ensemble_curve(val, y["val"]), ensemble_curve(test, y["test"])
        out[setting] = {"val_curve": val_curve, "test_curve": test_curve, "val_acc": val_curve[-1],
                        "members_test_acc": [float((t.argmax(-1) == y["test"]).double().mean()) for t in test]}
    return out


def run_soup_grid(method: str, profile: Profile | str | None = None, **kw) -> dict:
    """Uniform soups (BN recomputed, `lsdl_ens.transfer.soup_recipe`) of every grid cell of `method`, cached.

    Returns ``{(lr_mult, epoch_mult): {"val_acc", "test_acc"}}``: the soup's accuracy on the target validation and
    test sets.
    """
    p = get_profile(profile)
    y = labels(p)
    out = {}
    for setting in grid_settings(p):
        probs = member_probs(soup_recipe(method_recipes(method, p, setting)), p, **kw)
        out[setting] = {k + "_acc": float((probs[k].argmax(-1) == y[k]).double().mean()) for k in ("val", "test")}
    return out


# ----------------------------------------------------------------------------------------------- corruptions
@lru_cache(maxsize=4)
def _clean(p: Profile, n: int) -> ImageSet:
    test = profile_transfer(p).target_test
    return test if n >= len(test) else balanced_subset(test, n, seed=0)


@lru_cache(maxsize=256)
def _corrupted(p: Profile, n: int, name: str, severity: int) -> ImageSet:
    base = _clean(p, n)
    seed = 1000 * tuple(CORRUPTIONS).index(name) + severity
    return base.with_images(corrupt(base.images, name, severity, seed=seed))


def ood_sets(profile: Profile | str | None = None) -> dict:
    """``{(name, severity): ImageSet}`` of the profile's corrupted target test sets (built once, in memory)."""
    p = get_profile(profile)
    n = p.transfer.n_ood
    return {(c, s): _corrupted(p, n, c, s) for c in CORRUPTIONS for s in SEVERITIES}


def ood_labels(profile: Profile | str | None = None) -> torch.Tensor:
    """Labels of the corrupted sets (the same images under every corruption)."""
    p = get_profile(profile)
    return _clean(p, p.transfer.n_ood).labels


def ood_key(recipe, profile: Profile) -> dict:
    """The cache key of `ood_probs` (kind "transfer_ood")."""
    p = profile
    return {"member": recipe, "ood": {"profile": p.name, "n": p.transfer.n_ood, "n_source": p.n_source,
                                      "n_target": p.n_target, "n_test": p.n_test,
                                      "corruptions": list(CORRUPTIONS), "severities": list(SEVERITIES)}}


def ood_probs(recipe, profile: Profile | str | None = None, *, cache=None, device=None, progress=None) -> torch.Tensor:
    """Probabilities of one member (or soup) on every corrupted set: [len(SEVERITIES), len(CORRUPTIONS), n, C]."""
    p = get_profile(profile)
    cache = cache or default_cache()

    def build():
        model = load_member(recipe, cache=cache, device=device, progress=progress)
        sets = ood_sets(p)
        probs = torch.stack([torch.stack([predict_probs(model, sets[(c, s)], device=device) for c in CORRUPTIONS])
                             for s in SEVERITIES])
        return {"probs": probs}, {}

    state, _ = cache.get_or_create("transfer_ood", ood_key(recipe, p), build)
    return state["probs"].float()


# ----------------------------------------------------------------------------------------------- landscapes
def barrier_of(path: dict, key: str = "error") -> float:
    """`lsdl_ens.landscape.barrier` (linear reference) of one `consecutive_paths` entry: the bump of `key` above the
    straight line between the endpoint values. A clear bump means the two members lie in different basins."""
    if not isinstance(path, dict) or key not in path or "alphas" not in path:
        keys = sorted(path) if isinstance(path, dict) else type(path).__name__
        raise ValueError(f"path must be a consecutive_paths entry holding 'alphas' and key={key!r}; it has {keys}")
    return barrier(path[key], path["alphas"], reference="linear")


@lru_cache(maxsize=4)
def _landscape_test(p: Profile, n: int):
    test = profile_transfer(p).target_test
    return test if n >= len(test) else balanced_subset(test, n, seed=5)


def path_key(a, b, profile: Profile) -> dict:
    """The cache key of `member_path` (kind "transfer_path")."""
    p = profile
    return {"a": a, "b": b, "profile": p.name, "n_alphas": p.transfer.n_alphas, "n_test": p.transfer.n_landscape}


def member_path(a, b, profile: Profile | str | None = None, *, cache=None, device=None, progress=None) -> dict:
    """Test and train error/loss along w(alpha) = (1 - alpha) w_a + alpha w_b (BN recomputed at every alpha,
    `lsdl_ens.landscape.linear_path`; cached, kind "transfer_path"). Numpy arrays ``alphas, loss, error, train_loss,
    train_error``."""
    p = get_profile(profile)
    sizes = p.transfer
    cache = cache or default_cache()

    def build():
        ma = load_member(a, cache=cache, device=device, progress=progress)
        mb = load_member(b, cache=cache, device=device, progress=progress)
        res = linear_path(ma, ma.state_dict(), mb.state_dict(), _landscape_test(p, sizes.n_landscape),
                          bn_data=bn_loader(base_recipe(a)), train_data=profile_transfer(p).target_train,
                          alphas=np.linspace(0, 1, sizes.n_alphas), progress=progress)
        return {k: torch.as_tensor(v) for k, v in res.items()}, {}

    state, _ = cache.get_or_create("transfer_path", path_key(a, b, p), build)
    return {k: v.numpy() for k, v in state.items()}


def consecutive_paths(member_recipes: Sequence, profile: Profile | str | None = None, **kw) -> list[dict]:
    """`member_path` between each pair of consecutive members (k, k + 1)."""
    p = get_profile(profile)
    return [member_path(a, b, p, **kw) for a, b in zip(member_recipes[:-1], member_recipes[1:])]


def plane_key(member_recipes: Sequence, profile: Profile) -> dict:
    """The cache key of `member_plane` (kind "transfer_plane")."""
    p = profile
    return {"members": list(member_recipes), "profile": p.name, "grid": p.transfer.plane_grid,
            "n_test": p.transfer.n_landscape}


def member_plane(member_recipes: Sequence, profile: Profile | str | None = None, *, cache=None, device=None,
                 progress=None) -> dict:
    """Train and test loss/error on the plane through three members (BN recomputed at every point; cached, kind
    "transfer_plane"). Returns `lsdl_ens.landscape.plane_grid`'s dict (numpy arrays)."""
    if len(member_recipes) != 3:
        raise ValueError(f"member_recipes must name exactly 3 members; got {len(member_recipes)}")
    p = get_profile(profile)
    sizes = p.transfer
    cache = cache or default_cache()

    def build():
        models = [load_member(r, cache=cache, device=device, progress=progress) for r in member_recipes]
        basis = plane_basis(*[m.state_dict() for m in models], keys=parameter_keys(models[0]))
        res = plane_grid(models[0], basis, _landscape_test(p, sizes.n_landscape),
                         bn_data=bn_loader(base_recipe(member_recipes[0])),
                         train_data=profile_transfer(p).target_train, grid=sizes.plane_grid, progress=progress)
        return {k: torch.as_tensor(v) for k, v in res.items()}, {}

    state, _ = cache.get_or_create("transfer_plane", plane_key(member_recipes, p), build)
    return {k: v.numpy() for k, v in state.items()}
