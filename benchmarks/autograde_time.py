"""Time to autograde one submission under the grading sandbox (goal: at most 30 s on 2 cores).

Builds a throw-away course directory (gradebook, submitted/ and autograded/ under a temporary folder), submits the
reference solution of one assignment as one student, and times ``nbgrader autograde --student`` with the sandbox
with ``lsdl-ens autograde`` (sandbox self-check included), then the same with ``--no-sandbox`` (student code in
a separate but unconfined process) for comparison, and the sandbox self-check on its own.

    python benchmarks/autograde_time.py [--assignment metrics]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(command: list[str], course: Path) -> float:
    """Seconds taken by `command` (nbgrader or lsdl-ens) on the throw-away course."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               LSDL_PROGRESS="0",
               PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # the kernel grades with this tree
    common = [f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
              f"--CourseDirectory.submitted_directory={course / 'submitted'}",
              f"--CourseDirectory.autograded_directory={course / 'autograded'}",
              f"--CourseDirectory.release_directory={course / 'release'}"]
    start = time.perf_counter()
    result = subprocess.run([*command, *common], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-1000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="metrics")
    aid = parser.parse_args().assignment
    from lsdl_ens.grading.autograde import self_check

    start = time.perf_counter()
    self_check()
    check = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        run([sys.executable, "-m", "nbgrader", "generate_assignment", aid, "--force"], course)
        shutil.copytree(ROOT / "solutions" / aid, course / "submitted" / "alice" / aid)
        cli = [sys.executable, "-m", "lsdl_ens.cli", "autograde", aid, "--student", "alice", "--force"]
        sandboxed = run(cli, course)
        plain = run(cli + ["--no-sandbox"], course)
    print(f"{aid}: sandbox self-check {check:.1f} s; autograde one submission: sandboxed {sandboxed:.1f} s, "
          f"without sandbox {plain:.1f} s (goal: at most 30 s on 2 cores)")


if __name__ == "__main__":
    main()
