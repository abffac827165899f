"""The fast path of `fit` and `BatchLoader` (device-resident images, no per-step sync, bf16 autocast,
channels_last) keeps the default CPU run as it was: `fit` equals an independent plain training loop bit for bit."""

import pytest
import torch
import torch.nn.functional as F

from _tiny import blob_images, one_thread, tiny_cnn  # noqa: F401
from fake_device import fake_device
from lsdl_ens.data import CIFAR10_MEAN, CIFAR10_STD, BatchLoader
from lsdl_ens.train import fit


def _plain_epoch_batches(data, batch_size, seed, epoch, padding=4):
    """The documented data order and augmentation, image by image: randperm, then per batch dy, dx, flip draws."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    n = len(data)
    order = torch.randperm(n, generator=gen)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1) * 255
    for start in range(0, (n // batch_size) * batch_size, batch_size):
        idx = order[start:start + batch_size]
        b = len(idx)
        dy = torch.randint(0, 2 * padding + 1, (b,), generator=gen)
        dx = torch.randint(0, 2 * padding + 1, (b,), generator=gen)
        flip = torch.rand(b, generator=gen) < 0.5
        crops = []
        for i, j in enumerate(idx):
            img = F.pad(data.images[j], (padding,) * 4)
            h, w = data.images.shape[-2:]
            crop = img[:, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
            crops.append(crop.flip(-1) if flip[i] else crop)
        x = (torch.stack(crops).float() - mean) / std
        yield x, data.labels[idx]


def test_fit_equals_a_plain_training_loop_bit_for_bit():
    data = blob_images(n=48, size=8)
    model = tiny_cnn(seed=0)
    fit(model, data, epochs=2, batch_size=16, lr_schedule=0.05, weight_decay=5e-4, seed=3, progress=False)

    ref = tiny_cnn(seed=0)
    torch.manual_seed(3)
    opt = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    ref.train()
    for epoch in range(2):
        for x, y in _plain_epoch_batches(data, 16, 3, epoch):
            loss = F.cross_entropy(ref(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    for (name, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_resident_loader_gives_the_same_batches_on_the_cpu_and_on_the_fake_device():
    data = blob_images(n=40, size=8)
    expected = list(BatchLoader(data, 16, shuffle=True, augment=True, seed=2).iterate(epoch=1))
    resident = list(BatchLoader(data, 16, shuffle=True, augment=True, seed=2, resident=True).iterate(epoch=1))
    with fake_device() as mode:
        loader = BatchLoader(data, 16, shuffle=True, augment=True, seed=2, device="meta")
        assert loader.is_resident
        on_device = [(x.cpu(), y.cpu()) for x, y in loader.iterate(epoch=1)]
    # once: mean, std, images, labels; per epoch: the order; per batch only the crop offsets and flip draws
    assert mode.host_to_device == 4 + 1 + 3 * len(on_device)
    for got in (resident, on_device):
        for (xe, ye), (xg, yg) in zip(expected, got, strict=True):
            torch.testing.assert_close(xg, xe, rtol=0, atol=0)
            assert torch.equal(yg, ye)


def test_bf16_autocast_and_channels_last_train_close_to_fp32():
    data = blob_images(n=48, size=8)
    runs = {}
    for options in ({}, {"precision": "bf16"}, {"channels_last": True}):
        model = tiny_cnn(seed=0)
        hist = fit(model, data, epochs=2, batch_size=16, seed=3, progress=False, **options)
        runs[tuple(options)] = (model, hist)
    fp32 = runs[()][0].head.weight
    bf16_model, bf16_hist = runs[("precision",)]
    assert all(map(lambda v: v == v, bf16_hist.train_loss))  # finite
    assert not torch.equal(bf16_model.head.weight, fp32)  # autocast changed the arithmetic
    torch.testing.assert_close(bf16_model.head.weight, fp32, rtol=0, atol=0.05)
    cl_model = runs[("channels_last",)][0]
    conv = next(m for m in cl_model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(cl_model.head.weight, fp32, rtol=1e-4, atol=1e-5)


def test_fit_rejects_bad_speed_options():
    data = blob_images(n=16, size=8)
    with pytest.raises(ValueError, match="precision"):
        fit(tiny_cnn(), data, epochs=1, precision="fp16")
    with pytest.raises(ValueError, match="log_every"):
        fit(tiny_cnn(), data, epochs=1, log_every=0)
    with pytest.raises(ValueError, match="custom train_step"):
        fit(tiny_cnn(), data, epochs=1, precision="bf16", train_step=lambda m, b, o, s: (0.0, 0, 1))


def test_a_nan_loss_is_reported_at_the_next_log_point():
    data = blob_images(n=64, size=8)
    calls = []

    def step(m, b, o, s):
        calls.append(s.iteration)
        return torch.tensor(float("nan") if s.iteration == 1 else 1.0), torch.tensor(0), len(b[1])

    with pytest.raises(FloatingPointError, match="batches 0-2; lower the learning rate"):
        fit(tiny_cnn(), data, epochs=1, batch_size=8, train_step=step, log_every=3, progress=False)
    assert calls == [0, 1, 2]
