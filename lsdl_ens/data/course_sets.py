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
from .synthetic import synthetic_training_set

__all__ = ["cifar10_splits", "transfer_data", "profile_data", "profile_transfer", "check_data_source", "training_set",
           "AUGMENT_STRENGTHS", "augmentation_kwargs"]


@lru_cache(maxsize=8)
def cifar10_splits(n_train: int | None, n_val: int, n_test: int | None, seed: int = 0):
    """(train, val, test) ImageSets: val is class-balanced and held out of CIFAR-10 train; train is a
    class-balanced subset of the rest (None: all of it); test a class-balanced subset of the test set."""
    full_train, full_test = load_cifar10()
    train, val = train_val_split(full_train, n_val, seed)
    if n_train is not None:
        train = balanced_subset(train, n_train, seed + 1)
    test = full_test if n_test is None else balanced_subset(full_test, n_test, seed + 2)
    return train, val, test


@lru_cache(maxsize=8)
def transfer_data(n_source: int | None, n_target: int, n_target_val: int, n_test: int | None, seed: int = 0):
    """The `TransferSplit` for these sizes (see `lsdl_ens.data.transfer_split`)."""
    full_train, full_test = load_cifar10()
    return transfer_split(full_train, full_test, n_source=n_source, n_target=n_target, n_target_val=n_target_val,
                          n_test=n_test, seed=seed)


def profile_data(profile):
    """(train, val, test) of a run profile (`lsdl_ens.profiles.Profile`: its n_train, n_val, n_test)."""
    return cifar10_splits(profile.n_train, profile.n_val, profile.n_test)


def profile_transfer(profile):
    """The transfer split of a run profile (its n_source, n_target, n_test; the target validation set is as large
    as the labelled target set)."""
    return transfer_data(profile.n_source, profile.n_target, profile.n_target, profile.n_test)


def check_data_source(data):
    """Raise unless the CIFAR-10 copy `load_cifar10` reads is of the kind a recipe's data spec
    (`lsdl_ens.recipe_types.DataSpec`) names in ``source``, so that a run on one kind is never cached under a
    recipe of the other; returns `data`."""
    if data.source == "synthetic":
        raise ValueError("the recipe's data.source is 'synthetic' (blob images, no CIFAR-10 copy): only its training "
                         "set exists, through lsdl_ens.data.training_set(recipe.data); build the recipe on CIFAR-10 "
                         "(standard_recipe(...) names the copy found) for anything else")
    found = cifar10_source_kind()
    if data.source != found:
        raise ValueError(f"the recipe's data.source is {data.source!r} but the CIFAR-10 copy found (LSDL_DATA or the "
                         f"cache) is {found!r}; build the recipe again (standard_recipe(...) names the copy found) "
                         f"or point LSDL_DATA at a {data.source} copy")
    return data


def training_set(data) -> ImageSet:
    """The training set a recipe's data spec (`lsdl_ens.recipe_types.DataSpec`: ``name`` cifar10, source or target,
    its sizes, seed and source) names, after `check_data_source`; for ``source="synthetic"`` the blob images of
    `lsdl_ens.data.synthetic.synthetic_training_set` (no CIFAR-10 needed)."""
    if not all(hasattr(data, a) for a in ("name", "source", "seed")):
        raise TypeError(f"data must be a DataSpec (a recipe's .data), got {type(data).__name__}")
    if data.source == "synthetic":
        return synthetic_training_set(data)
    check_data_source(data)
    if data.name == "cifar10":
        return cifar10_splits(data.n_train, data.n_val, data.n_test, data.seed)[0]
    split = transfer_data(data.n_source, data.n_target, data.n_target_val, data.n_test, data.seed)
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
