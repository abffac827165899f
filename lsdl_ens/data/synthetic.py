"""Synthetic coloured-blob images: a tiny stand-in for CIFAR-10 that a recipe can name as its data source.

``DataSpec(source="synthetic", ...)`` makes `lsdl_ens.data.training_set` return these images instead of CIFAR-10,
so a recipe trains in seconds without the data set on disk and is cached under a key of its own (the source is part
of the key). Image i has label i mod C and pixels

    x_i = clip(colour[label_i] + 30 * noise_i, 0, 255) as uint8,   colour ~ U(25, 225)^3 per class, noise ~ N(0, I),

all drawn from a generator seeded with ``seed``: the classes differ by their mean colour only, so a small network
learns them in an epoch or two. Not a benchmark: use it to exercise the training and caching machinery.
"""

from __future__ import annotations

import torch

from .. import checks
from .dataset import ImageSet

__all__ = ["blob_images", "synthetic_training_set"]


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


def synthetic_training_set(data) -> ImageSet:
    """The training set of a synthetic data spec: 32 x 32 blob images with the spec's ``seed``; ``name="cifar10"``
    gives ``n_train`` images of 10 classes, ``"source"`` ``n_source`` and ``"target"`` ``n_target`` images of 5
    classes each (the two sides use different seeds, so different colours)."""
    count = {"cifar10": "n_train", "source": "n_source", "target": "n_target"}[data.name]
    n = getattr(data, count)
    if n is None:
        raise ValueError(f"data.{count} must be an int >= 1 for synthetic data (how many images to make), got None")
    classes = 10 if data.name == "cifar10" else 5
    return blob_images(n, 32, classes, data.seed + (1000 if data.name == "target" else 0))
