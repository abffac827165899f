"""Start and talk to the sandboxed student process (Linux namespaces via util-linux ``unshare``).

The worker sees a new root file system built from read-only bind mounts of the system directories and the Python
environment only (`python_roots`: the interpreter's prefixes and the site-packages holding torch and numpy): the
course package, ``solutions/``, the gradebook, the rest of the course directory, the host's ``/tmp``, ``/root``
and ``/home`` do not exist in it. An environment that lives inside the course folder (``<course>/.venv``, as
``make venv`` creates it) is bound on its own: the folders above it hold nothing else. Its editable install of the
package then points at a folder that does not exist, so ``import lsdl_ens`` fails. The sandbox's private ``/tmp``
is mounted before the environment, so an environment under the host's ``/tmp`` stays visible. The worker has no
network (a fresh network namespace), its own PID namespace, and runs as an unprivileged user of a nested user
namespace, so it cannot undo the mounts. Modules an assignment refuses are replaced by stubs bound over their
files (`rules.py`). CPU time, address space and file size are limited with rlimits (hard limits: the worker cannot
raise them), and every request has a wall-clock limit after which the whole process group is killed with SIGKILL
(signal handlers in student code cannot delay it).

If the sandbox cannot be built the session raises `SandboxError`: grading refuses rather than running student
code unprotected.
"""

from __future__ import annotations

import os
import resource
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import wire

HERE = Path(__file__).resolve().parent
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
NEEDED_MODULES = ("torch", "numpy")  # the worker imports them; their site-packages is bound even outside the prefixes
PACKAGE = HERE.parent  # this package's source folder (in a checkout: <course>/lsdl_ens)
MEMORY_BYTES = 6 * 2**30
CPU_SECONDS = 600
STUB_TEXT = ('raise ImportError("{name} is not allowed in this assignment: it solves the task. '
             'Write the code yourself.")\n')
SWA_STUB = ('def __getattr__(name):\n    raise ImportError("torch.optim.swa_utils is not allowed in this assignment:'
            ' it solves the task. Write the code yourself.")\n')


class SandboxError(RuntimeError):
    """The sandbox could not be set up; nothing was run."""


class StudentTimeout(AssertionError):
    """The student's code ran past its time limit and was killed."""


def worker_source() -> str:
    return (HERE / "wire.py").read_text() + "\n" + (HERE / "worker.py").read_text()


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def python_roots() -> list[str]:
    """Folders bound read-only into the sandbox besides `SYSTEM_DIRS`: what the worker's interpreter needs.

    These are the real paths of ``sys.prefix``, ``sys.base_prefix`` and ``sys.exec_prefix`` and of the
    ``sys.path`` folders holding `NEEDED_MODULES`, minus those already inside a system directory or another root.
    Raises `SandboxError` if one of them would show the course: a root (or system directory) that contains this
    package's source folder without being the site-packages it was installed into."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for name in NEEDED_MODULES:
        path = _module_path(name)
        if path is not None:
            roots.add(os.path.realpath(path.parent))
    roots = {r for r in roots if not any(_within(r, s) for s in SYSTEM_DIRS)}
    package = os.path.realpath(PACKAGE)
    installed = Path(package).parent.name in ("site-packages", "dist-packages")  # then stubbed, see _stub_mounts
    for root in sorted(roots) + list(SYSTEM_DIRS):
        if _within(root, "/dev") or _within(root, "/proc"):  # the sandbox mounts its own there
            raise SandboxError(f"the Python environment {root} lies under /dev or /proc; it cannot be sandboxed")
        if root == "/" or (_within(package, root) and not installed):
            raise SandboxError(f"the Python environment folder {root} contains the course package {package}; "
                               "grading would show the course files to student code. Use a virtual environment "
                               "inside or beside the course folder (e.g. <course>/.venv), not around it.")
    return sorted(r for r in roots if not any(o != r and _within(r, o) for o in roots))


def _module_path(name: str) -> Path | None:
    """File or package directory of module `name` in this interpreter, without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
        return None
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def _stub_mounts(refused: list[str], stubs: Path) -> list[tuple[str, str]]:
    """(stub, target) pairs: bind `stub` over `target` to refuse a module (and its cached bytecode)."""
    pairs = []
    roots = python_roots() + list(SYSTEM_DIRS)
    for name in ["lsdl_ens", *refused]:
        target = _module_path(name)
        if target is None or not any(_within(os.path.realpath(target), r) for r in roots):
            continue
        stub = stubs / name.replace(".", "_")
        if target.is_dir():
            stub.mkdir()
            (stub / "__init__.py").write_text(STUB_TEXT.format(name=name))
        else:
            stub.write_text(SWA_STUB if name == "torch.optim.swa_utils" else STUB_TEXT.format(name=name))
            cache = target.parent / "__pycache__"
            if cache.is_dir():
                empty = stubs / (name.replace(".", "_") + "_cache")
                empty.mkdir()
                pairs.append((str(empty), str(cache)))
        pairs.append((str(stub), str(target)))
    return pairs


