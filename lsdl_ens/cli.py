"""``lsdl-ens``: instructor commands.

    lsdl-ens figures [--profile cpu|gpu|smoke] [--chapter NAME ...] [--book DIR] [--allow-cpu]
                                                                   re-execute chapter notebooks in place
    lsdl-ens reproduces [--book DIR]                               rebuild the "What reproduces" page
    lsdl-ens profiles                                              print the run-profile table
    lsdl-ens warm [--profile P] [--chapter NN ...] [--executor local|slurm] [--list] [--dry-run] ...
                                                                   train chapters' cached runs as jobs (submitit)
    lsdl-ens autograde ASSIGNMENT [--student S] [--force] [nbgrader options]   grade submissions in the sandbox

`figures` runs each chapter notebook top to bottom with ``LSDL_PROFILE`` set, stores the new outputs (figures as
PNG) in the notebook, and reports the time per notebook. Training inside the notebooks goes through the checkpoint
cache, so a second run only re-evaluates. The chapters are those of the checkout the package is installed from
(``book/`` next to ``lsdl_ens/``) or of ``--book DIR``; executing them needs nbclient, nbformat and ipykernel
(``pip install 'lsdl-ens[figures]'``). After the chapters ran, `figures` rebuilds ``what_reproduces.md`` from the
claims files the chapters wrote (``book/claims/NN.json``, see ``lsdl_ens.claims_page``); `reproduces` does only that.
`warm` trains the runs the chapters read ahead of time, one job per missing run (``lsdl_ens.experiments.warm``),
so that `figures` afterwards only evaluates; ``lsdl-ens warm --help`` lists its options.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .experiments.warm_cli import add_arguments as add_warm_arguments
from .experiments.warm_cli import command as warm_command

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def chapter_notebooks(chapters: list[str] | None = None, book: Path = BOOK) -> list[Path]:
    """Chapter notebooks of `book` in book order; `chapters` selects by file stem or a unique substring of it."""
    notebooks = sorted(Path(book).glob("*.ipynb"))
    if not chapters:
        return notebooks
    chosen = []
    for name in chapters:
        hits = [nb for nb in notebooks if nb.stem == name] or [nb for nb in notebooks if name in nb.stem]
        if len(hits) != 1:
            valid = ", ".join(nb.stem for nb in notebooks)
            raise SystemExit(f"--chapter {name!r} matches {len(hits)} notebooks; valid chapters: {valid}")
        chosen.append(hits[0])
    return chosen


def execute_notebook(path: Path, profile: str, timeout: int = 3600) -> float:
    """Execute `path` in place under `profile`; returns seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = {k: os.environ.get(k) for k in ("LSDL_PROFILE", "LSDL_PROGRESS")}
    os.environ["LSDL_PROFILE"] = profile
    os.environ["LSDL_PROGRESS"] = "0"  # stored outputs stay clean; interactive runs keep their bars
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                       ).execute()
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    elapsed = time.perf_counter() - start
    show_regenerated_cells(nb)
    nbformat.write(nb, path)
    return elapsed


AWAITING = ("awaiting-regeneration", "remove-cell")


def show_regenerated_cells(nb) -> int:
    """Drop the tags ``awaiting-regeneration`` and ``remove-cell`` from the cells that carried them: cells added to a
    chapter since its last run stay off the page until a run has produced their outputs. Returns how many."""
    shown = 0
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if AWAITING[0] in tags:
            cell.metadata["tags"] = [t for t in tags if t not in AWAITING]
            shown += 1
    return shown


