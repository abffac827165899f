"""Deterministic, class-balanced splits of an `ImageSet`.

- `train_val_split`: hold out a validation split from train (greedy soups, temperature scaling, prior tuning).
- `balanced_subset`: a fixed-size subset with (as nearly as possible) equal counts per class.
- `transfer_split`: CIFAR-10 cut in two: *source* classes for pre-training, *target* classes for fine-tuning,
  with a small labelled target training set. This stands in for "ImageNet pre-training -> CIFAR fine-tuning"
  in the transfer-learning chapters, since no other data set exists offline.

Every split is a pure function of its arguments and `seed`: the same call gives the same indices on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .dataset import ImageSet

SOURCE_CLASSES = ("airplane", "automobile", "bird", "cat", "deer")
TARGET_CLASSES = ("dog", "frog", "horse", "ship", "truck")


def _per_class_permutations(labels: torch.Tensor, num_classes: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    perms = []
    for c in range(num_classes):
        idx = torch.nonzero(labels == c).flatten()
        perms.append(idx[torch.randperm(len(idx), generator=gen)])
    return perms


def _balanced_indices(data: ImageSet, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of a class-balanced subset of size n and of the rest (both sorted)."""
    if not 0 <= n <= len(data):
        raise ValueError(f"n must be between 0 and len(data)={len(data)}; got {n}")
    perms = _per_class_permutations(data.labels, data.num_classes, seed)
    quota = [n // data.num_classes + (1 if c < n % data.num_classes else 0) for c in range(data.num_classes)]
    short = [c for c in range(data.num_classes) if quota[c] > len(perms[c])]
    if short:
        raise ValueError(f"n={n} asks for more examples of classes {short} than the data holds; use a smaller n")
    chosen = torch.cat([p[:q] for p, q in zip(perms, quota)])
    rest = torch.cat([p[q:] for p, q in zip(perms, quota)])
    return chosen.sort().values, rest.sort().values


def balanced_subset(data: ImageSet, n: int, seed: int = 0) -> ImageSet:
    """A class-balanced subset of `n` examples (class c gets n // C, the first n % C classes one more)."""
    chosen, _ = _balanced_indices(data, n, seed)
    return data.subset(chosen)


def train_val_split(train: ImageSet, n_val: int = 5000, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Split `train` into (train', val) with a class-balanced validation set of `n_val` examples."""
    val_idx, train_idx = _balanced_indices(train, n_val, seed)
    return train.subset(train_idx), train.subset(val_idx)


@dataclass(frozen=True)
class TransferSplit:
    """Source/target split of CIFAR-10 for the transfer-learning chapters.

    Attributes:
        source_train, source_test: the source classes (labels 0..4 in SOURCE_CLASSES order), for pre-training.
        target_train: a small labelled set of the target classes (labels 0..4 in TARGET_CLASSES order).
        target_val: held-out target examples from the training images (greedy soups, prior tuning).
        target_test: the target classes of the CIFAR-10 test set.
    """

    source_train: ImageSet
    source_test: ImageSet
    target_train: ImageSet
    target_val: ImageSet
    target_test: ImageSet


def transfer_split(train: ImageSet, test: ImageSet, *, n_source: int | None = None, n_target: int = 1000,
                   n_target_val: int = 1000, n_test: int | None = None, seed: int = 0) -> TransferSplit:
    """Cut CIFAR-10 into source classes for pre-training and target classes for fine-tuning.

    Args:
        n_source: size of the source training set (None: all 25,000 source images).
        n_target: labelled target training examples (class balanced).
        n_target_val: target validation examples, disjoint from `n_target`.
        n_test: size of each test set (None: all 5,000 images of its classes).
        seed: controls every random choice.
    """
    source = train.select_classes(SOURCE_CLASSES)
    target = train.select_classes(TARGET_CLASSES)
    source_test = test.select_classes(SOURCE_CLASSES)
    target_test = test.select_classes(TARGET_CLASSES)
    if n_source is not None:
        source = balanced_subset(source, n_source, seed)
    target_val_idx, rest = _balanced_indices(target, n_target_val, seed + 1)
    target_val = target.subset(target_val_idx)
    target_train = balanced_subset(target.subset(rest), n_target, seed + 2)
    if n_test is not None:
        source_test = balanced_subset(source_test, n_test, seed + 3)
        target_test = balanced_subset(target_test, n_test, seed + 4)
    return TransferSplit(source, source_test, target_train, target_val, target_test)
