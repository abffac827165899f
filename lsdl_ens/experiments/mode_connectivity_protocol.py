"""The evaluation protocol of the mode-connectivity chapter and its cached linear paths.

Every cached result of the chapter (`lsdl_ens.experiments.mode_connectivity`) is evaluated the same way
(`landscape_data`):
    * test error / loss on a fixed class-balanced subset of the profile's test set (``landscape.n_eval`` images);
    * "train" loss / error on a fixed class-balanced subset of the training set (``landscape.n_train_eval``
      images, not augmented; the reference evaluates on augmented batches in eval mode);
    * BatchNorm recomputed at every point (``lsdl_ens.bn.update_bn``) on the first ``n_bn_batches`` augmented
      training batches of epoch 0 (the same batches at every point).

A result is stored in the checkpoint cache under a key naming everything that determines it (`protocol_key`
plus the recipes of the networks), so a second run of the chapter only reads files. Sizes come from the
profile's ``landscape`` section (`lsdl_ens.profiles.sections.LandscapeSizes`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from ..cache import default_cache
from ..data import BatchLoader, ImageSet, balanced_subset, profile_data, profile_transfer
from ..landscape import linear_path
from ..profiles import Profile, get_profile
from ..recipe_types import Recipe
from ..recipes import load_state, train
from ..train import default_device

__all__ = ["landscape_data", "bn_batches", "cached_arrays", "protocol_key", "PathRun", "path_results",
           "pair_path", "DOMAINS"]

#: the tasks a path is evaluated on: CIFAR-10 or the five target classes of the transfer split
DOMAINS = ("cifar10", "target")


def bn_batches(train_set: ImageSet, p: Profile, seed: int = 0) -> list:
    """The first `p.n_bn_batches` augmented training batches of epoch 0 (all of them if None)."""
    loader = BatchLoader(train_set, p.batch_size, shuffle=True, augment=True, seed=seed)
    n = p.n_bn_batches if p.n_bn_batches is not None else len(loader)
    return list(itertools.islice(loader.iterate(epoch=0), n))


def _check_domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise ValueError(f"domain must be 'cifar10' or 'target'; got {domain!r}")
    return domain


def landscape_data(profile=None, domain: str = "cifar10") -> dict:
    """Evaluation, train-evaluation and BN batches of the protocol (see the module docstring).

    Args:
        domain: ``"cifar10"`` (the standard 10-class task) or ``"target"`` (the five target classes of the
            transfer split; ``n_train_eval`` is capped by the labelled target set).

    Returns:
        ``{"eval": ImageSet, "train_eval": ImageSet, "bn": [(x, y), ...], "train": ImageSet}``.
    """
    p = get_profile(profile)
    sizes = p.landscape
    if _check_domain(domain) == "cifar10":
        train_set, _, test_set = profile_data(p)
    else:
        split = profile_transfer(p)
        train_set, test_set = split.target_train, split.target_test
    eval_set = balanced_subset(test_set, min(sizes.n_eval, len(test_set)), seed=11)
    train_eval = balanced_subset(train_set, min(sizes.n_train_eval, len(train_set)), seed=12)
    return {"eval": eval_set, "train_eval": train_eval, "bn": bn_batches(train_set, p), "train": train_set}


def cached_arrays(kind: str, key: dict, build) -> dict:
    """Cache a dict of numpy arrays (stored as float64 tensors) under `key`; returns numpy arrays."""
    def wrapped():
        out = build()
        return {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in out.items()}, {}

    state, _ = default_cache().get_or_create(kind, key, wrapped)
    return {k: v.numpy() for k, v in state.items()}


def protocol_key(p: Profile, domain: str = "cifar10") -> dict:
    """What determines an evaluation under the protocol (part of every cached result's key)."""
    sizes = p.landscape
    return {"profile": p.name, "domain": _check_domain(domain), "n_eval": sizes.n_eval,
            "n_train_eval": sizes.n_train_eval, "n_bn_batches": p.n_bn_batches, "batch_size": p.batch_size,
            "data_source": p.data_source}


@dataclass(frozen=True)
class PathRun:
    """The straight segment between the trained networks of two recipes, evaluated at ``n_alphas`` points under
    the protocol of ``profile`` on ``domain``. Its cache key is `key()` (kind ``"landscape_path"``)."""

    profile: Profile
    a: Recipe
    b: Recipe
    n_alphas: int
    domain: str = "cifar10"

    def __post_init__(self):
        if not isinstance(self.a, Recipe) or not isinstance(self.b, Recipe):
            raise TypeError("a and b must be Recipes (standard_recipe(profile, seed))")
        _check_domain(self.domain)

    def key(self, tags=None) -> dict:
        key = {"a": self.a, "b": self.b, "n_alphas": self.n_alphas, "protocol": protocol_key(self.profile,
                                                                                            self.domain),
               "given_states": tags is not None}
        if tags is not None:
            key["tags"] = list(tags)
        return key


def path_results(run: PathRun) -> dict:
    """Test and train loss/error on the segment of `run` (cached): ``alphas``, ``loss``, ``error``,
    ``train_loss``, ``train_error``."""
    return pair_path(run.profile, run.a, run.b, run.n_alphas, domain=run.domain)


def pair_path(p: Profile, recipe_a: Recipe, recipe_b: Recipe, n_alphas: int, domain: str = "cifar10",
              states=None, tags=None) -> dict:
    """Cached linear path (test and train loss/error) between two recipes' models.

    With `states` = (state_a, state_b), the recipes give only the architecture and `tags` (two JSON values, part
    of the cache key) name the states."""
    if (states is None) != (tags is None):
        raise ValueError("states and tags go together: pass both (given states and the names that key them) "
                         "or neither")
    key = PathRun(p, recipe_a, recipe_b, n_alphas, domain).key(tags)

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
