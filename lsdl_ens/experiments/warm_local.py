"""`lsdl-ens warm --executor local`: the missing runs as submitit jobs on this machine, at most `workers` at a time.

Each job is a fresh Python process (submitit's ``LocalExecutor``) that trains one run through the checkpoint cache;
when one finishes the next starts. Workers share the CPU cores: each gets ``cores // workers`` threads
(``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``torch.set_num_threads``). With CUDA devices, worker slot ``k``
sees only device ``k % n_devices`` (``CUDA_VISIBLE_DEVICES``; submitit hides every GPU from a local job that asks
for none). Two jobs needing one parent run (e.g. the standard run under SWA and FGE) do not both train it: the
cache's build lock makes the second wait and read it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

from .. import checks
from .runs import CachedRun
from .warm_jobs import WarmReport, import_submitit, progress_bar, record, thread_exports, train_run


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def default_workers() -> int:
    """One worker per CUDA device when there are any, else two (at most the number of cores)."""
    return cuda_device_count() or min(2, available_cores())


def run_local(runs: list[CachedRun], folder: str | Path, workers: int | None = None, time_min: int = 24 * 60,
              progress: bool | None = None, poll: float = 0.1, report: WarmReport | None = None) -> WarmReport:
    """Train `runs` as local submitit jobs, `workers` at a time; logs and pickles go to `folder`.

    Args:
        runs: the runs to train (already without the cached ones; a cached one would return at once).
        folder: submitit's folder for this call (job pickles, ``*_log.out`` / ``*_log.err``).
        workers: jobs running at once (default `default_workers`).
        time_min: a job still running after this many minutes is stopped (submitit's timeout) and counts as failed.
        poll: seconds between checks of the running jobs.

    Returns:
        `report` (a new `WarmReport` when None) with the trained and the failed runs.
    """
    workers = default_workers() if workers is None else checks.positive_int(
        "workers", workers, "pass the number of jobs to run at once, such as 2")
    time_min = checks.positive_int("time_min", time_min, "pass a time limit in minutes, such as 120")
    report = WarmReport() if report is None else report
    if not runs:
        return report
    submitit = import_submitit()
    threads = max(1, available_cores() // workers)
    gpus = cuda_device_count()
    executor = submitit.LocalExecutor(folder=str(folder))
    executor.update_parameters(timeout_min=time_min, setup=thread_exports(threads))
    pending, running = deque(runs), {}
    bar = progress_bar(len(runs), progress, f"warm: {len(runs)} run(s), {workers} local worker(s)")
    try:
        while pending or running:
            for slot in range(workers):
                if slot not in running and pending:
                    if gpus:
                        executor.update_parameters(gpus_per_node=1, visible_gpus=[slot % gpus])
                    run = pending.popleft()
                    running[slot] = (executor.submit(train_run, run, threads), run)
            time.sleep(poll)
            for slot, (job, run) in list(running.items()):
                if job.done():
                    record(job, run, report)
                    bar.update(1)
                    del running[slot]
    finally:
        for job, _ in running.values():  # interrupted (Ctrl-C): stop the jobs this call started
            job.cancel(check=False)
        bar.close()
    return report
