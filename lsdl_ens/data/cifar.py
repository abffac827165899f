"""Load CIFAR-10 into memory once, from a local copy or torchvision's download, and cache the decoded arrays.

Sources, in the order they are looked for under the data root:

1. ``cifar10-jpeg.tar.gz`` (the course's JPEG re-encoding; layout ``cifar10/{train,test}/<class>/NNNN.jpg``),
2. its extracted tree ``cifar10/{train,test}/<class>/*.jpg`` (or the root itself being that tree),
3. torchvision's ``cifar-10-batches-py`` folder.

The data root is the `root` argument, else ``$LSDL_DATA``, else ``<cache>/data``, where torchvision downloads the
data set when the machine is online. Decoding the JPEG set takes about 13 s; the decoded uint8 arrays are stored in
``<cache>/data/`` with a checksum, so later calls load in about a second. A damaged cache file is reported and
rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ..paths import CorruptFileError, cache_dir, env_path, read_checked, write_checked
from .dataset import CIFAR10_CLASSES, ImageSet

TARBALL = "cifar10-jpeg.tar.gz"
TORCHVISION_DIR = "cifar-10-batches-py"
_FORMAT = "v1"


class DataNotFoundError(FileNotFoundError):
    """CIFAR-10 is neither on disk nor downloadable."""


def load_cifar10(root: str | os.PathLike | None = None, *, download: bool = True) -> tuple[ImageSet, ImageSet]:
    """Return the CIFAR-10 `(train, test)` sets as uint8 images [N, 3, 32, 32] and int64 labels [N].

    Args:
        root: a folder holding one of the sources above, or the tarball itself. Defaults to ``$LSDL_DATA``, then
            ``<cache>/data``.
        download: when no local source exists, let torchvision download CIFAR-10 into ``<cache>/data``.

    Raises:
        DataNotFoundError: no source was found and the download failed or was disabled; the message names both
            ways to provide the data.
    """
    source = _find_source(root)
    if source is None:
        source = _download(download, root)
    cache_file = cache_dir("data") / f"cifar10-{_source_id(source)}-{_FORMAT}.npz"
    arrays = _load_cache(cache_file)
    if arrays is None:
        arrays = _decode(source)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_checked(cache_file, buf.getvalue())
    train = ImageSet(torch.from_numpy(arrays["train_x"]), torch.from_numpy(arrays["train_y"]).long(), CIFAR10_CLASSES)
    test = ImageSet(torch.from_numpy(arrays["test_x"]), torch.from_numpy(arrays["test_y"]).long(), CIFAR10_CLASSES)
    return train, test


def _candidate_roots(root) -> list[Path]:
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    if env_path("LSDL_DATA") is not None:
        roots.append(env_path("LSDL_DATA"))
    roots.append(cache_dir("data"))
    return roots


def _find_source(root) -> Path | None:
    for base in _candidate_roots(root):
        if base.is_file() and base.name.endswith(".tar.gz"):
            return base
        for candidate in (base / TARBALL, base / "cifar10", base, base / TORCHVISION_DIR):
            if candidate.is_file() and candidate.name == TARBALL:
                return candidate
            if candidate.is_dir() and (candidate / "train" / "airplane").is_dir():
                return candidate
            if candidate.is_dir() and candidate.name == TORCHVISION_DIR and (candidate / "test_batch").is_file():
                return candidate
    return None


def _download(allowed: bool, root) -> Path:
    target = Path(root).expanduser() if root is not None else cache_dir("data")
    how = (f"Either set LSDL_DATA to a folder containing {TARBALL} (or its extracted 'cifar10/' tree, or "
           f"torchvision's '{TORCHVISION_DIR}'), or connect to the internet so that torchvision can download "
           f"CIFAR-10 into {target}.")
    looked = ", ".join(str(p) for p in _candidate_roots(root))
    if not allowed:
        raise DataNotFoundError(f"CIFAR-10 not found (looked in {looked}) and download=False. {how}")
    try:
        import torchvision

        torchvision.datasets.CIFAR10(str(target), train=True, download=True)
    except Exception as exc:  # network errors come in many types
        raise DataNotFoundError(f"CIFAR-10 not found (looked in {looked}) and the download failed "
                                f"({type(exc).__name__}: {exc}). {how}") from exc
    return target / TORCHVISION_DIR


def _source_id(source: Path) -> str:
    """A short id of the source's identity (path, size, mtime), so the cache follows the data it came from."""
    h = hashlib.sha256(str(source.resolve()).encode())
    files = [source] if source.is_file() else sorted(source.glob("*"))
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


def _load_cache(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        with np.load(io.BytesIO(read_checked(path))) as npz:
            arrays = {k: npz[k] for k in ("train_x", "train_y", "test_x", "test_y")}
        if arrays["train_x"].shape[1:] != (3, 32, 32) or arrays["train_x"].dtype != np.uint8:
            raise CorruptFileError(f"{path}: unexpected array layout")
        return arrays
    except (CorruptFileError, KeyError, ValueError, OSError) as exc:
        warnings.warn(f"Decoded CIFAR-10 cache is damaged ({exc}); rebuilding it.", stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def _decode(source: Path) -> dict:
    if source.is_file():
        return _decode_tarball(source)
    if source.name == TORCHVISION_DIR:
        return _decode_torchvision(source)
    return _decode_tree(source)


def _stack(items: list[tuple[int, str, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """Decode (label, name, jpeg bytes) items sorted by (label, name) into [N,3,32,32] uint8 and labels."""
    from PIL import Image

    items.sort(key=lambda t: (t[0], t[1]))
    images = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
    for i, (_, _, blob) in enumerate(items):
        images[i] = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    labels = np.array([t[0] for t in items], dtype=np.int64)
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels


def _split_items(path_parts: list[str]):
    """('cifar10','train','cat','0001.jpg') -> ('train', label, name) or None."""
    if len(path_parts) < 3 or not path_parts[-1].endswith(".jpg"):
        return None
    split, cls, name = path_parts[-3], path_parts[-2], path_parts[-1]
    if split not in ("train", "test") or cls not in CIFAR10_CLASSES:
        return None
    return split, CIFAR10_CLASSES.index(cls), name


def _finish(groups: dict) -> dict:
    out = {}
    for split in ("train", "test"):
        if not groups[split]:
            raise DataNotFoundError(f"no {split} images found in the CIFAR-10 source")
        out[f"{split}_x"], out[f"{split}_y"] = _stack(groups[split])
    return out


def _decode_tarball(path: Path) -> dict:
    groups = {"train": [], "test": []}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parsed = _split_items(member.name.split("/")) if member.isfile() else None
            if parsed:
                split, label, name = parsed
                groups[split].append((label, name, tar.extractfile(member).read()))
    return _finish(groups)


def _decode_tree(path: Path) -> dict:
    groups = {"train": [], "test": []}
    for f in path.glob("*/*/*.jpg"):
        parsed = _split_items(list(f.parts))
        if parsed:
            split, label, name = parsed
            groups[split].append((label, name, f.read_bytes()))
    return _finish(groups)


def _decode_torchvision(path: Path) -> dict:
    def read(names):
        xs, ys = [], []
        for n in names:
            with open(path / n, "rb") as f:
                d = pickle.load(f, encoding="latin1")
            xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d["labels"], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    train_x, train_y = read([f"data_batch_{i}" for i in range(1, 6)])
    test_x, test_y = read(["test_batch"])
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