def missing_figure_dependencies() -> list[str]:
    """The modules `figures` needs to execute notebooks that cannot be imported."""
    import importlib

    missing = []
    for module in ("nbclient", "nbformat", "ipykernel"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lsdl-ens", description="lsdl_ens instructor commands")
    sub = parser.add_subparsers(dest="command", required=True)
    fig = sub.add_parser("figures", help="re-execute chapter notebooks in place and store their outputs")
    fig.add_argument("--profile", default=None, choices=["smoke", "cpu", "gpu"],
                     help="run profile (default: $LSDL_PROFILE, else gpu with CUDA, else cpu)")
    fig.add_argument("--chapter", action="append", help="chapter notebook stem (repeatable); default: all")
    fig.add_argument("--book", type=Path, default=BOOK, metavar="DIR",
                     help="folder holding the chapter notebooks (default: book/ of the checkout, %(default)s)")
    fig.add_argument("--allow-cpu", action="store_true",
                     help="run the gpu profile even without CUDA (otherwise an error: it takes days on a CPU)")
    rep = sub.add_parser("reproduces", help="rebuild the 'What reproduces' page from the chapters' claims files")
    rep.add_argument("--book", type=Path, default=BOOK, metavar="DIR",
                     help="folder holding claims/NN.json (default: book/ of the checkout, %(default)s)")
    sub.add_parser("profiles", help="print the run-profile table")
    warm = sub.add_parser("warm", help="train the cached runs of chapters ahead of time, as local or SLURM jobs")
    add_warm_arguments(warm)
    grade = sub.add_parser("autograde", help="nbgrader autograde with student code in a sandboxed process")
    grade.add_argument("assignment")
    grade.add_argument("--student", default=None, help="one student id (default: every submission)")
    grade.add_argument("--force", action="store_true", help="re-grade submissions that were graded before")
    grade.add_argument("--no-sandbox", action="store_true", help="UNSAFE, debugging only: no isolation")
    args, nbgrader_options = parser.parse_known_args(argv)

    if args.command == "autograde":  # other options (e.g. --CourseDirectory.db_url=...) go to nbgrader
        from .grading.autograde import autograde

        return autograde(args.assignment, args.student, args.no_sandbox,
                         (["--force"] if args.force else []) + nbgrader_options)
    if nbgrader_options:
        parser.error(f"unrecognized arguments: {' '.join(nbgrader_options)}")

    if args.command == "warm":
        return warm_command(args, warm)
    if args.command == "reproduces":
        return reproduces(args.book.expanduser().resolve())

    from .profiles import ALLOW_GPU_PROFILE_ON_CPU, check_profile_device, get_profile, profile_table

    if args.command == "profiles":
        print(profile_table())
        return 0
    if args.allow_cpu:
        os.environ[ALLOW_GPU_PROFILE_ON_CPU] = "1"  # inherited by the notebook kernels
    try:
        profile = get_profile(args.profile).name
        check_profile_device(profile)
    except ValueError as exc:  # e.g. LSDL_PROFILE=bogus: one line on stderr, exit code 2 (a usage error)
        print(f"lsdl-ens: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        raise SystemExit(f"lsdl-ens figures: {err}") from None
    book = args.book.expanduser().resolve()
    if not sorted(book.glob("*.ipynb")):
        where = ("lsdl-ens is installed outside a checkout of the course repository" if args.book == BOOK
                 else "wrong folder")
        fig.error(f"no chapter notebooks (*.ipynb) in {book} ({where}): pass --book DIR, the folder of the "
                  "chapter notebooks (book/ in the course repository).")
    missing = missing_figure_dependencies()
    if missing:
        fig.error(f"executing notebooks needs {', '.join(missing)}; install them with "
                  "pip install 'lsdl-ens[figures]'.")
    notebooks = chapter_notebooks(args.chapter, book)
    print(f"profile {profile}: {len(notebooks)} notebook(s) in {book}")
    total = 0.0
    for nb in notebooks:
        print(f"  {nb.name} ...", end="", flush=True)
        seconds = execute_notebook(nb, profile)
        total += seconds
        print(f" {seconds:7.1f} s")
    print(f"total {total:.1f} s")
    return reproduces(book)


def reproduces(book: Path) -> int:
    """Rebuild ``book/what_reproduces.md`` from ``book/claims/NN.json`` and say how many chapters it gathers."""
    from .claims_page import build_reproduces_page

    if not book.is_dir():
        print(f"lsdl-ens: error: --book {book} is not a folder; pass the book/ folder of the course repository",
              file=sys.stderr)
        return 2
    page = build_reproduces_page(book)
    n = len(list((book / "claims").glob("[0-9][0-9].json")))
    print(f"{page}: claims of {n} chapter(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
