"""Training throughput on whatever device exists: input pipelines, then the speed options of `lsdl_ens.train.fit`.

1. Pipelines: lsdl_ens's `BatchLoader` (uint8 images resident on the device, crop+flip there) vs a torchvision
   `DataLoader` + PIL transforms (pinned memory and non-blocking copies on CUDA), with the same images, batch size
   and augmentation (pad-4 random crop, horizontal flip, normalisation), in one run so both see the same machine
   load: images/s of the data alone and of SGD steps on the model. Medians over alternating repeats.
2. Speed options, each as a ratio to eager fp32 `fit` at the same batch size: bf16 autocast, channels_last, both,
   a larger batch (4x), and ``torch.compile`` (reported as failed if it does not compile here). Timed on the second
   of two epochs (the first one warms up cuDNN's algorithm search and compilation).

    python benchmarks/throughput.py [--device cuda] [--model vgg] [--images 5120] [--workers 0 2] [--quick]

``--quick`` runs tiny sizes only to check that the script works (the numbers mean nothing). Uses $LSDL_DATA (or
torchvision's download) for CIFAR-10.
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
from lsdl_ens.train import default_device, fit


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


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _on_device(batches, device):
    for x, y in batches:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def images_per_second(batches, n_images, device, model=None, warmup: int = 2) -> float:
    """Images/s over `batches` (data only, or with one SGD step per batch on `model`), after `warmup` batches."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if model is not None else None
    it = iter(batches)
    start, seen = None, 0
    for i, (x, y) in enumerate(it):
        if model is not None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if i + 1 == warmup:
            _sync(device)
            start = time.perf_counter()
        elif i >= warmup:
            seen += len(y)
            if seen >= n_images:
                break
    _sync(device)
    return seen / (time.perf_counter() - start)


def pipelines(args, data, device) -> list[tuple]:
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    pin = device.type == "cuda"

    def ours():
        return BatchLoader(data, args.batch_size, shuffle=True, augment=True, seed=0, device=device)

    def theirs(workers):
        loader = torch.utils.data.DataLoader(PILDataset(data.images, data.labels, transform), args.batch_size,
                                             shuffle=True, num_workers=workers, pin_memory=pin)
        return _on_device(loader, device)

    rows = []
    for what in ("data only", "train step"):
        for workers in args.workers:
            ours_ips, base_ips = [], []
            for _ in range(args.repeats):  # alternate so both see the same machine load
                for make, out in ((ours, ours_ips), (lambda w=workers: theirs(w), base_ips)):
                    torch.manual_seed(0)
                    model = build_model(args.model).to(device) if what == "train step" else None
                    out.append(images_per_second(make(), args.images, device, model))
            rows.append((what, workers, sorted(ours_ips)[args.repeats // 2], sorted(base_ips)[args.repeats // 2]))
    return rows


def option_speed(args, data, device, batch_size, compile_model=False, **options) -> float:
    """Images/s of the second epoch of `fit` with `options`."""
    torch.manual_seed(0)
    model = build_model(args.model).to(device)
    if compile_model:
        model = torch.compile(model)
    history = fit(model, data, epochs=2, batch_size=batch_size, seed=0, device=device, progress=False, **options)
    return len(data) // batch_size * batch_size / history.seconds[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="default: lsdl_ens.train.default_device()")
    parser.add_argument("--model", default="vgg")
    parser.add_argument("--images", type=int, default=5120)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--repeats", type=int, default=3, help="median over this many alternating runs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.batch_size, args.workers, args.repeats = 256, 32, [0], 1
    device = torch.device(args.device) if args.device else default_device()

    train, _ = load_cifar10()
    data = balanced_subset(train, args.images, seed=0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, device {device} ({name}), model {args.model}, {args.images} images, "
          f"batch {args.batch_size}")

    print(f"\n{'measure':<11} {'workers':>7} {'BatchLoader img/s':>18} {'DataLoader img/s':>17} {'ratio':>6}")
    for what, workers, ours, base in pipelines(args, data, device):
        print(f"{what:<11} {workers:>7} {ours:>18,.0f} {base:>17,.0f} {ours / base:>6.2f}")

    b = args.batch_size
    variants = [("eager fp32", b, {}), ("bf16 autocast", b, {"precision": "bf16"}),
                ("channels_last", b, {"channels_last": True}),
                ("bf16 + channels_last", b, {"precision": "bf16", "channels_last": True}),
                (f"batch {4 * b}", 4 * b, {}), ("torch.compile", b, {"compile_model": True})]
    print(f"\n{'fit option':<22} {'img/s':>9} {'vs eager fp32':>14}")
    baseline = None
    for label, batch_size, options in variants:
        if batch_size > len(data):
            print(f"{label:<22} {'skipped':>9}  (batch larger than --images)")
            continue
        try:
            ips = option_speed(args, data, device, batch_size, **options)
        except Exception as err:  # noqa: BLE001  (report any backend failure, e.g. no compiler for torch.compile)
            print(f"{label:<22} {'failed':>9}  ({type(err).__name__}: {str(err).splitlines()[0][:80]})")
            continue
        baseline = baseline or ips
        print(f"{label:<22} {ips:>9,.0f} {ips / baseline:>14.2f}")


if __name__ == "__main__":
    main()
