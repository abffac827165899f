"""Damaged, partial, edited and hostile CIFAR-10 sources: each gives an error naming the file and the fix."""

import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from lsdl_ens.data import CIFAR10_CLASSES, DataSourceError, load_cifar10


def jpeg(rng, size=32):
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def fake_files(per_class=2, seed=0, odd=None):
    """{relative name: bytes} of a tiny CIFAR-10 tree; `odd` replaces train/cat/0000.jpg."""
    rng = np.random.default_rng(seed)
    files = {f"cifar10/{split}/{cls}/{i:04d}.jpg": jpeg(rng)
             for split, n in (("train", per_class), ("test", 1)) for cls in CIFAR10_CLASSES for i in range(n)}
    if odd is not None:
        files["cifar10/train/cat/0000.jpg"] = odd
    return files


def write_tarball(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def write_tree(root, files):
    for name, blob in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)
    return root / "cifar10"


def test_truncated_archive_names_the_file_and_the_fix(tmp_path, tmp_cache):
    path = write_tarball(tmp_path / "cifar10-jpeg.tar.gz", fake_files())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataSourceError, match=r"cifar10-jpeg.tar.gz is truncated.*download the data again"):
        load_cifar10(tmp_path, allow_subset=True)


def test_non_gzip_archive_names_the_file(tmp_path, tmp_cache):
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(b"<html>404 not found</html>" * 50)
    with pytest.raises(DataSourceError, match=r"cifar10-jpeg.tar.gz is not a gzip-compressed tar archive"):
        load_cifar10(tmp_path, allow_subset=True)


def test_wrongly_sized_image_names_the_file(tmp_path, tmp_cache):
    root = write_tree(tmp_path, fake_files(odd=jpeg(np.random.default_rng(9), size=16)))
    with pytest.raises(DataSourceError, match=r"train/cat/0000.jpg is 16x16 pixels; CIFAR-10 images are 32x32"):
        load_cifar10(root, allow_subset=True)


@pytest.mark.parametrize("damage", [b"not a jpeg at all", "truncated"])
def test_corrupt_jpeg_names_the_member_and_the_archive(tmp_path, tmp_cache, damage):
    good = fake_files()["cifar10/train/cat/0000.jpg"]
    blob = good[: len(good) // 2] if damage == "truncated" else damage
    write_tarball(tmp_path / "cifar10-jpeg.tar.gz", fake_files(odd=blob))
    with pytest.raises(DataSourceError, match=r"cifar10/train/cat/0000.jpg in .*cifar10-jpeg.tar.gz is not a readable"):
        load_cifar10(tmp_path, allow_subset=True)


def test_partial_source_is_refused_unless_a_subset_is_asked_for(tmp_path, tmp_cache):
    root = write_tree(tmp_path, fake_files(per_class=3))
    with pytest.raises(DataSourceError, match=r"not the whole CIFAR-10.*train: 30 images, expected 50,000.*"
                                              r"allow_subset=True"):
        load_cifar10(root)
    train, test = load_cifar10(root, allow_subset=True)
    assert len(train) == 30 and len(test) == 10
    with pytest.raises(DataSourceError, match="not the whole"):  # the decoded cache does not bypass the check
        load_cifar10(root)
    with pytest.raises(TypeError, match="allow_subset"):
        load_cifar10(root, allow_subset="yes")


def test_editing_or_adding_an_image_invalidates_the_decoded_cache(tmp_path, tmp_cache):
    root = write_tree(tmp_path, fake_files())
    before, _ = load_cifar10(root, allow_subset=True)
    cat = root / "train" / "cat"
    new = jpeg(np.random.default_rng(42))
    (cat / "0000.jpg").write_bytes(new)
    os.utime(cat / "0000.jpg", ns=(1_000_000_000, 1_000_000_000))  # a different mtime even on coarse clocks
    edited, _ = load_cifar10(root, allow_subset=True)
    i = CIFAR10_CLASSES.index("cat") * 2
    assert not torch.equal(edited.images[i], before.images[i])
    assert torch.equal(edited.images[i].permute(1, 2, 0), torch.from_numpy(np.array(Image.open(io.BytesIO(new)))))
    (cat / "0002.jpg").write_bytes(new)
    grown, _ = load_cifar10(root, allow_subset=True)
    assert len(grown) == len(before) + 1


class PlantedPayload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as the original CIFAR-10 batches were written."""

    def save_bytes(self, obj):
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_bytes


def dump_batch(batch, f, protocol):
    if protocol != "python2":
        return pickle.dump(batch, f, protocol=protocol)
    buf = io.BytesIO()
    Python2Pickler(buf, protocol=2).dump(batch)
    # numpy 1 names its reconstructor numpy.core.multiarray: globals then are exactly those of the real files
    f.write(buf.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))


def write_batches(root, rng, n=3, protocol=4, planted=None):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name, k in [(f"data_batch_{i}", n) for i in range(1, 6)] + [("test_batch", n + 1)]:
        batch = {"batch_label": name, "data": rng.integers(0, 256, (k, 3072), dtype=np.uint8),
                 "labels": rng.integers(0, 10, k).tolist(), "filenames": [f"img{j}.png" for j in range(k)]}
        if planted is not None and name == "data_batch_2":
            batch["data"] = planted
        with open(folder / name, "wb") as f:
            dump_batch(batch, f, protocol)
    return folder


@pytest.mark.parametrize("protocol", ["python2", 2, 4, 5])
def test_batches_written_at_any_protocol_still_load(tmp_path, tmp_cache, protocol):
    folder = write_batches(tmp_path, np.random.default_rng(len(str(protocol))), protocol=protocol)
    train, test = load_cifar10(tmp_path, allow_subset=True)
    with open(folder / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="latin1")  # how torchvision reads them
    assert len(train) == 15 and torch.equal(test.images.reshape(4, -1), torch.from_numpy(raw["data"]))
    assert test.labels.tolist() == raw["labels"]


def test_malicious_batch_pickle_is_not_executed(tmp_path, tmp_cache):
    marker = tmp_path / "pwned"
    write_batches(tmp_path, np.random.default_rng(0), planted=PlantedPayload(marker))
    with pytest.raises(DataSourceError, match=r"data_batch_2 was refused and not loaded: it names posix.system"):
        load_cifar10(tmp_path, allow_subset=True)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "labels"])
def test_damaged_batch_file_names_the_file(tmp_path, tmp_cache, damage):
    folder = write_batches(tmp_path, np.random.default_rng(0))
    if damage == "truncate":
        raw = (folder / "test_batch").read_bytes()
        (folder / "test_batch").write_bytes(raw[: len(raw) // 2])
        match = r"test_batch is damaged or not a CIFAR-10 batch"
    else:
        with open(folder / "test_batch", "wb") as f:
            pickle.dump({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1, 2, 12]}, f)
        match = r"test_batch does not hold CIFAR-10 labels"
    with pytest.raises(DataSourceError, match=match):
        load_cifar10(tmp_path, allow_subset=True)


def test_refused_partial_source_leaves_no_decoded_cache(tmp_path, tmp_cache):
    root = write_tree(tmp_path, fake_files(per_class=1))
    with pytest.raises(DataSourceError, match="not the whole"):
        load_cifar10(root)
    assert not list((tmp_cache / "data").glob("*.npz"))
