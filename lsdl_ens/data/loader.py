"""`BatchLoader`: batches straight from in-memory uint8 tensors, with batched augmentation.

No `DataLoader`, no PIL per step: a batch is an index into the uint8 tensor, randomly cropped (zero padding 4, one
gather for the whole batch), flipped, converted to float and normalised. On an accelerator the whole uint8 set is
copied to the device once (`resident`, default on for non-CPU devices; CIFAR-10's 50k images take 150 MB) and
cropping and flipping run there; otherwise each batch is copied from pinned memory without blocking.
Shuffling and augmentation draw from a `torch.Generator` seeded by `(seed, epoch)`, so epoch e of a run is the
same on every machine and does not depend on how many epochs were iterated before.

With ``views=d`` every batch is returned as d differently augmented copies of the same images (Lookaround).
"""

from __future__ import annotations

import torch

from ..checks import positive_int
from .dataset import CIFAR10_MEAN, CIFAR10_STD, ImageSet


def random_crop_flip(images: torch.Tensor, generator: torch.Generator, padding: int = 4,
                     flip: bool = True) -> torch.Tensor:
    """Random crop with zero padding and horizontal flip, for a whole uint8 batch [B, C, H, W] at once."""
    b, c, h, w = images.shape
    out = images
    if padding > 0:
        hp, wp = h + 2 * padding, w + 2 * padding
        padded = images.new_zeros((b, c, hp, wp))
        padded[:, :, padding:padding + h, padding:padding + w] = images
        dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(images.device)
        dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(images.device)
        # one gather over the flattened padded images: pixel (i, j) of crop n is padded[n, :, dy+i, dx+j]
        rows = torch.arange(h, device=images.device)[None, :, None] * wp
        cols = torch.arange(w, device=images.device)[None, None, :]
        index = ((dy * wp + dx)[:, None, None] + rows + cols).view(b, 1, h * w).expand(b, c, h * w)
        out = torch.gather(padded.view(b, c, hp * wp), 2, index).view(b, c, h, w)
    if flip:
        mask = (torch.rand(b, generator=generator) < 0.5).to(images.device)
        out = torch.where(mask[:, None, None, None], out.flip(-1), out)
    return out.contiguous()


class BatchLoader:
    """Iterate over an `ImageSet` in batches of normalised float tensors.

    Args:
        data: the images and labels.
        batch_size: examples per batch.
        shuffle: draw a new order every epoch.
        augment: random crop (pad `crop_padding`) and horizontal flip.
        views: number of independently augmented copies of each batch (1: yield `(x, y)`; d > 1: yield
            `(xs, y)` with `xs` a tuple of d tensors).
        drop_last: drop the last incomplete batch.
        seed: base seed of the order and the augmentation.
        device: where batches are put (default: CPU).
        resident: keep the uint8 images on `device` (default: True unless the device is the CPU).
        mean, std: normalisation per channel.

    Iterating twice gives epochs 0 and 1; `iterate(epoch=e, seed=s)` gives a chosen epoch explicitly.
    """

    def __init__(self, data: ImageSet, batch_size: int = 128, *, shuffle: bool = False, augment: bool = False,
                 views: int = 1, drop_last: bool = False, seed: int = 0, device: str | torch.device | None = None,
                 mean=CIFAR10_MEAN, std=CIFAR10_STD, crop_padding: int = 4, flip: bool = True,
                 resident: bool | None = None):
        if not isinstance(data, ImageSet):
            raise ValueError(f"data must be an lsdl_ens.data.ImageSet; got {type(data).__name__}")
        batch_size = positive_int("batch_size", batch_size, fix="pass a whole number of examples per batch, e.g. 128")
        if views < 1:
            raise ValueError(f"views must be >= 1; got {views}")
        if views > 1 and not augment:
            raise ValueError("views > 1 needs augment=True (otherwise all views are identical)")
        self.data = data
        self.batch_size = batch_size
        self.shuffle, self.augment, self.views, self.drop_last = shuffle, augment, views, drop_last
        self.seed = seed
        self.crop_padding, self.flip = crop_padding, flip
        self.resident = resident
        self._mean_cpu = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255
        self._std_cpu = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255
        self._epoch = 0
        self.to(device if device is not None else "cpu")

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.data)

    def to(self, device) -> BatchLoader:
        """The same loader putting batches on `device`."""
        device = torch.device(device)
        if getattr(self, "device", None) != device:
            self.device = device
            self._mean, self._std = self._mean_cpu.to(device), self._std_cpu.to(device)
            self._images = self._labels = None  # the resident copy is made on the first iteration
        return self

    @property
    def is_resident(self) -> bool:
        return self.resident if self.resident is not None else self.device.type != "cpu"

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """`t` on this loader's device (itself if already there); host tensors go through pinned memory to CUDA."""
        if t.device.type == "cpu" and self.device.type == "cuda" and torch.cuda.is_available():
            t = t.pin_memory()  # a non-blocking copy needs page-locked memory
        return t.to(self.device, non_blocking=True)

    def _source(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels to index: the device copy when resident, else the CPU tensors."""
        if not self.is_resident:
            return self.data.images, self.data.labels
        if self._images is None:
            self._images, self._labels = self._to_device(self.data.images), self._to_device(self.data.labels)
        return self._images, self._labels

    def normalize(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 [B, C, H, W] -> float32 normalised, on this loader's device."""
        return (self._to_device(images_uint8).float() - self._mean) / self._std

    def __iter__(self):
        epoch = self._epoch
        self._epoch += 1
        return self.iterate(epoch=epoch)

    def iterate(self, epoch: int = 0, seed: int | None = None):
        """Yield the batches of epoch `epoch` (order and augmentation depend only on `seed` and `epoch`)."""
        base = self.seed if seed is None else seed
        gen = torch.Generator().manual_seed(int(base) * 1_000_003 + int(epoch))
        n = len(self.data)
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        images, labels = self._source()
        order = order.to(images.device)  # one copy per epoch
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            raw = images[idx]
            y = self._to_device(labels[idx])
            if not self.augment:
                yield self.normalize(raw), y
                continue
            xs = tuple(self.normalize(random_crop_flip(raw, gen, self.crop_padding, self.flip))
                       for _ in range(self.views))
            yield (xs[0] if self.views == 1 else xs), y


def as_loader(data, batch_size: int = 512, device=None) -> BatchLoader | object:
    """An evaluation loader for `data` (an `ImageSet`), or `data` itself if it is already iterable batches."""
    if isinstance(data, ImageSet):
        return BatchLoader(data, batch_size, shuffle=False, augment=False, device=device)
    return data