def launch_script(new_root: str, stub_pairs: list[tuple[str, str]]) -> str:
    """Shell script run as root of a fresh user+mount+net+pid namespace: build the new root, then drop privileges.

    Order matters: the sandbox's own /dev, /proc and /tmp come first, then the Python roots (which may lie under
    the host's /tmp, e.g. a course checkout there with its .venv), then the stubs over refused modules."""
    q = shlex.quote
    lines = ["set -e", f"R={q(new_root)}", 'mount -t tmpfs -o size=256m,mode=755 sandbox "$R"']
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            lines.append(f'ln -s {q(os.readlink(d))} "$R"{q(d)}')
        elif os.path.isdir(d):
            lines.append(f'mkdir -p "$R"{q(d)} && mount --rbind {q(d)} "$R"{q(d)} && '
                         f'mount -o remount,bind,ro "$R"{q(d)}')
    lines += ['mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/old"', 'mount --rbind /dev "$R/dev"',
              'mount -t proc proc "$R/proc"', 'mount -t tmpfs -o size=64m,mode=1777 tmpfs "$R/tmp"']
    for root in python_roots():
        lines.append(f'mkdir -p "$R"{q(root)} && mount --rbind {q(root)} "$R"{q(root)} && '
                     f'mount -o remount,bind,ro "$R"{q(root)}')
    for stub, target in stub_pairs:
        lines.append(f'mount --bind {q(stub)} "$R"{q(target)}')
    lines += ['cd "$R"', "pivot_root . old", "umount -l /old", "rmdir /old", "cd /tmp",
              'exec unshare --user --map-user=65534 --map-group=65534 -- "$@"']
    return "\n".join(lines)


def _limits():
    os.setsid()
    for res, value in ((resource.RLIMIT_AS, MEMORY_BYTES), (resource.RLIMIT_CPU, CPU_SECONDS),
                       (resource.RLIMIT_FSIZE, 64 * 2**20), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))


def start_worker(refused: list[str], unsafe: bool = False) -> subprocess.Popen:
    """Start the worker process (sandboxed unless `unsafe`) and wait for its ready message."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    python = [sys.executable, "-I", "-c", worker_source()]
    scratch = None
    if unsafe:
        command = python
    else:
        if shutil.which("unshare") is None or shutil.which("pivot_root") is None:
            raise SandboxError("the grading sandbox needs util-linux (unshare, pivot_root); refusing to grade")
        scratch = Path(tempfile.mkdtemp(prefix="lsdl-sandbox-"))
        (scratch / "root").mkdir()
        (scratch / "stubs").mkdir()
        script = launch_script(str(scratch / "root"), _stub_mounts(refused, scratch / "stubs"))
        command = ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--kill-child",
                   "--", "sh", "-c", script, "sandbox", *python]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, preexec_fn=_limits, bufsize=0)  # noqa: PLW1509 - rlimits before exec
    proc.inbox, proc.scratch = b"", scratch  # stub files bound into the sandbox; stop_worker removes them
    try:
        hello = read_message(proc, timeout=60)
    except (StudentTimeout, SandboxError) as exc:
        err = stop_worker(proc)
        raise SandboxError(f"the grading sandbox did not start ({exc}); refusing to grade. {err}") from None
    if hello.get("op") != "ready":
        stop_worker(proc)
        raise SandboxError(f"the grading sandbox sent {hello!r} instead of starting")
    return proc


def stop_worker(proc: subprocess.Popen) -> str:
    """Kill the worker's whole process group; returns the tail of its stderr."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if getattr(proc, "scratch", None) is not None:
        shutil.rmtree(proc.scratch, ignore_errors=True)
    try:
        _, err = proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        err = b""
    return (err or b"").decode(errors="replace")[-1000:]


def send_message(proc: subprocess.Popen, message: dict) -> None:
    try:
        proc.stdin.write((wire.dumps(message) + "\n").encode())
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        err = stop_worker(proc)
        raise SandboxError(f"the student process exited unexpectedly (exit status {proc.returncode}) {err}") from None


def read_message(proc: subprocess.Popen, timeout: float) -> dict:
    """Next JSON message from the worker, or StudentTimeout / SandboxError (the worker is then killed).

    Reads the raw pipe without blocking, so a worker that writes half a line and hangs still times out."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while b"\n" not in proc.inbox:
        left = deadline - time.monotonic()
        if left <= 0:
            stop_worker(proc)
            raise StudentTimeout(f"your code ran longer than {timeout:.0f} s and was stopped")
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            err = stop_worker(proc)
            last = err.strip().splitlines()[-1] if err.strip() else ""
            raise SandboxError(f"your code crashed the Python process (exit status {proc.returncode}) {last}".strip())
        proc.inbox += chunk
        if len(proc.inbox) > 512 * 2**20:
            stop_worker(proc)
            raise SandboxError("the student process sent more than 512 MB")
    line, _, proc.inbox = proc.inbox.partition(b"\n")
    try:
        return wire.loads(line.decode())
    except ValueError:
        stop_worker(proc)
        raise SandboxError("the student process sent garbled data") from None
