"""Tiny shared fixtures for the state / bn / landscape tests: a BN CNN on 8x8 images, colour blobs, a 2-D toy task."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lsdl_ens.data import BatchLoader, ImageSet
from lsdl_ens.data import blob_images as data_blob_images
from lsdl_ens.models import build_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread is as fast and leaves the shared cores to other jobs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_cnn(seed: int = 0, bn: bool = True):
    """VGG-style CNN with widths 4-8-8-8 (BN by default): ~1.6k parameters, works on 8x8 inputs."""
    torch.manual_seed(seed)
    return build_model("vgg", widths=(4, 8, 8, 8), bn=bn)


def tiny_mlp(seed: int = 0, bn: bool = False, hidden=(16, 16)):
    torch.manual_seed(seed)
    return build_model("mlp", hidden=hidden, bn=bn)


def blob_images(n: int = 64, size: int = 8, num_classes: int = 10, seed: int = 0) -> ImageSet:
    """uint8 images whose mean colour depends on the label, plus noise (`lsdl_ens.data.blob_images`, 8x8 here)."""
    return data_blob_images(n, size, num_classes, seed)


def image_batches(data: ImageSet, batch_size: int = 16, augment: bool = False, seed: int = 0) -> list:
    """A fixed list of (x, y) batches (re-iterable, identical on every pass)."""
    return list(BatchLoader(data, batch_size, shuffle=augment, augment=augment, seed=seed))


def rings(n: int = 256, seed: int = 0, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Two concentric rings in 2-D (class 0 inside, radius 1; class 1 outside, radius 2)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    angle = torch.rand(n, generator=g) * 2 * math.pi
    radius = 1.0 + y.float() + noise * torch.randn(n, generator=g)
    x = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    return x, y.long()


def train_mlp(model, x, y, steps: int = 300, lr: float = 0.05, seed: int = 0):
    """Full-batch SGD with momentum; returns the model."""
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    return model


def toy_classifier(seed: int = 0):
    """A 4-8-3 tanh MLP and 64 random (x, y) pairs: the optimizer tests' toy problem."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.randn(64, 4)
    y = torch.randint(0, 3, (64,))
    return model, x, y


def full_batch_sgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 60, lr: float = 0.05):
    """Train `model` in place by `steps` full-batch SGD steps (momentum 0.9, cross-entropy) on (x, y); eval mode."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        model.train()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
