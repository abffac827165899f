"""What every `lsdl-ens warm` job runs, and how the command follows its jobs: one submitit job trains one
`CachedRun`; a tqdm bar counts finished jobs; a failed job's error is printed under its run's label and the
command carries on with the others (it fails at the end, see `WarmReport.ok`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..train import progress_enabled
from .runs import CachedRun

INSTALL_HINT = "pip install 'lsdl-ens[cluster]' (or pip install submitit)"


def import_submitit():
    """The `submitit` module, or an ImportError saying how to install it."""
    try:
        import submitit
    except ImportError as exc:
        raise ImportError(f"lsdl-ens warm runs its jobs through submitit, which is not installed: {INSTALL_HINT}") \
            from exc
    return submitit


@dataclass
class WarmReport:
    """What a `warm` call did.

    Attributes:
        trained: labels of the runs whose jobs finished (a run another job built meanwhile counts here too).
        failed: ``(label, error text)`` of each failed job.
        scripts: job scripts written by a SLURM dry run (one per chapter with missing runs).
        seconds: wall time of the whole call.
    """

    trained: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    scripts: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def train_run(run: CachedRun, threads: int | None = None) -> dict:
    """The body of one job: train `run` through the cache (a hit returns at once) with `threads` CPU threads.

    Module-level so that submitit pickles it by reference. Returns the run's label and the seconds it took."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    start = time.perf_counter()
    run.train()
    return {"label": run.describe(), "seconds": time.perf_counter() - start, "pid": os.getpid()}


def thread_exports(threads: int) -> list[str]:
    """Shell lines limiting a worker's math libraries to `threads` threads."""
    return [f"export {name}={threads}" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")]


def progress_bar(total: int, progress: bool | None, desc: str):
    return tqdm(total=total, desc=desc, unit="job", disable=not progress_enabled(progress), file=sys.stderr)


def record(job, run: CachedRun, report: WarmReport) -> None:
    """Add the outcome of the finished `job` (training `run`) to `report`; print a failure with the run's label."""
    error = job.exception()
    if error is None:
        report.trained.append(run.describe())
        return
    text = str(error).strip()
    report.failed.append((run.describe(), text))
    tqdm.write(f"lsdl-ens warm: job {job.job_id} ({run.describe()}) failed:\n{text}", file=sys.stderr)


def wait_for(jobs: list[tuple[object, CachedRun]], report: WarmReport, bar, poll: float) -> None:
    """Wait until every submitted job finished, recording each as it finishes (in any order). Looks every half
    second at first, then less often, at most every `poll` seconds (a tenth of the time waited so far)."""
    pending, start = list(jobs), time.monotonic()
    while pending:
        still = []
        for job, run in pending:
            if job.done():
                record(job, run, report)
                bar.update(1)
            else:
                still.append((job, run))
        pending = still
        if pending:
            time.sleep(min(poll, max(0.5, (time.monotonic() - start) / 10)))
