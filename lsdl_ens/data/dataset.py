"""`ImageSet`: an in-memory labelled image set (uint8 images, int64 labels).

Everything in the course keeps CIFAR-10 as two tensors in memory: 60,000 x 3 x 32 x 32 bytes is 184 MB, so
there is no need for a `DataLoader`, per-sample PIL decoding or worker processes. Batches are built by
`lsdl_ens.data.BatchLoader` directly from these tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
# Per-channel statistics of the CIFAR-10 training set (torchvision's PNG data) in [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class ImageSet:
    """Images and labels held in memory.

    Attributes:
        images: uint8 tensor [N, 3, H, W].
        labels: int64 tensor [N].
        classes: class names in label order.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = field(default=CIFAR10_CLASSES)

    def __post_init__(self):
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError("images must be a uint8 tensor of shape [N, 3, H, W]; "
                             f"got {getattr(self.images, 'dtype', type(self.images))} "
                             f"with shape {tuple(getattr(self.images, 'shape', ()))}")
        if not isinstance(self.labels, torch.Tensor) or self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise ValueError("labels must be an int64 tensor of shape [N]")
        if len(self.images) != len(self.labels):
            raise ValueError(f"images has {len(self.images)} rows but labels has {len(self.labels)}")
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes) - 1}] to match the "
                             f"{len(self.classes)} classes")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices) -> ImageSet:
        """The examples at `indices` (a tensor or list of ints), same classes."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ImageSet(self.images[idx], self.labels[idx], self.classes)

    def select_classes(self, class_names) -> ImageSet:
        """Keep only the named classes and relabel them 0..k-1 in the order given."""
        unknown = [c for c in class_names if c not in self.classes]
        if unknown:
            raise ValueError(f"class_names has unknown classes {unknown}; valid: {self.classes}")
        old = torch.tensor([self.classes.index(c) for c in class_names])
        keep = torch.isin(self.labels, old)
        remap = torch.full((len(self.classes),), -1, dtype=torch.long)
        remap[old] = torch.arange(len(old))
        return ImageSet(self.images[keep], remap[self.labels[keep]], tuple(class_names))

    def class_counts(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=self.num_classes)

    def with_images(self, images: torch.Tensor) -> ImageSet:
        """The same labels with other images (e.g. a corrupted copy)."""
        return ImageSet(images, self.labels, self.classes)
