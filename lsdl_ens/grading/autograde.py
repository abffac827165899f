"""``lsdl-ens autograde``: check the grading sandbox, then run ``nbgrader autograde`` with it.

The sandbox is wired into nbgrader by ``nbgrader_config.py`` (so a plain ``nbgrader autograde`` in the course
directory is sandboxed too); this command first proves that the sandbox works on this machine (`self_check`: a
sandboxed process must fail to import `lsdl_ens` and to read the package's files, ``solutions/`` and the gradebook)
and refuses to grade otherwise; a folder above a bound Python environment (``<course>/.venv``) may exist there, holding
nothing but the way to that environment. Then it prints each student's autograded score.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .remote import Session
from .sandbox import SandboxError, python_roots

ROOT = Path(__file__).resolve().parents[2]
PROBE = '''
import os
def probe(paths, allowed):
    seen = []
    for p in paths:
        try:
            if os.path.isdir(p):
                extra = sorted(set(os.listdir(p)) - set(allowed.get(p, ())))
                if extra:
                    seen.append(f"{p} ({', '.join(extra[:5])})")
            else:
                open(p, "rb").read(1)
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
    paths = [package / "metrics" / "calibration.py", package, course / "solutions", course / "gradebook.db", course]
    return [str(p) for p in paths if p.exists()]


def visible_entries(folder: str) -> list[str]:
    """Entries of `folder` the sandbox shows on purpose: the first step towards each Python root inside it."""
    return sorted({Path(os.path.relpath(root, folder)).parts[0] for root in python_roots()
                   if root.startswith(folder.rstrip("/") + "/")})


def self_check(course: Path = ROOT) -> None:
    """Raise SandboxError unless a sandboxed process can see none of the protected paths.

    A protected folder that holds the Python environment (``<course>/.venv``) is visible in the sandbox, but must
    list nothing besides the way to that environment."""
    paths = protected_paths(course)
    allowed = {p: visible_entries(p) for p in paths}
    session = Session(["lsdl_ens"])
    try:
        session.cell(PROBE)
        seen = session.call("probe", (paths, allowed), {})
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
