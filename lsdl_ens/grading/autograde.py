"""``lsdl-ens autograde``: check the grading sandbox, then run ``nbgrader autograde`` with it.

The sandbox is wired into nbgrader by ``nbgrader_config.py`` (so a plain ``nbgrader autograde`` in the course
directory is sandboxed too); this command first proves that the sandbox works on this machine (`self_check`: a
sandboxed process must fail to import `lsdl_ens` and to read the package's files, ``solutions/`` and the gradebook)
and refuses to grade otherwise. Then it prints each student's autograded score.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .remote import Session
from .sandbox import SandboxError

ROOT = Path(__file__).resolve().parents[2]
PROBE = '''
import os
def probe(paths):
    seen = []
    for p in paths:
        try:
            os.listdir(p) if os.path.isdir(p) else open(p, "rb").read(1)
            seen.append(p)
        except OSError:
            pass
    try:
        import lsdl_ens
        seen.append("import lsdl_ens")
    except ImportError:
        pass
    return seen
'''


def protected_paths(course: Path = ROOT) -> list[str]:
    import lsdl_ens

    package = Path(lsdl_ens.__file__).resolve().parent
    paths = [package / "metrics.py", package, course / "solutions", course / "gradebook.db", course]
    return [str(p) for p in paths if p.exists()]


def self_check(course: Path = ROOT) -> None:
    """Raise SandboxError unless a sandboxed process can see none of the protected paths."""
    session = Session(["lsdl_ens"])
    try:
        session.cell(PROBE)
        seen = session.call("probe", (protected_paths(course),), {})
    finally:
        session.close()
    if seen:
        raise SandboxError(f"the grading sandbox leaks {seen}; refusing to grade")


def autograde(assignment: str, student: str | None = None, unsafe: bool = False, extra: list[str] = ()) -> int:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # kernels grade with this package
    if unsafe:
        print("WARNING: --no-sandbox: student code runs unprotected on this machine (debugging only).")
        env["LSDL_GRADING_UNSAFE"] = "1"
    else:
        try:
            self_check()
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("grading sandbox: ok (no lsdl_ens, no course files, no network)")
    command = [sys.executable, "-m", "nbgrader", "autograde", assignment, *(["--student", student] if student else []),
               *extra]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
