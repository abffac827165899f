"""Checkpoint cache: trained models stored under a hash of their full recipe.

A recipe is a JSON-able dict naming everything that determines the result (data split, model, optimiser,
schedule, epochs, seed, profile, and the library's recipe version). The file ``<cache>/checkpoints/<kind>/<hash>.pt``
holds ``{"recipe", "state", "extra"}`` written by `torch.save` inside a sha256-checked container, atomically.

Loading uses ``torch.load(weights_only=True)``. A file that fails its checksum, does not unpickle, or whose stored
recipe differs from the requested one is reported with a warning, deleted and rebuilt, never used. A payload that
``weights_only`` could not load back is refused when it is saved (`UnsavablePayloadError` names the value), so
it is never written and silently rebuilt on every call.

`get_or_create` returns the same thing on a miss as on a hit: the payload as read back from its bytes (tensors on
the CPU, detached, no grad; tuples stay tuples). Builds of one recipe are serialised across processes by a file
lock (``<hash>.pt.lock``, an empty file left in place; `filelock`'s OS lock, released by the OS when its holder
dies, so a killed build never blocks the next one): a second process asking for a recipe that is being built
waits, then reads the entry, so a recipe is trained once and every reader gets the same weights.

Build log: when ``LSDL_CACHE_BUILD_LOG`` names a file, every build (a miss that calls ``build()``) appends one JSON
line ``{"kind", "key", "pid"}`` to it, from any process; tests count builds with it (e.g. that ``lsdl-ens warm``
trained each run once and that a chapter then trained nothing).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable

import torch
from filelock import FileLock, Timeout

from .paths import CorruptFileError, cache_dir, read_checked, write_checked

# Bump when a change in the library changes what a recipe trains (invalidates every cached checkpoint).
RECIPE_VERSION = 1
_KIND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")


class UnsavablePayloadError(TypeError):
    """A build returned something ``torch.load(weights_only=True)`` could not load back."""


def canonical_json(recipe) -> str:
    """The recipe as canonical JSON (sorted keys); typed recipes (anything with an ``as_dict()`` method, e.g.
    `lsdl_ens.recipe_types.Recipe`) are written as their ``as_dict()``, tuples as lists. Raises ValueError naming
    a value that is not JSON-able."""
    try:
        return json.dumps(recipe, sort_keys=True, separators=(",", ":"), default=_plain)
    except TypeError as exc:
        raise ValueError(f"recipe must hold only JSON values (str, int, float, bool, None, lists, dicts): {exc}") \
            from exc


def _plain(obj):
    if callable(getattr(obj, "as_dict", None)):
        return obj.as_dict()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def plain_recipe(recipe):
    """The recipe as plain JSON values (typed recipes as their ``as_dict()``): what a cache file stores."""
    return json.loads(canonical_json(recipe))


def recipe_key(recipe) -> str:
    """sha256 of the canonical recipe plus RECIPE_VERSION, 20 hex digits."""
    text = canonical_json({"recipe": recipe, "version": RECIPE_VERSION})
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _to_cpu(obj):
    """Tensors detached and on the CPU, through dicts, lists and tuples (other values unchanged)."""
    if torch.is_tensor(obj):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        out = {k: _to_cpu(v) for k, v in obj.items()}
        return OrderedDict(out) if isinstance(obj, OrderedDict) else out
    if type(obj) in (list, tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _round_trip(obj) -> object:
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True, map_location="cpu")


def _first_unsavable(obj, where: str) -> tuple[str, object, Exception] | None:
    """The first value inside `obj` that does not survive torch.save + torch.load(weights_only=True)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = _first_unsavable(k, f"a key of {where}") or _first_unsavable(v, f"{where}[{k!r}]")
            if found:
                return found
        return None
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _first_unsavable(v, f"{where}[{i}]")
            if found:
                return found
        return None
    try:
        _round_trip(obj)
    except Exception as exc:  # pickling and weights_only errors come in many types
        return where, obj, exc
    return None


def serialize_payload(recipe: dict, state: dict, extra: dict | None) -> tuple[bytes, dict]:
    """`torch.save` bytes of ``{"recipe", "state", "extra"}`` (tensors detached, on the CPU) and the payload
    read back from them with ``weights_only=True``; raises `UnsavablePayloadError` naming an unloadable value."""
    payload = {"recipe": plain_recipe(recipe), "state": _to_cpu(state),
               "extra": _to_cpu(extra if extra is not None else {})}
    buf = io.BytesIO()
    try:
        torch.save(payload, buf)
        data = buf.getvalue()
        loaded = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # pickling and weights_only errors come in many types
        found = _first_unsavable(payload["state"], "state") or _first_unsavable(payload["extra"], "extra")
        if found:
            where, value, err = found
            reason = (str(err).splitlines() or [""])[0]
            reason = "weights_only refuses this type" if "Weights only load failed" in reason else reason[:160]
            what = f"{where} is a {type(value).__module__}.{type(value).__qualname__} ({reason})"
        else:
            what = f"{type(exc).__name__}: {exc}"
        raise UnsavablePayloadError(
            f"the checkpoint cache cannot store this result: {what}. torch.load(weights_only=True) reads back only "
            "tensors, numbers, strings, bools, None and lists, tuples and dicts of them: convert numpy arrays with "
            "torch.as_tensor and numpy numbers with float()/int(), and keep models, functions and other objects "
            "out of the state and extra dicts") from exc
    return data, loaded


