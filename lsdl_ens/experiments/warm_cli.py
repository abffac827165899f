"""The options of ``lsdl-ens warm`` and what the command does with them (`lsdl_ens.cli` adds them as a
sub-command; `main` runs them alone, and tests pass their own chapter modules to it).

    lsdl-ens warm --profile P [--chapter 04 ...] [--executor local|slurm] [--workers N]
                  [--partition NAME --gpus-per-job G --cpus-per-job C --time LIMIT --array-parallelism P]
                  [--folder DIR] [--dry-run] [--list] [--allow-cpu]

Exit status: 0 when every job finished, 1 when a job failed (after the others finished), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

_TIME = re.compile(r"(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?\Z")


def parse_time_limit(text, name: str = "time") -> int:
    """A SLURM time limit in whole minutes: ``"90"`` (minutes), ``"1:30"`` / ``"1:30:00"`` (hours:minutes[:seconds])
    or ``"2-00:00"`` (days-hours:minutes); seconds round up to a minute. ValueError naming `name` otherwise."""
    fix = (f"{name} must be minutes (such as 90) or [days-]hours:minutes[:seconds] (such as 1:30:00 or 2-00:00), "
           f"got {text!r}")
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise TypeError(fix)
    text = text.strip()
    if text.isdigit():
        minutes = int(text)
    else:
        match = _TIME.match(text)
        if not match:
            raise ValueError(fix)
        days, hours, mins, secs = (int(g) if g else 0 for g in match.groups())
        if mins >= 60 or secs >= 60:
            raise ValueError(fix)
        minutes = days * 24 * 60 + hours * 60 + mins + (1 if secs else 0)
    if minutes < 1:
        raise ValueError(fix.replace("got", "at least one minute, got"))
    return minutes


SLURM_ONLY = ("partition", "gpus_per_job", "cpus_per_job", "array_parallelism", "dry_run")


def _count(option: str, minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{option} must be a whole number >= {minimum}, got {text!r}")
        return value
    return parse


def _time(text: str) -> int:
    try:
        return parse_time_limit(text, "--time")
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default=None, choices=["smoke", "cpu", "gpu"],
                        help="run profile (default: $LSDL_PROFILE, else gpu with CUDA, else cpu)")
    parser.add_argument("--chapter", action="append", metavar="NN",
                        help="chapter number such as 04 (repeatable); default: every chapter")
    parser.add_argument("--executor", default="local", choices=["local", "slurm"],
                        help="local: worker processes on this machine; slurm: one job array per chapter")
    parser.add_argument("--workers", type=_count("--workers", 1), default=None, metavar="N",
                        help="local: jobs at once (default: one per CUDA device, else 2)")
    parser.add_argument("--partition", default=None, metavar="NAME", help="slurm: partition (default: the cluster's)")
    parser.add_argument("--gpus-per-job", type=_count("--gpus-per-job", 0), default=None, metavar="G",
                        help="slurm: GPUs per job (default 1; 0 for none)")
    parser.add_argument("--cpus-per-job", type=_count("--cpus-per-job", 1), default=None, metavar="C",
                        help="slurm: CPU cores per job (default 4)")
    parser.add_argument("--time", type=_time, default=None, metavar="LIMIT",
                        help="time limit per job: minutes or [days-]hours:minutes[:seconds] "
                             "(default: 2:00:00 on slurm, 24:00:00 locally)")
    parser.add_argument("--array-parallelism", type=_count("--array-parallelism", 1), default=None, metavar="P",
                        help="slurm: tasks of one array running at once (default 64)")
    parser.add_argument("--folder", type=Path, default=None, metavar="DIR",
                        help="job pickles, logs and dry-run scripts (default: warm-jobs/ beside the checkpoints "
                             "under LSDL_CACHE; on a cluster, a folder the nodes share)")
    parser.add_argument("--dry-run", action="store_true",
                        help="slurm: write each chapter's sbatch script into --folder and submit nothing")
    parser.add_argument("--list", action="store_true", help="print each chapter's runs, cached or missing, and exit")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="local: run the gpu profile even without CUDA")


def command(args: argparse.Namespace, parser: argparse.ArgumentParser, modules=None) -> int:
    """Run ``lsdl-ens warm`` with parsed `args`; usage errors go through ``parser.error`` (exit status 2)."""
    from ..profiles import ALLOW_GPU_PROFILE_ON_CPU, check_profile_device, get_profile
    from .warm import SlurmOptions, chapter_ids, plan_text, plan_warm, warm

    if args.executor == "local":
        given = [name for name in SLURM_ONLY if getattr(args, name) not in (None, False)]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            parser.error(f"{flags} apply to --executor slurm only; add --executor slurm or drop them")
    elif args.workers is not None:
        parser.error("--workers applies to --executor local only; on SLURM use --array-parallelism")
    elif args.allow_cpu:
        parser.error("--allow-cpu applies to --executor local only (SLURM jobs run where the partition puts them)")
    try:
        profile = get_profile(args.profile)
        chapters = chapter_ids(args.chapter, modules)
    except ValueError as exc:
        parser.error(str(exc).replace("chapter must", "--chapter must", 1))
    if args.executor == "slurm" and profile.name == "gpu" and args.gpus_per_job == 0:
        parser.error("--gpus-per-job 0 with the gpu profile would train full CIFAR-10 on CPUs for days; ask for "
                     "GPUs (--gpus-per-job 1) or use --profile cpu")
    if args.list:
        try:
            text = plan_text(plan_warm(profile, chapters, modules=modules))
        except ImportError as err:  # a chapter module that is not installed
            print(f"lsdl-ens warm: {err}", file=sys.stderr)
            return 2
        print(f"profile {profile.name}\n{text}")
        return 0
    if args.executor == "local":
        if args.allow_cpu:
            os.environ[ALLOW_GPU_PROFILE_ON_CPU] = "1"
        try:
            check_profile_device(profile)
        except RuntimeError as err:
            print(f"lsdl-ens warm: {err}", file=sys.stderr)
            return 2
        options = {"workers": args.workers, "time_min": args.time or 24 * 60}
    else:
        defaults = SlurmOptions()
        options = {"slurm": SlurmOptions(
            partition=args.partition,
            gpus_per_job=defaults.gpus_per_job if args.gpus_per_job is None else args.gpus_per_job,
            cpus_per_job=args.cpus_per_job or defaults.cpus_per_job, time_min=args.time or defaults.time_min,
            array_parallelism=args.array_parallelism or defaults.array_parallelism), "dry_run": args.dry_run}
    try:
        report = warm(profile, chapters, args.executor, folder=args.folder, modules=modules, **options)
    except (ImportError, RuntimeError) as err:  # submitit missing, no srun on this machine
        print(f"lsdl-ens warm: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"dry run: {len(report.scripts)} job script(s), nothing submitted")
        for script in report.scripts:
            print(f"  {script}")
        return 0
    print(f"profile {profile.name}: {len(report.trained)} job(s) finished, {len(report.failed)} failed, "
          f"{report.seconds:.1f} s")
    if report.failed:
        print("failed: " + "; ".join(label for label, _ in report.failed), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None, modules=None) -> int:
    """``lsdl-ens warm`` on its own; `modules` (chapter id -> module with ``runs(profile)``) replaces the book's
    chapters."""
    parser = argparse.ArgumentParser(prog="lsdl-ens warm",
                                     description="train the cached runs of chapters ahead of time, as jobs")
    add_arguments(parser)
    return command(parser.parse_args(argv), parser, modules)


if __name__ == "__main__":
    sys.exit(main())
