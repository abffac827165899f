"""Out-of-distribution evaluation: every corruption of `lsdl_ens.data.CORRUPTIONS` at severities 1..5.

The corrupted test sets are built once per (profile, corruption, severity) and kept in memory: a class-balanced
subset of `n_ood` target test images (seed 0), corrupted with ``corrupt(images, name, severity, seed=...)`` where the
seed is fixed per (corruption, severity), so every member and every run sees the same images. Member predictions on
all 5 x len(CORRUPTIONS) sets are cached (kind "transfer_ood"). Results are reported as the mean accuracy over
corruptions per severity, as the reference does for CIFAR-100-C.

Reference: Sadrtdinov et al., NeurIPS 2023 (OOD ensembles and soups on CIFAR-100-C, 19 corruptions x 5 severities);
Hendrycks & Dietterich, ICLR 2019. Deviation: 18 corruptions (no spatter; see `lsdl_ens.data.corruptions`).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..cache import default_cache
from ..data import ImageSet, balanced_subset, profile_transfer
from ..metrics import accuracy
from ..profiles import Profile, get_profile
from ..train import predict_probs
from .runs import load_member

__all__ = ["SEVERITIES", "ood_sets", "ood_probs", "ood_accuracy"]

SEVERITIES = (1, 2, 3, 4, 5)


def _corruptions():
    from ..data import CORRUPTIONS

    return tuple(CORRUPTIONS)


@lru_cache(maxsize=256)
def _corrupted(p: Profile, n: int, name: str, severity: int) -> ImageSet:
    from ..data import corrupt

    base = _clean(p, n)
    seed = 1000 * _corruptions().index(name) + severity
    return base.with_images(corrupt(base.images, name, severity, seed=seed))


@lru_cache(maxsize=4)
def _clean(p: Profile, n: int) -> ImageSet:
    test = profile_transfer(p).target_test
    return test if n >= len(test) else balanced_subset(test, n, seed=0)


def ood_sets(profile: Profile | str | None = None) -> dict:
    """``{(name, severity): ImageSet}`` of the profile's corrupted target test sets (built once, in memory)."""
    p = get_profile(profile)
    n = p.transfer.n_ood
    return {(c, s): _corrupted(p, n, c, s) for c in _corruptions() for s in SEVERITIES}


def ood_labels(profile: Profile | str | None = None) -> torch.Tensor:
    p = get_profile(profile)
    return _clean(p, p.transfer.n_ood).labels


def ood_probs(recipe: dict, profile: Profile | str | None = None, *, cache=None, device=None,
              progress=None) -> torch.Tensor:
    """Probabilities of one member (or soup) on every corrupted set: [len(SEVERITIES), len(CORRUPTIONS), n, C]."""
    p = get_profile(profile)
    cache = cache or default_cache()
    key = {"member": recipe, "ood": {"profile": p.name, "n": p.transfer.n_ood, "n_source": p.n_source,
                                     "n_target": p.n_target, "n_test": p.n_test,
                                     "corruptions": list(_corruptions()), "severities": list(SEVERITIES)}}

    def build():
        model = load_member(recipe, cache=cache, device=device, progress=progress)
        sets = ood_sets(p)
        probs = torch.stack([torch.stack([predict_probs(model, sets[(c, s)], device=device) for c in _corruptions()])
                             for s in SEVERITIES])
        return {"probs": probs}, {}

    state, _ = cache.get_or_create("transfer_ood", key, build)
    return state["probs"].float()


def ood_accuracy(probs_list, labels: torch.Tensor) -> list[float]:
    """Mean accuracy over corruptions per severity of the probability-averaged ensemble of `probs_list` (each
    [S, K, n, C] from `ood_probs`); a single model is a list of one."""
    probs_list = list(probs_list)
    if not probs_list:
        raise ValueError("probs_list is empty")
    mean = torch.stack(probs_list).mean(0)  # arithmetic mean of probabilities (Deep Ensembles)
    return [sum(accuracy(mean[s, c], labels) for c in range(mean.shape[1])) / mean.shape[1]
            for s in range(mean.shape[0])]
