"""The grading kernel's side of out-of-process grading: student cells and functions that live in the sandbox.

The autograder rewrites each student cell of a submission into a call of `student_cell`, which ships the cell's
source to the sandboxed worker (`sandbox.py`) instead of executing it here. The functions the cell defines appear
in the grading kernel as `StudentFunction` proxies: calling one sends the arguments as plain data (`wire.py`) and
returns the worker's result as plain data. So the locked and hidden tests, the reference library and the grade run
in a kernel where no student code ever ran. Read-only setup cells run in both places (`shared_cell`).

If the worker dies (time limit, crash, memory), the next request starts a fresh one and replays the cells that
had run without a time-out or crash; a function that timed out is not called again.
"""

from __future__ import annotations

import atexit
import os
import time

from . import wire
from .sandbox import (
    SandboxError,
    StudentTimeout,
    read_message,
    send_message,
    start_worker,
    stop_worker,
)

CALL_SECONDS = float(os.environ.get("LSDL_GRADING_CALL_SECONDS", "30"))  # wall-clock limit of one call
CELL_SECONDS = float(os.environ.get("LSDL_GRADING_CELL_SECONDS", "60"))  # ... of running one student cell
_SESSION = None


class StudentError(AssertionError):
    """The student's code raised an error (or returned something that cannot be graded)."""


_SAME_TYPE = {}
for _base in (ValueError, TypeError, KeyError, IndexError, RuntimeError, ZeroDivisionError, NotImplementedError):
    try:  # e.g. a test that expects ValueError for bad input still sees one
        _SAME_TYPE[_base.__name__] = type(f"Student{_base.__name__}", (StudentError, _base), {})
    except TypeError:
        pass


def student_exception(error: str) -> StudentError:
    """The student's exception, re-created from its text: its builtin type if common, else StudentError."""
    name = error.split(":", 1)[0]
    return _SAME_TYPE.get(name, StudentError)(error)


class Session:
    """One sandboxed worker per graded notebook, with the history of cells needed to rebuild it."""

    def __init__(self, refused: list[str], unsafe: bool = False):
        self.refused, self.unsafe = list(refused), unsafe
        self.proc = None
        self.history: list[str] = []
        self.stopped: dict[str, str] = {}

    def _worker(self):
        if self.proc is None or self.proc.poll() is not None:
            self.proc = start_worker(self.refused, self.unsafe)
            for source in self.history:
                self._request({"op": "cell", "source": source}, [], [], CELL_SECONDS)
        return self.proc

    def _request(self, message, callbacks, models, timeout):
        proc = self.proc
        send_message(proc, message)
        budget = timeout
        while True:
            start = time.monotonic()
            reply = read_message(proc, budget)
            budget -= time.monotonic() - start
            if reply.get("op") != "callback":
                break
            send_message(proc, self._run_callback(callbacks, reply))
        for model, update in zip(models, reply.get("updates") or []):
            wire.apply_module_update(model, update)
        return reply

    @staticmethod
    def _run_callback(callbacks, request):
        """Run a test's helper on plain data from the worker; models it changes in place are sent back."""
        try:
            fn = callbacks[int(request["id"])]
            args = wire.decode(request["args"])
            kwargs = wire.decode(request["kwargs"])
            value = fn(*args, **kwargs)
            models = [a for a in args if type(a).__module__.startswith("torch.nn")]
            return {"op": "return", "value": wire.encode(value),
                    "updates": [wire.module_update(m) for m in models]}
        except Exception as exc:  # noqa: BLE001 - reported to the student's code as an error
            return {"op": "return", "error": f"{type(exc).__name__}: {exc}"}

    def run(self, message, callbacks=(), models=(), timeout=None):
        self._worker()
        try:
            return self._request(message, list(callbacks), list(models), timeout or CALL_SECONDS)
        except BaseException:  # time-out, crash, or the notebook's cell interrupt: never leave a worker behind
            if self.proc is not None:
                stop_worker(self.proc)
            self.proc = None
            raise

    def close(self) -> None:
        """Stop the worker (and remove its scratch files)."""
        if self.proc is not None:
            stop_worker(self.proc)
            self.proc = None

    def cell(self, source: str, keep: bool = True) -> dict:
        reply = self.run({"op": "cell", "source": source}, timeout=CELL_SECONDS)
        if keep:
            self.history.append(source)
        return reply

    def call(self, name: str, args, kwargs):
        if name in self.stopped:
            raise StudentTimeout(f"{name}: {self.stopped[name]} (on an earlier call; not run again)")
        callbacks = []
        message = {"op": "call", "name": name, "args": wire.encode(list(args), callbacks),
                   "kwargs": wire.encode(dict(kwargs), callbacks)}
        models = [a for a in list(args) + list(kwargs.values()) if type(a).__module__.startswith("torch.nn")]
        try:
            reply = self.run(message, callbacks, models)
        except (StudentTimeout, SandboxError) as exc:
            self.stopped[name] = str(exc)
            raise type(exc)(f"{name}: {exc}") from None
        if reply.get("printed"):
            print(reply["printed"], end="")
        if "error" in reply:
            raise student_exception(reply["error"]) from None
        return wire.decode(reply["value"])


class StudentFunction:
    """Stands for a function defined by the student; calling it runs it in the sandbox on copies of the arguments."""

    def __init__(self, session: Session, name: str):
        self._session, self.__name__ = session, name

    def __call__(self, *args, **kwargs):
        return self._session.call(self.__name__, args, kwargs)

    def __repr__(self):
        return f"<student function {self.__name__} (runs in the grading sandbox)>"


def session(refused=(), unsafe=False) -> Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = Session(list(refused), unsafe)
        atexit.register(_SESSION.close)
    return _SESSION


def shared_cell(source: str, refused=(), unsafe=False) -> None:
    """A read-only setup cell: also run it in the sandbox so that the student's code sees the same imports."""
    reply = session(refused, unsafe).cell(source)
    if "error" in reply:
        print(f"(setup cell failed in the grading sandbox: {reply['error']})")


def student_cell(source: str, namespace: dict, refused=(), unsafe=False, exported=None) -> None:
    """Run a student's cell in the sandbox; the functions it defines become proxies in `namespace`.

    Only names listed in `exported` (the functions the tests call, when given) are bound here."""
    s = session(refused, unsafe)
    try:
        reply = s.cell(source, keep=False)
    except (StudentTimeout, SandboxError) as exc:
        raise StudentError(f"this cell was stopped: {exc}") from None
    s.history.append(source)
    if reply.get("printed"):
        print(reply["printed"], end="")
    for name, is_callable in reply.get("defined", {}).items():
        if is_callable and (exported is None or name in exported):
            namespace[name] = StudentFunction(s, name)
    if "error" in reply:
        print(reply.get("traceback", ""))
        raise StudentError(f"this cell raised {reply['error']}")
