"""Where lsdl_ens keeps files: the one place that decides the cache location, plus atomic writes.

- ``LSDL_CACHE``: root of every cache (decoded data, trained checkpoints). Default: ``$XDG_CACHE_HOME/lsdl_ens``
  or ``~/.cache/lsdl_ens``.
- ``LSDL_DATA``: where CIFAR-10 is looked for first (see `lsdl_ens.data.load_cifar10`).

Both may be relative: `env_path` resolves them against the current working directory when they are read, so
messages and cache keys name one absolute folder. A notebook kernel starts in the notebook's folder (``book/``),
where a relative path means something else: the Makefile exports both variables as absolute paths.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def env_path(name: str) -> Path | None:
    """The folder named by environment variable `name` as an absolute path (``~`` expanded), or None if unset."""
    value = os.environ.get(name)
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def cache_dir(*parts: str) -> Path:
    """The cache root (``LSDL_CACHE`` or the user cache dir), or a sub-folder of it; created on demand."""
    root = env_path("LSDL_CACHE")
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(os.path.abspath(os.path.join(base, "lsdl_ens")))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers never see a partial file (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# A checksummed container: b"LSDL1 " + sha256 hex + b"\n" + payload. Truncation or bit flips are detected.
_MAGIC = b"LSDL1 "


def write_checked(path: Path, payload: bytes) -> None:
    """Atomically write `payload` with a sha256 header that `read_checked` verifies."""
    digest = hashlib.sha256(payload).hexdigest().encode()
    atomic_write_bytes(path, _MAGIC + digest + b"\n" + payload)


def read_checked(path: Path) -> bytes:
    """Read a file written by `write_checked`; raise `CorruptFileError` if it is damaged."""
    raw = Path(path).read_bytes()
    header_len = len(_MAGIC) + 64 + 1
    if len(raw) < header_len or not raw.startswith(_MAGIC) or raw[header_len - 1:header_len] != b"\n":
        raise CorruptFileError(f"{path}: missing or damaged checksum header")
    payload = raw[header_len:]
    if hashlib.sha256(payload).hexdigest().encode() != raw[len(_MAGIC):header_len - 1]:
        raise CorruptFileError(f"{path}: checksum mismatch (truncated or modified file)")
    return payload


class CorruptFileError(RuntimeError):
    """A cache file failed its integrity check."""
