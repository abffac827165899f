"""Where lsdl_ens keeps files: the one place that decides the cache location, plus atomic writes.

- ``LSDL_CACHE``: root of every cache (decoded data, trained checkpoints). Default: ``$XDG_CACHE_HOME/lsdl_ens``
  or ``~/.cache/lsdl_ens``.
- ``LSDL_DATA``: where CIFAR-10 is looked for first (see `lsdl_ens.data.load_cifar10`).

Atomic writes go through a temporary file ``<name>.w<pid>@<host>.<random>.tmp`` next to the target, renamed over
it when complete. A process killed mid-write leaves that file behind; the next write into the same folder removes
such orphans: those whose writer (same host) is no longer running, and any older than `ORPHAN_AGE_S` (a live
write renames its file within seconds, so an hour-old one has no writer, whatever its host).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import time
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache root (``LSDL_CACHE`` or the user cache dir), or a sub-folder of it; created on demand."""
    root = os.environ.get("LSDL_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "lsdl_ens")
    path = Path(root).expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


ORPHAN_AGE_S = 3600.0
_TEMP_NAME = re.compile(r"\.w(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]*)\.[^.]+\.tmp\Z")


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:64]


def temp_name_prefix(path: Path, pid: int | None = None) -> str:
    """Name prefix of `atomic_write_bytes`'s temporary file for `path`: ``<name>.w<pid>@<host>.``."""
    return f"{Path(path).name}.w{os.getpid() if pid is None else pid}@{_host_tag()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:  # another user's process
        return True
    except (ProcessLookupError, OverflowError):  # no such process, or a pid out of range
        return False
    return True


def remove_orphaned_temp_files(folder: Path, max_age_s: float = ORPHAN_AGE_S) -> list[Path]:
    """Delete the ``*.tmp`` files in `folder` left by interrupted atomic writes; return the paths removed.

    A temporary file is an orphan when its name records a writer on this host that is no longer running, or when
    it is older than `max_age_s` seconds (any host, or a name without a writer). A concurrent writer's file is
    younger than that and its process is alive, so it is kept.
    """
    removed = []
    now, host = time.time(), _host_tag()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.endswith(".tmp") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:  # renamed or removed meanwhile
            continue
        m = _TEMP_NAME.search(entry.name)
        dead_writer = m is not None and m["host"] == host and not _pid_alive(int(m["pid"]))
        if dead_writer or age > max_age_s:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:  # another process cleaned it first
                pass
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers never see a partial file (temp file + rename).

    Orphaned temporary files of interrupted writes in the same folder are removed first
    (`remove_orphaned_temp_files`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: a folder is in the way; move or delete that folder "
                                "(it does not belong to lsdl_ens) and run again")
    remove_orphaned_temp_files(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=temp_name_prefix(path), suffix=".tmp", dir=path.parent)
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
