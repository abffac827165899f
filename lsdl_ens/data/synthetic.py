"""Synthetic coloured-blob images: a tiny stand-in for CIFAR-10 that a recipe or a run profile can name as its data.

``DataSpec(source="synthetic", ...)`` (or a profile with ``data_source="synthetic"``) makes the course's splits
(`lsdl_ens.data.cifar10_splits`, `transfer_data`, `training_set`, `profile_data`, `profile_transfer`) cut
``synthetic_cifar10()`` instead of CIFAR-10, with the same sizes, seeds and class names, so a run trains in seconds
without the data set on disk and is cached under keys of its own (the source is part of a recipe's key).

Image i has label i mod C and pixels

    x_i = clip(colour[label_i] + 30 * noise_i, 0, 255) as uint8,   colour ~ U(25, 225)^3 per class, noise ~ N(0, I),

all drawn from a generator seeded with ``seed``: the classes differ by their mean colour only, so a small network
learns them in an epoch or two. Not a benchmark: use it to exercise the training and caching machinery.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .. import checks
from .dataset import ImageSet

__all__ = ["blob_images", "synthetic_cifar10", "SYNTHETIC_TRAIN", "SYNTHETIC_TEST"]

#: images of the synthetic "train" and "test" sets (enough for the smoke profile's splits)
SYNTHETIC_TRAIN, SYNTHETIC_TEST = 5_000, 2_000


def blob_images(n: int = 64, size: int = 32, num_classes: int = 10, seed: int = 0) -> ImageSet:
    """``n`` uint8 images [n, 3, size, size] whose mean colour depends on the label (formula in the module
    docstring), labels ``0, 1, ..., C - 1, 0, 1, ...``."""
    checks.positive_int("n", n, "pass the number of images, e.g. 64")
    checks.positive_int("size", size, "pass the image side in pixels, e.g. 32")
    checks.positive_int("num_classes", num_classes, "pass the number of classes, e.g. 10")
    checks.nonneg_int("seed", seed)
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    colours = torch.rand(num_classes, 3, 1, 1, generator=g) * 200 + 25
    noise = torch.randn(n, 3, size, size, generator=g) * 30
    images = (colours[labels] + noise).clamp(0, 255).to(torch.uint8)
    return ImageSet(images, labels.long())


@lru_cache(maxsize=1)
def synthetic_cifar10() -> tuple[ImageSet, ImageSet]:
    """(train, test): ``SYNTHETIC_TRAIN`` and ``SYNTHETIC_TEST`` 32 x 32 blob images of the ten CIFAR-10 classes
    (one colour per class shared by both sets, seed 0), in place of `lsdl_ens.data.load_cifar10`."""
    blobs = blob_images(SYNTHETIC_TRAIN + SYNTHETIC_TEST, 32, 10, seed=0)
    cut = SYNTHETIC_TRAIN
    return (ImageSet(blobs.images[:cut], blobs.labels[:cut]), ImageSet(blobs.images[cut:], blobs.labels[cut:]))
