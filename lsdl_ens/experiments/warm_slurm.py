"""`lsdl-ens warm --executor slurm`: one SLURM job array per chapter (submitit's ``SlurmExecutor.map_array``),
one array task per missing run, each with the same resources (partition, GPUs, CPUs, time limit).

Every task runs ``python -m submitit.core._submit`` with this Python and trains its run through the checkpoint
cache, so ``LSDL_CACHE`` must be on a file system the compute nodes share (the job scripts export it, and
``LSDL_DATA`` when set). A single missing run becomes a plain job rather than an array of one (submitit's rule).

Dry run (`dry_run=True`): submitit writes each chapter's sbatch script as for a real submission, but the
``sbatch`` it calls is a stand-in put first on ``PATH`` for the call: it copies the script to
``<folder>/chapter-NN.sbatch`` and answers with a made-up job id (1), so nothing is submitted and no cluster is
needed. Reading those scripts shows the resources each chapter would request; the job pickles submitit wrote
beside them (``<folder>/chapter-NN/1_*``) belong to that made-up id, so submit by running without the dry run.
"""

from __future__ import annotations

import os
import shlex
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import checks
from .warm_jobs import WarmReport, import_submitit, progress_bar, thread_exports, train_run, wait_for

@dataclass(frozen=True)
class SlurmOptions:
    """Resources of every array task.

    Attributes:
        partition: SLURM partition (None: the cluster's default).
        gpus_per_job: GPUs per task (``--gpus-per-node``); 0 asks for none.
        cpus_per_job: CPUs per task (``--cpus-per-task``; also the task's ``OMP_NUM_THREADS``).
        time_min: time limit per task in minutes (``--time``).
        array_parallelism: tasks of one array running at once (``--array=0-N%P``).
    """

    partition: str | None = None
    gpus_per_job: int = 1
    cpus_per_job: int = 4
    time_min: int = 120
    array_parallelism: int = 64

    def __post_init__(self):
        if self.partition is not None and (not isinstance(self.partition, str) or not self.partition.strip()
                                           or any(c.isspace() for c in self.partition)):
            raise ValueError(f"partition must be a SLURM partition name such as 'gpu', got {self.partition!r}")
        checks.nonneg_int("gpus_per_job", self.gpus_per_job, "pass the GPUs each job needs, such as 1 (0: none)")
        checks.positive_int("cpus_per_job", self.cpus_per_job, "pass the CPU cores each job needs, such as 4")
        checks.positive_int("time_min", self.time_min, "pass a time limit in minutes, such as 120")
        checks.positive_int("array_parallelism", self.array_parallelism,
                            "pass how many tasks of one array may run at once, such as 16")

    def parameters(self, chapter: str) -> dict:
        """submitit ``SlurmExecutor.update_parameters`` keywords for `chapter`'s array."""
        exports = thread_exports(self.cpus_per_job)
        for name in ("LSDL_CACHE", "LSDL_DATA"):
            if os.environ.get(name):
                exports.append(f"export {name}={shlex.quote(str(Path(os.environ[name]).expanduser().resolve()))}")
        params = {"job_name": f"lsdl-warm-{chapter}", "time": self.time_min, "cpus_per_task": self.cpus_per_job,
                  "array_parallelism": self.array_parallelism, "setup": exports}
        if self.partition:
            params["partition"] = self.partition
        if self.gpus_per_job:
            params["gpus_per_node"] = self.gpus_per_job
        return params


STAND_IN_SBATCH = """#!/bin/sh
# lsdl-ens warm --dry-run: records the job script instead of submitting it
cp "$1" {target}
echo "Submitted batch job 1 (dry run: nothing was submitted)"
"""


@contextmanager
def stand_in_slurm(folder: Path):
    """Put stand-in ``sbatch`` and ``srun`` first on ``PATH`` for the duration (see the module docstring)."""
    bin_dir = folder / ".dry-run-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    srun = bin_dir / "srun"
    srun.write_text("#!/bin/sh\necho 'lsdl-ens warm --dry-run: srun is a stand-in' >&2\nexit 1\n")
    srun.chmod(0o755)
    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{old_path}"
    try:
        yield bin_dir / "sbatch"
    finally:
        os.environ["PATH"] = old_path
        shutil.rmtree(bin_dir, ignore_errors=True)


def submit_slurm(plans: list, folder: str | Path, options: SlurmOptions, dry_run: bool = False,
                 progress: bool | None = None, poll: float = 30.0, report: WarmReport | None = None) -> WarmReport:
    """Submit one job array per chapter plan with missing runs and wait for every task (or, with `dry_run`, write
    the scripts to ``<folder>/chapter-NN.sbatch`` and return at once).

    Args:
        plans: `lsdl_ens.experiments.warm.ChapterPlan` items, with missing runs already deduplicated across chapters.
        folder: submitit's folder (job pickles and logs, one sub-folder per chapter); on a cluster it must be on a
            file system the compute nodes see.
        options: the resources of every task.
        poll: seconds between two looks at the queue (submitit caches ``sacct`` answers).
    """
    if not isinstance(options, SlurmOptions):
        raise TypeError(f"options must be a SlurmOptions, got {type(options).__name__}")
    report = WarmReport() if report is None else report
    plans = [plan for plan in plans if plan.missing]
    if not plans:
        return report
    submitit = import_submitit()
    folder = Path(folder).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    with (stand_in_slurm(folder) if dry_run else _no_change()) as sbatch:
        for plan in plans:
            if dry_run:
                target = folder / f"chapter-{plan.chapter}.sbatch"
                sbatch.write_text(STAND_IN_SBATCH.format(target=shlex.quote(str(target))))
                sbatch.chmod(0o755)
                report.scripts.append(target)
            executor = submitit.SlurmExecutor(folder=str(folder / f"chapter-{plan.chapter}"))
            executor.update_parameters(**options.parameters(plan.chapter))
            runs = list(plan.missing)
            submitted = executor.map_array(train_run, runs, [options.cpus_per_job] * len(runs))
            jobs.extend(zip(submitted, runs))
    if dry_run:
        return report
    bar = progress_bar(len(jobs), progress, f"warm: {len(jobs)} SLURM task(s) in {len(plans)} array(s)")
    try:
        wait_for(jobs, report, bar, poll)
    finally:
        bar.close()
    return report


@contextmanager
def _no_change():
    yield None
