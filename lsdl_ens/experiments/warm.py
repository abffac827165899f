"""`lsdl-ens warm`: train the cached runs of some chapters ahead of time, as independent jobs, so that executing
the chapters afterwards (`lsdl-ens figures`) only evaluates.

The runs come from the experiments layer (`lsdl_ens.experiments.runs.chapter_runs`: each chapter module's
``runs(profile)``); the ones the checkpoint cache already holds are skipped, a run two chapters share is trained
once, and each missing run becomes one submitit job (``lsdl_ens.experiments.warm_local`` for worker processes on
this machine, ``warm_slurm`` for SLURM job arrays). Every job goes through the cache, whose build lock makes a job
that needs a run another job is training wait for it, so jobs may run in any order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .. import checks
from ..cache import CheckpointCache, canonical_json, default_cache
from ..profiles import Profile
from .runs import CHAPTER_MODULES, CachedRun, chapter_runs
from .warm_jobs import WarmReport
from .warm_local import run_local
from .warm_slurm import SlurmOptions, submit_slurm

__all__ = ["EXECUTORS", "ChapterPlan", "chapter_ids", "plan_warm", "plan_text", "warm", "WarmReport",
           "SlurmOptions"]

EXECUTORS = ("local", "slurm")


@dataclass(frozen=True)
class ChapterPlan:
    """A chapter's runs and, among them, those to train (missing from the cache and not already planned for an
    earlier chapter)."""

    chapter: str
    runs: tuple[CachedRun, ...]
    missing: tuple[CachedRun, ...]


def chapter_ids(chapters=None, modules=None) -> list[str]:
    """Chapter ids as `chapter_runs` names them (``"4"`` -> ``"04"``), in the order given, without repeats;
    every chapter of `modules` (default `CHAPTER_MODULES`) when `chapters` is None or empty."""
    modules = CHAPTER_MODULES if modules is None else modules
    if chapters is None or (not isinstance(chapters, str) and not list(chapters)):
        return list(modules)
    if isinstance(chapters, str):
        chapters = [chapters]
    out = []
    for chapter in chapters:
        name = str(chapter).strip()
        if name.isdigit() and name not in modules:
            name = name.zfill(2)
        if name not in modules:
            raise ValueError(f"chapter must be one of {', '.join(modules)}, got {chapter!r}; pass a chapter "
                             f"number such as 04")
        if name not in out:
            out.append(name)
    return out


def plan_warm(profile: Profile, chapters=None, cache: CheckpointCache | None = None,
              modules=None) -> list[ChapterPlan]:
    """For each chapter, its runs under `profile` and those still to train.

    Args:
        profile: a resolved `lsdl_ens.profiles.Profile` (the runs' sizes come from it).
        chapters: chapter ids (default: all of `modules`).
        cache: the checkpoint cache to look in (default `lsdl_ens.cache.default_cache()`).
        modules: chapter id -> module with ``runs(profile)`` (default `CHAPTER_MODULES`).
    """
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a resolved Profile (lsdl_ens.profiles.get_profile('smoke')), got "
                        f"{type(profile).__name__}: {profile!r:.60}")
    cache = default_cache() if cache is None else cache
    planned, plans = set(), []
    for chapter in chapter_ids(chapters, modules):
        runs = chapter_runs(chapter, profile, modules)
        missing = []
        for run in runs:
            ident = (run.kind, canonical_json(run.cache_key))
            if ident not in planned and not run.is_cached(cache):
                planned.add(ident)
                missing.append(run)
        plans.append(ChapterPlan(chapter, tuple(runs), tuple(missing)))
    return plans


def plan_text(plans: list[ChapterPlan], cache: CheckpointCache | None = None) -> str:
    """One block per chapter: its runs, each marked cached or missing (a run shared with an earlier chapter is
    marked there)."""
    cache = default_cache() if cache is None else cache
    lines = []
    for plan in plans:
        n_missing = sum(not run.is_cached(cache) for run in plan.runs)
        lines.append(f"chapter {plan.chapter}: {len(plan.runs)} run(s), {n_missing} missing")
        for run in plan.runs:
            lines.append(f"  {'cached ' if run.is_cached(cache) else 'missing'}  {run.describe()}")
    return "\n".join(lines)


def warm(profile: Profile, chapters=None, executor: str = "local", *, workers: int | None = None,
         slurm: SlurmOptions | None = None, folder: str | Path | None = None, dry_run: bool = False,
         time_min: int = 24 * 60, modules=None, progress: bool | None = None) -> WarmReport:
    """Train the runs `chapters` need under `profile` that the cache lacks, one job per run.

    The cache is `lsdl_ens.cache.default_cache()`, the one under ``LSDL_CACHE``, which the jobs inherit.

    Args:
        executor: ``"local"`` (`workers` processes on this machine) or ``"slurm"`` (one array per chapter with the
            resources of `slurm`, default `SlurmOptions()`).
        folder: submitit's folder for job pickles, logs and (dry run) scripts (default ``warm-jobs/`` under
            ``LSDL_CACHE``, next to ``checkpoints/``).
        dry_run: SLURM only: write the job scripts into `folder` and submit nothing.
        time_min: local jobs' time limit in minutes (SLURM takes ``slurm.time_min``).
        modules: chapter id -> module with ``runs(profile)`` (default: the book's chapters).

    Returns:
        a `WarmReport`; ``report.ok`` is False when a job failed (its error was printed with the run's label).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if executor == "local" and (slurm is not None or dry_run):
        raise ValueError("slurm options and dry_run apply to executor='slurm' only; pass executor='slurm' or drop "
                         "them")
    if executor == "slurm" and workers is not None:
        raise ValueError("workers applies to executor='local' only (SLURM runs array_parallelism tasks at once); "
                         "pass SlurmOptions(array_parallelism=...) instead")
    if workers is not None:
        checks.positive_int("workers", workers, "pass the number of jobs to run at once, such as 2")
    checks.positive_int("time_min", time_min, "pass a time limit in minutes, such as 120")
    start = time.perf_counter()
    cache = default_cache()
    plans = plan_warm(profile, chapters, cache, modules)
    folder = Path(folder) if folder is not None else cache.root.parent / "warm-jobs"
    report = WarmReport()
    if executor == "local":
        runs = [run for plan in plans for run in plan.missing]
        run_local(runs, folder, workers, time_min, progress, report=report)
    else:
        submit_slurm(plans, folder, slurm or SlurmOptions(), dry_run, progress, report=report)
    report.seconds = time.perf_counter() - start
    return report
