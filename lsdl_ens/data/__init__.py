"""CIFAR-10 in memory: loading, splits (the course's, by sizes or run profile, and the transfer split), batching with
augmentation (and the strengths a recipe may name), CIFAR-10-C style corruptions, and synthetic blob images a recipe
may train on instead (``DataSpec(source="synthetic")``)."""

from .cifar import DataNotFoundError, cifar10_source_kind, load_cifar10
from .cifar_sources import DataSourceError
from .course_sets import (AUGMENT_STRENGTHS, augmentation_kwargs, check_data_source, cifar10_splits, data_splits,
                          full_sets, profile_data, profile_source, profile_transfer, spec_source, training_set,
                          transfer_data)
from .dataset import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, ImageSet
from .loader import BatchLoader, as_loader, random_crop_flip
from .synthetic import blob_images, synthetic_cifar10
from .splits import (SOURCE_CLASSES, TARGET_CLASSES, TransferSplit, balanced_subset, train_val_split,
                     transfer_split)

__all__ = [
    "AUGMENT_STRENGTHS", "augmentation_kwargs", "check_data_source", "cifar10_splits", "data_splits", "full_sets",
    "profile_data", "profile_source", "profile_transfer", "spec_source", "synthetic_cifar10", "training_set",
    "transfer_data",
    "CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "CORRUPTIONS", "BatchLoader", "DataNotFoundError",
    "DataSourceError", "ImageSet", "SOURCE_CLASSES", "TARGET_CLASSES", "TransferSplit", "as_loader",
    "balanced_subset", "blob_images", "cifar10_source_kind", "corrupt", "load_cifar10", "random_crop_flip",
    "train_val_split", "transfer_split",
]


def __getattr__(name):  # corruptions are imported on first use (they are not needed for training)
    if name in ("corrupt", "CORRUPTIONS"):
        from . import corruptions

        return getattr(corruptions, name)
    raise AttributeError(f"module 'lsdl_ens.data' has no attribute {name!r}")
