"""Load CIFAR-10 into memory once, from a local copy or torchvision's download, and cache the decoded arrays.

Sources, in the order they are looked for under the data root:

1. ``cifar10-jpeg.tar.gz`` (the course's JPEG re-encoding; layout ``cifar10/{train,test}/<class>/NNNN.jpg``),
2. its extracted tree ``cifar10/{train,test}/<class>/*.jpg`` (or the root itself being that tree),
3. torchvision's ``cifar-10-batches-py`` folder.

The data root is the `root` argument, else ``$LSDL_DATA``, else ``<cache>/data``, where torchvision downloads the
data set when the machine is online. Decoding the JPEG set takes about 13 s; the decoded uint8 arrays are stored in
``<cache>/data/`` with a checksum, so later calls load in about a second. A damaged cache file is reported and
rebuilt. The cache file is named after the source's id (`lsdl_ens.data.cifar_sources.source_id`: path, size and
mtime of every image file), so editing, adding or removing any image decodes the source again.

A source must be the whole data set: 50,000 training and 10,000 test images, 5,000 and 1,000 per class.
Anything else (an interrupted extraction, a test copy with a few images per class) raises `DataSourceError`
unless the caller asks for it with ``allow_subset=True``. Damaged files raise `DataSourceError` naming the file.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..paths import CorruptFileError, cache_dir, env_path, read_checked, write_checked
from .cifar_sources import TARBALL, TORCHVISION_DIR, DataSourceError, decode_source, source_id
from .dataset import CIFAR10_CLASSES, ImageSet

_FORMAT = "v1"
TRAIN_PER_CLASS, TEST_PER_CLASS = 5000, 1000


class DataNotFoundError(FileNotFoundError):
    """CIFAR-10 is neither on disk nor downloadable."""


def load_cifar10(root: str | os.PathLike | None = None, *, download: bool = True,
                 allow_subset: bool = False) -> tuple[ImageSet, ImageSet]:
    """Return the CIFAR-10 `(train, test)` sets as uint8 images [N, 3, 32, 32] and int64 labels [N].

    Args:
        root: a folder holding one of the sources above, or the tarball itself. Defaults to ``$LSDL_DATA``, then
            ``<cache>/data``.
        download: when no local source exists, let torchvision download CIFAR-10 into ``<cache>/data``.
        allow_subset: accept a source whose image counts differ from CIFAR-10's 50,000 + 10,000 (for example a
            small copy made for a test). Off by default, so that an incomplete copy is an error, not a smaller
            data set that fails later.

    Raises:
        DataNotFoundError: no source was found and the download failed or was disabled; the message names both
            ways to provide the data.
        DataSourceError: the source is damaged (truncated or non-gzip archive, unreadable or wrongly sized image,
            damaged or unsafe batch file) or incomplete; the message names the file and the fix.
    """
    if not isinstance(allow_subset, bool):
        raise TypeError(f"allow_subset must be True or False; got {allow_subset!r}")
    source = _find_source(root)
    if source is None:
        source = _download(download, root)
    cache_file = cache_dir("data") / f"cifar10-{source_id(source)}-{_FORMAT}.npz"
    arrays = _load_cache(cache_file)
    decoded = arrays is None
    if decoded:
        arrays = decode_source(source)
    if not allow_subset:
        _check_complete(arrays, source)  # before caching, so an incomplete copy leaves no 150 MB file behind
    if decoded:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_checked(cache_file, buf.getvalue())
    train = ImageSet(torch.from_numpy(arrays["train_x"]), torch.from_numpy(arrays["train_y"]).long(), CIFAR10_CLASSES)
    test = ImageSet(torch.from_numpy(arrays["test_x"]), torch.from_numpy(arrays["test_y"]).long(), CIFAR10_CLASSES)
    return train, test


def cifar10_source_kind(root: str | os.PathLike | None = None) -> str:
    """The kind of CIFAR-10 copy `load_cifar10(root)` reads: ``"cifar10-jpeg"`` (the course's JPEG archive or its
    extracted tree: JPEG-compressed images) or ``"torchvision"`` (``cifar-10-batches-py``: raw pixels; also what a
    download brings). Recipes name it in their data spec, so runs on the two kinds never share cache entries.
    Looks only at file names (no decoding)."""
    source = _find_source(root)
    if source is not None and source.name != TORCHVISION_DIR:
        return "cifar10-jpeg"
    return "torchvision"


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


def _check_complete(arrays: dict, source: Path) -> None:
    """Raise DataSourceError unless the arrays hold 5,000 training and 1,000 test images of every class."""
    problems = []
    for split, expected in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        counts = np.bincount(arrays[f"{split}_y"], minlength=len(CIFAR10_CLASSES))
        short = [f"{c} {n:,}" for c, n in zip(CIFAR10_CLASSES, counts.tolist()) if n != expected]
        if short:
            problems.append(f"{split}: {int(counts.sum()):,} images, expected {expected * len(CIFAR10_CLASSES):,} "
                            f"({expected:,} per class; here {', '.join(short)})")
    if problems:
        raise DataSourceError(f"{source} is not the whole CIFAR-10 data set: {'; '.join(problems)}. An interrupted "
                              f"copy or extraction leaves such a source: copy, extract or download it again. To use a "
                              f"smaller set on purpose, call load_cifar10(..., allow_subset=True).")
