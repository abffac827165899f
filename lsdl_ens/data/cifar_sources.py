"""Decode a CIFAR-10 source on disk into uint8 arrays, checking every file, and identify a source cheaply.

Three sources (see `lsdl_ens.data.load_cifar10`): the course's ``cifar10-jpeg.tar.gz``, its extracted tree
``{train,test}/<class>/*.jpg``, and torchvision's ``cifar-10-batches-py`` (read by
`lsdl_ens.data.batch_pickle.load_batch_file`, which runs no code from the files). A truncated or non-gzip
archive, an unreadable image, an image that is not 32x32, or a damaged batch file raises `DataSourceError`
naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .batch_pickle import load_batch_file
from .dataset import CIFAR10_CLASSES

TARBALL = "cifar10-jpeg.tar.gz"
TORCHVISION_DIR = "cifar-10-batches-py"
REFETCH = (f"Copy or download the data again (the course's {TARBALL} is 19,430,104 bytes), or remove it so that "
           "torchvision downloads CIFAR-10.")


class DataSourceError(ValueError):
    """A CIFAR-10 source on disk is damaged, incomplete or not CIFAR-10; the message names the file and the fix."""


def source_id(source: Path) -> str:
    """12 hex digits that change when the source changes: its resolved path plus the relative path, size and
    mtime (ns) of every file it is read from; for the archive also the sha256 of its bytes (about 0.05 s)."""
    h = hashlib.sha256(str(source.resolve()).encode())
    if source.is_file():
        st = source.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        with open(source, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest() if hasattr(hashlib, "file_digest")
                     else hashlib.sha256(f.read()).digest())
        return h.hexdigest()[:12]
    tops = [source] if source.name == TORCHVISION_DIR else [source / "train", source / "test"]
    for top in tops:
        for folder, dirs, files in os.walk(top):
            dirs.sort()
            if top == source and folder != str(source):  # the batches folder: its own files only
                continue
            for name in sorted(files):
                st = os.stat(os.path.join(folder, name))
                rel = os.path.relpath(os.path.join(folder, name), source)
                h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def decode_source(source: Path) -> dict:
    """``{"train_x", "train_y", "test_x", "test_y"}``: images uint8 [N, 3, 32, 32] sorted by (label, file name)
    for the JPEG sources, in file order for torchvision's batches; labels int64 [N]."""
    if source.is_file():
        return _finish(_read_tarball(source), source)
    if source.name == TORCHVISION_DIR:
        return _decode_torchvision(source)
    return _finish(_read_tree(source), source)


def _decode_image(blob: bytes, where: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob)) as img:
            if img.size != (32, 32):  # read from the header, before decoding
                raise DataSourceError(f"{where} is {img.size[0]}x{img.size[1]} pixels; CIFAR-10 images are 32x32. "
                                      f"This is not the CIFAR-10 file. {REFETCH}")
            return np.asarray(img.convert("RGB"))  # decodes the whole file
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, DataSourceError):
            raise
        reason = "no image format recognised" if isinstance(exc, Image.UnidentifiedImageError) else str(exc)
        raise DataSourceError(f"{where} is not a readable image ({type(exc).__name__}: {reason}). The file is "
                              f"damaged. {REFETCH}") from exc


def _parse(parts: list[str]) -> tuple[str, int, str] | None:
    """('cifar10','train','cat','0001.jpg') -> ('train', label, name), or None for files that are not images."""
    if len(parts) < 3 or not parts[-1].endswith(".jpg"):
        return None
    split, cls, name = parts[-3], parts[-2], parts[-1]
    if split not in ("train", "test") or cls not in CIFAR10_CLASSES:
        return None
    return split, CIFAR10_CLASSES.index(cls), name


def _read_tarball(path: Path) -> dict:
    groups = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parsed = _parse(member.name.split("/")) if member.isfile() else None
                if parsed:
                    split, label, name = parsed
                    groups[split].append((label, name, tar.extractfile(member).read(), f"{member.name} in {path}"))
    except (EOFError, zlib.error) as exc:
        raise DataSourceError(f"{path} is truncated ({type(exc).__name__}: {exc}): the copy or download stopped "
                              f"early. {REFETCH}") from exc
    except (tarfile.TarError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataSourceError(f"{path} is not a gzip-compressed tar archive, or is damaged ({type(exc).__name__}: "
                              f"{exc}). {REFETCH}") from exc
    return groups


def _read_tree(path: Path) -> dict:
    groups = {"train": [], "test": []}
    for f in path.glob("*/*/*.jpg"):
        parsed = _parse(list(f.parts))
        if parsed:
            split, label, name = parsed
            groups[split].append((label, name, f.read_bytes(), str(f)))
    return groups


def _finish(groups: dict, source: Path) -> dict:
    out = {}
    for split in ("train", "test"):
        items = sorted(groups[split], key=lambda t: (t[0], t[1]))
        if not items:
            raise DataSourceError(f"{source} holds no {split} images (expected {split}/<class>/*.jpg). {REFETCH}")
        images = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
        for i, (_, _, blob, where) in enumerate(items):
            images[i] = _decode_image(blob, where)
        out[f"{split}_x"] = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
        out[f"{split}_y"] = np.array([t[0] for t in items], dtype=np.int64)
    return out


def _decode_torchvision(path: Path) -> dict:
    def read(names):
        xs, ys = [], []
        for n in names:
            if not (path / n).is_file():
                raise DataSourceError(f"{path / n} is missing: the batches folder is incomplete. {REFETCH}")
            try:
                x, y = load_batch_file(path / n)
            except ValueError as exc:
                raise DataSourceError(str(exc)) from exc
            xs.append(x)
            ys.append(y)
        return np.concatenate(xs), np.concatenate(ys)

    train_x, train_y = read([f"data_batch_{i}" for i in range(1, 6)])
    test_x, test_y = read(["test_batch"])
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
