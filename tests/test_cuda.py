"""On a real GPU: every family's smoke path (`device_smoke.py`) on CUDA agrees with the CPU, the fast path's options
run, and device-resident batches equal CPU batches. Marked ``cuda`` and skipped without CUDA; ``make unit`` and
``make test`` deselect it (``-m "not cuda"``). Run it on a GPU box with ``pytest tests/test_cuda.py -m cuda``."""

import pytest
import torch

from _tiny import blob_images, one_thread, tiny_cnn  # noqa: F401
from device_smoke import SMOKE_PATHS
from lsdl_ens.data import BatchLoader
from lsdl_ens.train import fit

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

# CPU and GPU kernels sum in other orders (and cuDNN may use TF32), and a few SGD steps amplify that: results are
# compared loosely here; tests/test_devices.py checks the same paths bit for bit on the fake device.
ATOL = 0.05


@pytest.mark.parametrize("name", sorted(SMOKE_PATHS))
def test_smoke_path_on_cuda_agrees_with_cpu(name):
    expected = SMOKE_PATHS[name]("cpu")
    got = SMOKE_PATHS[name]("cuda")
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key].shape == value.shape, f"{name}: {key}"
        assert torch.isfinite(got[key].double()).all(), f"{name}: {key}"
        torch.testing.assert_close(got[key].double(), value.double(), rtol=0, atol=ATOL, msg=f"{name}: {key}")


def test_resident_batches_on_cuda_equal_cpu_batches():
    data = blob_images(n=40, size=8)
    expected = list(BatchLoader(data, 16, shuffle=True, augment=True, seed=2).iterate(epoch=1))
    loader = BatchLoader(data, 16, shuffle=True, augment=True, seed=2, device="cuda")
    assert loader.is_resident
    for (xe, ye), (xg, yg) in zip(expected, loader.iterate(epoch=1), strict=True):
        assert xg.is_cuda and yg.is_cuda
        torch.testing.assert_close(xg.cpu(), xe, rtol=0, atol=0)
        assert torch.equal(yg.cpu(), ye)


@pytest.mark.parametrize("options", [{}, {"precision": "bf16"}, {"channels_last": True},
                                     {"precision": "bf16", "channels_last": True}])
def test_fast_path_options_train_on_cuda(options):
    torch.backends.cudnn.benchmark = False
    model = tiny_cnn(seed=0).cuda()
    hist = fit(model, blob_images(n=64, size=8), epochs=3, batch_size=16, seed=0, progress=False, **options)
    assert torch.backends.cudnn.benchmark
    assert all(v == v for v in hist.train_loss) and hist.train_loss[-1] < hist.train_loss[0]