class CheckpointCache:
    """Store and fetch trained states by recipe.

    Args:
        root: folder of the cache (default ``<LSDL_CACHE>/checkpoints``).
        enabled: when False, `get_or_create` always builds and never writes (``LSDL_CACHE_DISABLE=1``).
    """

    def __init__(self, root: str | Path | None = None, enabled: bool = True):
        self.root = Path(root) if root is not None else cache_dir("checkpoints")
        self.enabled = enabled

    def path(self, kind: str, recipe: dict) -> Path:
        """``<root>/<kind>/<hash>.pt``; `kind` must be a plain folder name, so that entries stay under the root."""
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise ValueError(f"kind must be a plain folder name (letters, digits, '_', '-', '.', not starting with "
                             f"'.', no '/' or '\\\\', at most 128 characters) so that the entry stays inside the "
                             f"cache root; got kind={kind!r}")
        if not isinstance(recipe, dict) and not callable(getattr(recipe, "as_dict", None)):
            raise TypeError(f"recipe must be a Recipe or a dict of JSON values; got {type(recipe).__name__}: "
                            f"{recipe!r:.80}")
        return self.root / kind / f"{recipe_key(recipe)}.pt"

    @staticmethod
    def _refuse_folder(path: Path) -> None:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder, where the checkpoint cache keeps one entry's file; move or "
                                    "delete that folder (lsdl_ens never creates it) and run again")

    def load(self, kind: str, recipe: dict) -> dict | None:
        """The stored payload for `recipe`, or None if absent; a damaged or mismatched file is removed."""
        path = self.path(kind, recipe)
        self._refuse_folder(path)
        if not path.exists():
            return None
        try:
            payload = torch.load(io.BytesIO(read_checked(path)), weights_only=True, map_location="cpu")
            if not isinstance(payload, dict) or "state" not in payload:
                raise CorruptFileError(f"{path}: not a checkpoint payload")
            if canonical_json(payload.get("recipe")) != canonical_json(recipe):
                raise CorruptFileError(f"{path}: stored recipe differs from the requested one")
            return payload
        except Exception as exc:  # unpickling errors have many types
            warnings.warn(f"cache file {path} is unusable ({exc}); it will be rebuilt", stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def save(self, kind: str, recipe: dict, state: dict, extra: dict | None = None) -> Path:
        """Atomically write `state` (a state dict or dict of tensors) and `extra` (JSON-like) for `recipe`.

        Raises `UnsavablePayloadError` (nothing is written) if ``torch.load(weights_only=True)`` could not load
        the payload back."""
        self._store(kind, recipe, state, extra)
        return self.path(kind, recipe)

    def _store(self, kind: str, recipe: dict, state, extra) -> dict:
        path = self.path(kind, recipe)
        self._refuse_folder(path)
        data, payload = serialize_payload(recipe, state, extra)
        write_checked(path, data)
        return payload

    @contextmanager
    def _build_lock(self, kind: str, recipe: dict):
        path = self.path(kind, recipe)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if os.environ.get("LSDL_PROGRESS", "1") != "0":
                print(f"lsdl_ens: another process is building {kind}/{path.name}; waiting for it", file=sys.stderr,
                      flush=True)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def get_or_create(self, kind: str, recipe: dict, build: Callable[[], tuple[dict, dict]]) -> tuple[dict, dict]:
        """Return `(state, extra)` for `recipe`, calling `build()` and storing its result on a miss.

        A hit and a miss return the same thing: the payload as loaded back from the cache file (tensors on the CPU,
        detached). One process builds a recipe at a time (file lock); the others wait and read its entry.
        """
        self.path(kind, recipe)  # validates kind and recipe before any work
        if not callable(build):
            raise TypeError(f"build must be a function taking no arguments and returning (state, extra); "
                            f"got {type(build).__name__}: {build!r:.80}")
        if not self.enabled:
            _, payload = serialize_payload(recipe, *_call_build(build, kind))
            return payload["state"], payload["extra"]
        payload = self.load(kind, recipe)
        if payload is None:
            with self._build_lock(kind, recipe):
                payload = self.load(kind, recipe)  # built by the process we waited for
                if payload is None:
                    log_build(kind, recipe)
                    state, extra = _call_build(build, kind)
                    # a writer that does not take the lock (`save`) may have finished meanwhile: keep the first
                    # entry, so every reader of this recipe sees the same weights
                    payload = self.load(kind, recipe) or self._store(kind, recipe, state, extra)
        return payload["state"], payload["extra"]


BUILD_LOG = "LSDL_CACHE_BUILD_LOG"


def log_build(kind: str, recipe) -> None:
    """Append ``{"kind", "key", "pid"}`` to the file named by ``LSDL_CACHE_BUILD_LOG`` (nothing when unset).
    One short ``write`` per line in append mode, so lines of concurrent processes do not interleave."""
    target = os.environ.get(BUILD_LOG)
    if not target:
        return
    line = json.dumps({"kind": kind, "key": recipe_key(recipe), "pid": os.getpid()}) + "\n"
    with open(target, "a", encoding="utf-8") as f:
        f.write(line)


def read_build_log(path) -> list[dict]:
    """The builds logged in `path` (see `log_build`), oldest first; [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _call_build(build, kind: str) -> tuple[dict, dict | None]:
    result = build()
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict)
            and (result[1] is None or isinstance(result[1], dict))):
        raise TypeError(f"build for kind={kind!r} must return a pair (state dict, extra dict or None); got "
                        f"{type(result).__name__}: {result!r:.80}")
    return result


def default_cache() -> CheckpointCache:
    """The cache under ``LSDL_CACHE`` (disabled when ``LSDL_CACHE_DISABLE=1``)."""
    return CheckpointCache(enabled=os.environ.get("LSDL_CACHE_DISABLE", "0") != "1")
