"""Loading CIFAR-10 from every supported source, the decoded cache, and the offline error."""

import io
import os
import pickle
import tarfile
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from lsdl_ens.data import CIFAR10_CLASSES, DataNotFoundError, load_cifar10
from lsdl_ens.data import cifar as cifar_module
from lsdl_ens.paths import cache_dir


def _jpeg(rng):
    img = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _fake_tarball(path, per_class=2, seed=0):
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", per_class), ("test", 1)):
            for cls in CIFAR10_CLASSES:
                for i in range(n):
                    blob = _jpeg(rng)
                    info = tarfile.TarInfo(f"cifar10/{split}/{cls}/{i:04d}.jpg")
                    info.size = len(blob)
                    tar.addfile(info, io.BytesIO(blob))


def test_tarball_source_decodes_in_class_order(tmp_path, tmp_cache):
    _fake_tarball(tmp_path / "cifar10-jpeg.tar.gz")
    train, test = load_cifar10(tmp_path, allow_subset=True)
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (10, 3, 32, 32)
    assert train.labels.tolist() == [c for c in range(10) for _ in range(2)]
    assert train.classes == CIFAR10_CLASSES


def test_extracted_tree_matches_tarball(tmp_path, tmp_cache):
    _fake_tarball(tmp_path / "cifar10-jpeg.tar.gz")
    with tarfile.open(tmp_path / "cifar10-jpeg.tar.gz") as tar:
        tar.extractall(tmp_path / "tree", filter="data")
    a, _ = load_cifar10(tmp_path, allow_subset=True)
    b, _ = load_cifar10(tmp_path / "tree", allow_subset=True)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_torchvision_batches_source(tmp_path, tmp_cache):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(1)
    for name, n in [(f"data_batch_{i}", 3) for i in range(1, 6)] + [("test_batch", 4)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(root / name, "wb") as f:
            pickle.dump({"data": data, "labels": list(rng.integers(0, 10, n))}, f)
    train, test = load_cifar10(tmp_path, allow_subset=True)
    assert len(train) == 15 and len(test) == 4
    with open(root / "test_batch", "rb") as f:
        raw = pickle.load(f)
    assert torch.equal(test.images.reshape(4, -1), torch.from_numpy(raw["data"]))


def test_corrupt_decoded_cache_is_detected_and_rebuilt(tmp_path, tmp_cache):
    _fake_tarball(tmp_path / "cifar10-jpeg.tar.gz")
    first, _ = load_cifar10(tmp_path, allow_subset=True)
    [cache_file] = list(cache_dir("data").glob("cifar10-*.npz"))
    raw = bytearray(cache_file.read_bytes())
    raw[-100] ^= 0xFF  # flip one byte of the payload
    cache_file.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="damaged"):
        again, _ = load_cifar10(tmp_path, allow_subset=True)
    assert torch.equal(first.images, again.images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_cifar10(tmp_path, allow_subset=True)  # rebuilt file is healthy: no warning


def test_offline_without_data_names_both_fixes(tmp_path, tmp_cache):
    with pytest.raises(DataNotFoundError, match="LSDL_DATA") as err:
        load_cifar10(tmp_path / "empty", download=False)
    assert "internet" in str(err.value) and "torchvision" in str(err.value)


def test_failed_download_names_both_fixes(tmp_path, tmp_cache, monkeypatch):
    import torchvision

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataNotFoundError, match="download failed.*LSDL_DATA"):
        load_cifar10(tmp_path / "empty")


def test_real_cifar10_from_lsdl_data():
    """The real data set (LSDL_DATA in CI; torchvision's download on a user machine)."""
    train, test = load_cifar10()
    assert train.images.shape == (50_000, 3, 32, 32) and test.images.shape == (10_000, 3, 32, 32)
    assert train.class_counts().tolist() == [5000] * 10 and test.class_counts().tolist() == [1000] * 10
    mean = train.images[::10].float().mean((0, 2, 3)) / 255  # every class (files are class-sorted)
    assert torch.allclose(mean, torch.tensor([0.4913, 0.4821, 0.4465]), atol=0.02)
