"""The evaluation protocol and sizes shared by the cached landscape experiments (`experiments.py`, `spawning.py`).

Every driver reads its sizes from the run profile (its ``landscape`` section), and stores its
result in the checkpoint cache (`lsdl_ens.cache.default_cache`) under a recipe naming everything that determines
it, so a second run of the chapter only reads files.

Evaluation protocol shared by all drivers (`landscape_data`):
    * test error / loss on a fixed class-balanced subset of the profile's test set (``n_eval`` images);
    * "train" loss / error on a fixed class-balanced subset of the training set (``n_train_eval`` images, not
      augmented; the reference evaluates on augmented batches in eval mode);
    * BatchNorm recomputed at every point (``lsdl_ens.bn.update_bn``) on the first ``n_bn_batches`` augmented
      training batches of epoch 0 (the same batches at every point).

The ``landscape`` section (`lsdl_ens.profiles.sections.LandscapeSizes`) gives the evaluation sizes, the points on
paths, curves and planes, the spawn epochs and the epochs of the random-init target models.

The cpu section is sized so that the whole chapter (two curves, one plane, the spawn sweep, the transfer models)
fits in about ten minutes of two idle cores on a cold cache: the model training dominates, evaluation sets are
1,000 images (error resolution 0.1 point, far below the barriers measured).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ..cache import default_cache
from ..data import BatchLoader, ImageSet, balanced_subset, profile_data, profile_transfer
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import load_state, train
from ..train import default_device
from .linear import linear_path

__all__ = ["landscape_data", "bn_batches", "cached_arrays", "protocol_key", "pair_path"]

def bn_batches(train_set: ImageSet, p: Profile, seed: int = 0) -> list:
    """The first `p.n_bn_batches` augmented training batches of epoch 0 (all of them if None)."""
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
    p = get_profile(profile)
    sizes = p.landscape
    if domain == "cifar10":
        train_set, _, test_set = profile_data(p)
    elif domain == "target":
        split = profile_transfer(p)
        train_set, test_set = split.target_train, split.target_test
    else:
        raise ValueError(f"domain must be 'cifar10' or 'target'; got {domain!r}")
    eval_set = balanced_subset(test_set, min(sizes.n_eval, len(test_set)), seed=11)
    train_eval = balanced_subset(train_set, min(sizes.n_train_eval, len(train_set)), seed=12)
    return {"eval": eval_set, "train_eval": train_eval, "bn": bn_batches(train_set, p), "train": train_set}


def cached_arrays(kind: str, recipe: dict, build) -> dict:
    """Cache a dict of numpy arrays (stored as tensors) under `recipe`."""
    def wrapped():
        out = build()
        return {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in out.items()}, {}

    state, _ = default_cache().get_or_create(kind, recipe, wrapped)
    return {k: v.numpy() for k, v in state.items()}


def protocol_key(p: Profile, domain: str = "cifar10") -> dict:
    """What determines an evaluation under the protocol (part of every cached result's recipe)."""
    sizes = p.landscape
    return {"profile": p.name, "domain": domain, "n_eval": sizes.n_eval, "n_train_eval": sizes.n_train_eval,
            "n_bn_batches": p.n_bn_batches, "batch_size": p.batch_size}


def pair_path(p: Profile, recipe_a: Recipe, recipe_b: Recipe, n_alphas: int, domain: str = "cifar10",
              states=None, tags=None) -> dict:
    """Cached linear path (test and train loss/error) between two recipes' models.

    With `states` = (state_a, state_b), the recipes give the architecture and, with `tags` (two JSON values added
    to the cache key), name the states."""
    key = {"a": recipe_a, "b": recipe_b, "n_alphas": n_alphas, "protocol": protocol_key(p, domain),
           "given_states": states is not None}
    if tags is not None:
        key["tags"] = list(tags)

    def build():
        data = landscape_data(p, domain)
        if states is not None:
            a, b = states
        else:
            a, b = train(recipe_a)[0].state_dict(), train(recipe_b)[0].state_dict()
        template = load_state(recipe_a, a).to(default_device())  # evaluated where the models were trained
        return linear_path(template, a, b, data["eval"], bn_data=data["bn"], train_data=data["train_eval"],
                           alphas=np.linspace(0.0, 1.0, n_alphas))

    return cached_arrays("landscape_path", key, build)
