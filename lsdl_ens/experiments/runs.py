"""The cached runs a chapter needs, as data: what `lsdl-ens warm` trains ahead of time and `lsdl-ens figures` reads.

A `CachedRun` names one entry of the checkpoint cache (`lsdl_ens.cache`): its ``kind`` (cache folder), the
``key`` the trainer stores it under (usually the recipe itself) and the ``trainer``, a module-level function that
builds the entry when called as ``trainer(recipe)`` (and returns it from the cache when present). Trainers are
module-level so that a worker process (`submitit`, a SLURM array task) can import them by name; recipes are frozen
dataclasses, so a run pickles.

Each chapter's experiments module (``lsdl_ens.experiments.<chapter module>``) exposes ``runs(profile)``: every
`CachedRun` the chapter reads, in an order where a run's parents come first. A run whose parent another worker is
still training waits on the cache's build lock, so runs may be trained in any order and in parallel; each is
trained once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["CachedRun", "CHAPTER_MODULES", "chapter_runs", "missing_runs"]


@dataclass(frozen=True)
class CachedRun:
    """One cache entry a chapter needs.

    Attributes:
        kind: the cache folder the trainer writes (``"train"``, ``"swa"``, ``"fge"``, ...).
        recipe: what the trainer is called with (a frozen recipe dataclass).
        trainer: module-level function; ``trainer(recipe)`` trains on a miss and returns the cached result.
        key: what the trainer passes to the cache as its key when it is not the recipe itself (None: the recipe).
        label: a short human-readable name for listings (e.g. ``"SWA seed 1"``).
    """

    kind: str
    recipe: object
    trainer: Callable
    key: object = None
    label: str = ""

    def __post_init__(self):
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError(f"kind must be a non-empty cache folder name such as 'train', got {self.kind!r}")
        if not callable(self.trainer) or "<locals>" in getattr(self.trainer, "__qualname__", "<locals>"):
            raise ValueError(f"trainer must be a module-level function (importable by a worker process), "
                             f"got {self.trainer!r}")

    @property
    def cache_key(self):
        return self.recipe if self.key is None else self.key

    def is_cached(self, cache) -> bool:
        """Whether `cache` (a `lsdl_ens.cache.CheckpointCache`) holds this run's entry."""
        return cache.path(self.kind, self.cache_key).exists()

    def train(self):
        """Build the entry (a cache hit returns at once)."""
        return self.trainer(self.recipe)

    def describe(self) -> str:
        name = self.label or getattr(self.recipe, "model", type(self.recipe).__name__)
        return f"{self.kind}: {name}"


#: chapter id -> the experiments module whose ``runs(profile)`` lists the chapter's cached runs
CHAPTER_MODULES = {
    "01": "lsdl_ens.experiments.calibration",
    "02": "lsdl_ens.experiments.mode_connectivity",
    "03": "lsdl_ens.experiments.weight_averaging",
    "04": "lsdl_ens.experiments.ensembles",
    "05": "lsdl_ens.experiments.basin_sampling",
    "06": "lsdl_ens.experiments.transfer",
    "07": "lsdl_ens.experiments.optimizers_tta",
}


def chapter_runs(chapter: str, profile, modules: Mapping | None = None) -> list[CachedRun]:
    """Every cached run chapter ``chapter`` (``"01"`` ... ``"07"``) reads under `profile`, without duplicates.

    Args:
        modules: chapter id -> the module that lists its runs: a dotted module name, or any object with a
            ``runs(profile)`` function (default `CHAPTER_MODULES`; tests pass small chapters of their own).
    """
    modules = CHAPTER_MODULES if modules is None else modules
    if chapter not in modules:
        raise ValueError(f"chapter must be one of {', '.join(modules)}, got {chapter!r}")
    module = modules[chapter]
    if isinstance(module, str):
        module = importlib.import_module(module)
    if not callable(getattr(module, "runs", None)):
        raise TypeError(f"the module of chapter {chapter} must have a function runs(profile), got {module!r:.80}")
    runs, seen = [], set()
    for run in module.runs(profile):
        ident = (run.kind, _key_text(run.cache_key))
        if ident not in seen:
            seen.add(ident)
            runs.append(run)
    return runs


def missing_runs(runs: list[CachedRun], cache) -> list[CachedRun]:
    """The runs of `runs` that `cache` does not hold yet."""
    return [run for run in runs if not run.is_cached(cache)]


def _key_text(key) -> str:
    from ..cache import canonical_json

    return canonical_json(key)
