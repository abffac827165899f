import pytest
import torch

from lsdl_ens.data import (SOURCE_CLASSES, TARGET_CLASSES, ImageSet, balanced_subset, train_val_split,
                           transfer_split)


def _toy(n_per_class=20, num_classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    images = torch.randint(0, 256, (len(labels), 3, 4, 4), generator=g, dtype=torch.uint8)
    return ImageSet(images, labels)


def test_train_val_split_is_disjoint_balanced_and_deterministic():
    data = _toy()
    train, val = train_val_split(data, 50, seed=3)
    assert len(train) + len(val) == len(data)
    assert val.class_counts().tolist() == [5] * 10
    seen = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in seen for x in val.images)
    again = train_val_split(data, 50, seed=3)[1]
    assert torch.equal(again.images, val.images)
    other = train_val_split(data, 50, seed=4)[1]
    assert not torch.equal(other.images, val.images)


def test_balanced_subset_counts_and_errors():
    data = _toy()
    sub = balanced_subset(data, 23, seed=0)
    assert sub.class_counts().tolist() == [3, 3, 3] + [2] * 7
    with pytest.raises(ValueError, match="n must be between"):
        balanced_subset(data, 10_000)


def test_transfer_split_classes_and_disjointness():
    train, test = _toy(30), _toy(10, seed=1)
    split = transfer_split(train, test, n_target=50, n_target_val=50, seed=0)
    assert split.source_train.classes == SOURCE_CLASSES and split.target_train.classes == TARGET_CLASSES
    assert len(split.source_train) == 150 and split.target_train.class_counts().tolist() == [10] * 5
    assert split.target_val.class_counts().tolist() == [10] * 5
    a = {bytes(x.numpy()) for x in split.target_train.images}
    assert not any(bytes(x.numpy()) in a for x in split.target_val.images)
    # relabelled: "dog" (CIFAR label 5) is target label 0
    dog_images = train.images[train.labels == 5]
    first = split.target_test  # test side relabelled likewise
    assert set(first.labels.tolist()) == {0, 1, 2, 3, 4}
    assert any(torch.equal(split.target_train.images[0], d) for d in dog_images)
    assert int(split.target_train.labels[0]) == 0


def test_imageset_validates_inputs():
    with pytest.raises(ValueError, match="images must be a uint8"):
        ImageSet(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="rows but labels"):
        ImageSet(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="class_names has unknown"):
        _toy().select_classes(["unicorn"])
