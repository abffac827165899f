"""Checkpoint cache: trained models stored under a hash of their full recipe.

A recipe is a JSON-able dict naming everything that determines the result (data split, model, optimiser,
schedule, epochs, seed, profile, and the library's recipe version). The file ``<cache>/checkpoints/<kind>/<hash>.pt``
holds ``{"recipe", "state", "extra"}`` written by `torch.save` inside a sha256-checked container, atomically.

Loading uses ``torch.load(weights_only=True)``. A file that fails its checksum, does not unpickle, or whose stored
recipe differs from the requested one is reported with a warning, deleted and rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Callable

import torch

from .paths import CorruptFileError, cache_dir, read_checked, write_checked

# Bump when a change in the library changes what a recipe trains (invalidates every cached checkpoint).
RECIPE_VERSION = 1


def canonical_json(recipe: dict) -> str:
    """The recipe as canonical JSON (sorted keys); raises ValueError naming a value that is not JSON-able."""
    try:
        return json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    except TypeError as exc:
        raise ValueError(f"recipe must hold only JSON values (str, int, float, bool, None, lists, dicts): {exc}") \
            from exc


def recipe_key(recipe: dict) -> str:
    """sha256 of the canonical recipe plus RECIPE_VERSION, 20 hex digits."""
    text = canonical_json({"recipe": recipe, "version": RECIPE_VERSION})
    return hashlib.sha256(text.encode()).hexdigest()[:20]


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
        return self.root / kind / f"{recipe_key(recipe)}.pt"

    def load(self, kind: str, recipe: dict) -> dict | None:
        """The stored payload for `recipe`, or None if absent; a damaged or mismatched file is removed."""
        path = self.path(kind, recipe)
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
        """Atomically write `state` (a state dict or dict of tensors) and `extra` (JSON-like) for `recipe`."""
        path = self.path(kind, recipe)
        buf = io.BytesIO()
        state_cpu = {k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in state.items()}
        torch.save({"recipe": recipe, "state": state_cpu, "extra": extra or {}}, buf)
        write_checked(path, buf.getvalue())
        return path

    def get_or_create(self, kind: str, recipe: dict, build: Callable[[], tuple[dict, dict]]) -> tuple[dict, dict]:
        """Return `(state, extra)` for `recipe`, calling `build()` and storing its result on a miss."""
        if self.enabled:
            payload = self.load(kind, recipe)
            if payload is not None:
                return payload["state"], payload["extra"]
        state, extra = build()
        if self.enabled:
            # another process may have finished the same recipe meanwhile: keep the first entry, so every
            # reader of this recipe sees the same weights
            payload = self.load(kind, recipe)
            if payload is not None:
                return payload["state"], payload["extra"]
            self.save(kind, recipe, state, extra)
        return state, extra


def default_cache() -> CheckpointCache:
    """The cache under ``LSDL_CACHE`` (disabled when ``LSDL_CACHE_DISABLE=1``)."""
    import os

    return CheckpointCache(enabled=os.environ.get("LSDL_CACHE_DISABLE", "0") != "1")
