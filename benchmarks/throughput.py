"""Training throughput: lsdl_ens's in-memory BatchLoader vs a torchvision DataLoader + transforms baseline.

Same model, same images, same batch size and augmentation (pad-4 random crop, horizontal flip, normalisation),
one SGD step per batch, measured in one run so both see the same machine load. Prints images/s and the ratio.

    python benchmarks/throughput.py [--model vgg] [--images 5120] [--workers 0 2]

Uses $LSDL_DATA (or torchvision's download) for real CIFAR-10 images.
"""

from __future__ import annotations

import argparse
import time

import torch
import torchvision.transforms as T
from PIL import Image

from lsdl_ens.data import CIFAR10_MEAN, CIFAR10_STD, BatchLoader, load_cifar10
from lsdl_ens.data.splits import balanced_subset
from lsdl_ens.models import build_model


class PILDataset(torch.utils.data.Dataset):
    """torchvision-style CIFAR dataset: one PIL image per item through `transform` (as torchvision.CIFAR10)."""

    def __init__(self, images, labels, transform):
        self.images = images.permute(0, 2, 3, 1).numpy()
        self.labels = labels
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def train_images_per_second(model, batches, n_images, warmup: int = 3) -> float:
    """Images/s of SGD steps over `batches`, after `warmup` untimed steps (allocator, kernel selection)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    it = iter(batches)
    for _ in range(warmup):
        x, y = next(it)
        torch.nn.functional.cross_entropy(model(x), y).backward()
    start, seen = time.perf_counter(), 0
    for x, y in it:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
        if seen >= n_images:
            break
    return seen / (time.perf_counter() - start)


def data_images_per_second(batches, n_images) -> float:
    start, seen = time.perf_counter(), 0
    for _, y in batches:
        seen += len(y)
        if seen >= n_images:
            break
    return seen / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg")
    parser.add_argument("--images", type=int, default=5120)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--repeats", type=int, default=3, help="median over this many alternating runs")
    args = parser.parse_args(argv)

    train, _ = load_cifar10()
    data = balanced_subset(train, args.images, seed=0)
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, "
          f"{args.images} images, batch {args.batch_size}")
    def run(what, make_batches):
        torch.manual_seed(0)
        if what == "data only":
            return data_images_per_second(make_batches(), args.images)
        return train_images_per_second(build_model(args.model), make_batches(), args.images)

    def ours_batches():
        return BatchLoader(data, args.batch_size, shuffle=True, augment=True, seed=0)

    def baseline_batches(workers):
        return lambda: torch.utils.data.DataLoader(PILDataset(data.images, data.labels, transform),
                                                   args.batch_size, shuffle=True, num_workers=workers)

    rows = []
    for what in ("data only", "train step"):
        for workers in args.workers:
            ours, base = [], []
            for _ in range(args.repeats):  # alternate so both see the same machine load
                ours.append(run(what, ours_batches))
                base.append(run(what, baseline_batches(workers)))
            rows.append((what, workers, sorted(ours)[len(ours) // 2], sorted(base)[len(base) // 2]))
    print(f"{'measure':<11} {'workers':>7} {'BatchLoader img/s':>18} {'DataLoader img/s':>17} {'ratio':>6}")
    for what, workers, ours, base in rows:
        print(f"{what:<11} {workers:>7} {ours:>18,.0f} {base:>17,.0f} {ours / base:>6.2f}")


if __name__ == "__main__":
    main()
