"""Helpers for the autograded assignments: shortcut protection and readable feedback.

At grading time (``lsdl-ens autograde``, see `remote` and the book's Grading page) the student's code runs in a
separate sandboxed process and `call_student` receives a proxy: the call runs there, on copies of the arguments,
and only plain data comes back. In the student's own notebook the in-kernel guard below gives early feedback.

The hidden tests of every assignment compare a student's function with the reference in `lsdl_ens`. Two rules:

1. The student's function must compute the answer itself. `forbid_library_calls()` runs it with a trace hook
   that raises `ShortcutError` as soon as any Python function defined in the `lsdl_ens` package is entered,
   however it was imported (``from lsdl_ens.metrics import ece`` included). Reference values are computed
   *before* entering the guard.
2. A failing check says what was expected and what was got: `assert_close` reports the maximum absolute
   difference, the shapes and a description of the input (e.g. its size).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys

import torch

_GRADING_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_GRADING_DIR)


class ShortcutError(AssertionError):
    """A graded function called into lsdl_ens instead of computing the result itself."""


@contextlib.contextmanager
def forbid_library_calls(package_dir: str = _PACKAGE_DIR):
    """Within this block, entering any Python function defined under `package_dir` raises `ShortcutError`."""
    previous = sys.gettrace()

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(package_dir) \
                and not frame.f_code.co_filename.startswith(_GRADING_DIR):  # the guard's own frames
            name = f"{os.path.relpath(frame.f_code.co_filename, os.path.dirname(package_dir))}:" \
                   f"{frame.f_code.co_name}"
            raise ShortcutError(f"your function called the reference library ({name}); graded functions must "
                                "compute the result themselves (torch and numpy are fine)")
        # do not trace inside frames: only calls matter

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


def call_student(fn, *args, **kwargs):
    """Call a student's function: in the grading sandbox when `fn` is a sandbox proxy, else under
    `forbid_library_calls` (the student's own notebook)."""
    from .remote import StudentFunction

    if isinstance(fn, StudentFunction):
        return fn(*args, **kwargs)
    if not callable(fn):
        raise TypeError(f"fn must be the student's function, got {type(fn).__name__} {fn!r}; did the solution cell "
                        "define it under the expected name?")
    with forbid_library_calls():
        return fn(*args, **kwargs)


def _describe(value) -> str:
    if torch.is_tensor(value):
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def assert_close(got, expected, *, what: str, context: str = "", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Assert that `got` equals `expected` within tolerance, with feedback that helps the student.

    Args:
        got, expected: numbers or tensors (same shape).
        what: the quantity, e.g. "ece(probs, labels)".
        context: the input, e.g. "random input, N=500, C=10".
    """
    if not isinstance(what, str) or not what:
        raise TypeError(f"what must name the checked quantity (a non-empty str), got {what!r}")
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {tol!r}")
    where = f" on {context}" if context else ""
    if got is None:
        raise AssertionError(f"{what}{where}: your function returned None (missing return?)")
    try:
        got_t = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise AssertionError(f"{what}{where}: expected a number or tensor, got {_describe(got)}") from None
    exp_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != exp_t.shape:
        raise AssertionError(f"{what}{where}: expected shape {tuple(exp_t.shape)}, got shape {tuple(got_t.shape)}")
    if not torch.allclose(got_t, exp_t, atol=atol, rtol=rtol, equal_nan=True):
        if exp_t.numel() == 1:
            detail = f"expected {exp_t.item():.6g}, got {got_t.item():.6g}"
        else:
            diff = (got_t - exp_t).abs().flatten()
            diff = torch.where(diff.isnan(), torch.full_like(diff, math.inf), diff)  # a NaN mismatch is the worst
            worst = int(diff.argmax())
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), exp_t.shape))
            detail = (f"max abs difference {diff[worst].item():.3g} over {exp_t.numel()} entries, at index {index}: "
                      f"expected {exp_t.flatten()[worst].item():.6g}, got {got_t.flatten()[worst].item():.6g}")
        raise AssertionError(f"{what}{where}: {detail} (tolerance atol={atol}, rtol={rtol})")
