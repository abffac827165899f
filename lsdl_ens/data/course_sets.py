"""The course's data sets: CIFAR-10 splits for given sizes or a run profile, the transfer split, the training set a
recipe's ``data`` entry names (CIFAR-10, or synthetic blob images), and the augmentation strengths a recipe may name.

Splits are deterministic in their sizes and seed and kept in memory (``functools.lru_cache``), so every chapter and
cached run asking for the same sizes gets the same images without decoding CIFAR-10 again.
"""

from __future__ import annotations

from functools import lru_cache

from .cifar import cifar10_source_kind, load_cifar10
from .dataset import ImageSet
from .splits import balanced_subset, train_val_split, transfer_split
from .synthetic import synthetic_cifar10

__all__ = ["cifar10_splits", "transfer_data", "full_sets", "profile_data", "profile_transfer", "profile_source",
           "check_data_source", "spec_source", "data_splits", "training_set", "AUGMENT_STRENGTHS",
           "augmentation_kwargs"]


SOURCES = (None, "synthetic")  # the `source` argument of the splits: the CIFAR-10 copy found, or synthetic images


def full_sets(source: str | None = None) -> tuple[ImageSet, ImageSet]:
    """(train, test) before any split: CIFAR-10 (`load_cifar10`, ``source=None``) or the synthetic blob images of
    `lsdl_ens.data.synthetic.synthetic_cifar10` (``source="synthetic"``)."""
    if source not in SOURCES:
        raise ValueError(f"source must be None (the CIFAR-10 copy found) or 'synthetic', got {source!r}")
    return synthetic_cifar10() if source == "synthetic" else load_cifar10()


@lru_cache(maxsize=8)
def cifar10_splits(n_train: int | None, n_val: int, n_test: int | None, seed: int = 0, source: str | None = None):
    """(train, val, test) ImageSets: val is class-balanced and held out of CIFAR-10 train; train is a
    class-balanced subset of the rest (None: all of it); test a class-balanced subset of the test set.
    ``source="synthetic"`` cuts the same splits from synthetic images (`full_sets`)."""
    full_train, full_test = full_sets(source)
    train, val = train_val_split(full_train, n_val, seed)
    if n_train is not None:
        train = balanced_subset(train, n_train, seed + 1)
    test = full_test if n_test is None else balanced_subset(full_test, n_test, seed + 2)
    return train, val, test


@lru_cache(maxsize=8)
def transfer_data(n_source: int | None, n_target: int, n_target_val: int, n_test: int | None, seed: int = 0,
                  source: str | None = None):
    """The `TransferSplit` for these sizes (see `lsdl_ens.data.transfer_split`); ``source`` as in
    `cifar10_splits`."""
    full_train, full_test = full_sets(source)
    return transfer_split(full_train, full_test, n_source=n_source, n_target=n_target, n_target_val=n_target_val,
                          n_test=n_test, seed=seed)


def profile_source(profile) -> str | None:
    """The `source` argument of the splits for a run profile (its ``data_source``: "cifar10" or "synthetic")."""
    return "synthetic" if profile.data_source == "synthetic" else None


def profile_data(profile):
    """(train, val, test) of a run profile (`lsdl_ens.profiles.Profile`: its n_train, n_val, n_test and
    data_source)."""
    return cifar10_splits(profile.n_train, profile.n_val, profile.n_test, source=profile_source(profile))


def profile_transfer(profile):
    """The transfer split of a run profile (its n_source, n_target, n_test and data_source; the target validation
    set is as large as the labelled target set)."""
    return transfer_data(profile.n_source, profile.n_target, profile.n_target, profile.n_test,
                         source=profile_source(profile))


def check_data_source(data):
    """Raise unless the CIFAR-10 copy `load_cifar10` reads is of the kind a recipe's data spec
    (`lsdl_ens.recipe_types.DataSpec`) names in ``source``, so that a run on one kind is never cached under a
    recipe of the other; returns `data`."""
    if data.source == "synthetic":
        raise ValueError("the recipe's data.source is 'synthetic' (blob images, no CIFAR-10 copy to check): read its "
                         "images with lsdl_ens.data.training_set(data) or data_splits(data), which cut them from "
                         "the synthetic set")
    found = cifar10_source_kind()
    if data.source != found:
        raise ValueError(f"the recipe's data.source is {data.source!r} but the CIFAR-10 copy found (LSDL_DATA or the "
                         f"cache) is {found!r}; build the recipe again (standard_recipe(...) names the copy found) "
                         f"or point LSDL_DATA at a {data.source} copy")
    return data


def spec_source(data) -> str | None:
    """The `source` argument of the splits for a recipe's data spec, after `check_data_source` for CIFAR-10."""
    if not all(hasattr(data, a) for a in ("name", "source", "seed")):
        raise TypeError(f"data must be a DataSpec (a recipe's .data), got {type(data).__name__}")
    if data.source == "synthetic":
        return "synthetic"
    check_data_source(data)
    return None


def data_splits(data):
    """(train, val, test) of a recipe's 10-class data spec (``name="cifar10"``): `cifar10_splits` of its sizes,
    seed and source, after `check_data_source`."""
    source = spec_source(data)
    if data.name != "cifar10":
        raise ValueError(f"data.name must be 'cifar10' for the 10-class splits, got {data.name!r}; the transfer "
                         "sides have training_set(data)")
    return cifar10_splits(data.n_train, data.n_val, data.n_test, data.seed, source)


def training_set(data) -> ImageSet:
    """The training set a recipe's data spec (`lsdl_ens.recipe_types.DataSpec`: ``name`` cifar10, source or target,
    its sizes, seed and source) names, after `check_data_source`; ``source="synthetic"`` cuts it from synthetic
    blob images (`lsdl_ens.data.synthetic`, no CIFAR-10 needed)."""
    source = spec_source(data)
    if data.name == "cifar10":
        return cifar10_splits(data.n_train, data.n_val, data.n_test, data.seed, source)[0]
    split = transfer_data(data.n_source, data.n_target, data.n_target_val, data.n_test, data.seed, source)
    return split.source_train if data.name == "source" else split.target_train


#: Augmentation strengths a recipe's ``augment`` field may name (``True`` = "standard", ``False`` = "none"):
#: random crop with zero padding ``crop_padding`` and horizontal flip, as `BatchLoader` keyword arguments.
AUGMENT_STRENGTHS = {
    "none": {"augment": False},
    "weak": {"augment": True, "crop_padding": 2, "flip": True},
    "standard": {"augment": True, "crop_padding": 4, "flip": True},
    "strong": {"augment": True, "crop_padding": 8, "flip": True},
}


def augmentation_kwargs(augment) -> dict:
    """`BatchLoader` keyword arguments for a recipe's ``augment`` field: a bool (crop pad 4 + flip, or nothing)
    or a strength name of `AUGMENT_STRENGTHS`."""
    if isinstance(augment, bool):
        return dict(AUGMENT_STRENGTHS["standard" if augment else "none"])
    if augment not in AUGMENT_STRENGTHS:
        raise ValueError(f"augment must be True, False or one of {list(AUGMENT_STRENGTHS)}; got {augment!r}")
    return dict(AUGMENT_STRENGTHS[augment])
