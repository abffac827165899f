"""Submissions that try to earn points without computing the answer (one per attack class), for "metrics".

Each maps solution-cell grade_id -> source; the other functions stay unanswered. Under the sandboxed grader each
must score no more than hard-coded answers to the visible tests would, and nothing on the attacked functions' hidden
tests. `tests/test_assignments.py::test_attacks` autogrades them all.
"""

_FIND = '''
import glob, os, sys
def _find(pattern):
    for root in ["/work", "/tmp", "/root", "/home", os.getcwd(), *sys.path]:
        hits = glob.glob(os.path.join(root, "**", pattern), recursive=True)
        if hits:
            return hits[0]
    raise FileNotFoundError(pattern)
'''

ASSIGNMENT = "metrics"

ATTACKS = {
    "other_thread": {"nll_answer": '''
import threading
def nll(probs, labels, eps=1e-12):
    box = {}
    def work():
        from lsdl_ens.metrics import nll as ref
        box["v"] = ref(probs, labels, eps)
    t = threading.Thread(target=work)
    t.start(); t.join()
    return box["v"]
'''},
    "settrace_none": {"nll_answer": '''
import sys
def nll(probs, labels, eps=1e-12):
    sys.settrace(None)
    import lsdl_ens.metrics
    return lsdl_ens.metrics.nll(probs, labels, eps)
'''},
    "recompile_library": {"ece_answer": _FIND + '''
_ns = {}
exec(compile(open(_find("lsdl_ens/metrics/calibration.py")).read(), "mine.py", "exec"), _ns)
def ece(probs, labels, n_bins=15):
    return _ns["ece"](probs, labels, n_bins)
'''},
    "exec_solution_cells": {"brier_answer": _FIND + '''
import json
_ns = {"torch": __import__("torch"), "math": __import__("math")}
for _c in json.load(open(_find("solutions/metrics/metrics.ipynb")))["cells"]:
    if _c["cell_type"] == "code" and _c["metadata"].get("nbgrader", {}).get("solution"):
        exec(compile("".join(_c["source"]), "cell.py", "exec"), _ns)
def brier(probs, labels):
    return _ns["brier"](probs, labels)
'''},
    "patch_grading": {"nll_answer": '''
import sys, torch
try:
    import lsdl_ens.grading as _g
    _g.call_student = lambda fn, *a, **k: 0.0
    _g.assert_close = lambda *a, **k: None
    _g.forbid_library_calls = None
except ImportError:
    pass
sys.settrace = lambda *a: None
torch.allclose = lambda *a, **k: True
def nll(probs, labels, eps=1e-12):
    return 0.0
'''},
    "ast_transformer": {"nll_answer": '''
import ast
class _Forgive(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        return ast.fix_missing_locations(ast.Module([ast.Try(node.body, [handler], [], [])], []))
try:
    get_ipython().ast_transformers.append(_Forgive())
except NameError:
    import IPython
    if IPython.get_ipython() is not None:
        IPython.get_ipython().ast_transformers.append(_Forgive())
def nll(probs, labels, eps=1e-12):
    return 0.0
'''},
    "lazy_float": {"nll_answer": '''
class _Lazy:
    def __init__(self, probs, labels, eps):
        self.args = (probs, labels, eps)
    def __float__(self):  # runs only when the test converts the result, after the call has returned
        import lsdl_ens.metrics
        return lsdl_ens.metrics.nll(*self.args)
def nll(probs, labels, eps=1e-12):
    return _Lazy(probs, labels, eps)
'''},
    "tensor_subclass": {"brier_answer": '''
import torch
class _AlwaysClose(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.isclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
def brier(probs, labels):
    return torch.zeros((), dtype=torch.float64).as_subclass(_AlwaysClose)  # float64: as_tensor keeps the object
'''},
    "read_test_frame": {"temperature_answer": '''
import sys
def fit_temperature(logits, labels):
    frame = sys._getframe(1)
    while frame is not None:  # the hidden test computes the reference temperature t_ref before calling us
        for scope in (frame.f_locals, frame.f_globals):
            if isinstance(scope.get("t_ref"), float):
                return scope["t_ref"]
        frame = frame.f_back
    return -1.0
'''},
    "torchmetrics": {"ece_answer": '''
def ece(probs, labels, n_bins=15):
    from torchmetrics.functional.classification import multiclass_calibration_error
    return float(multiclass_calibration_error(probs, labels, probs.shape[1], n_bins=n_bins, norm="l1"))
'''},
    "ignore_sigint_loop": {"nll_answer": '''
import signal
def nll(probs, labels, eps=1e-12):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        pass
''', "brier_answer": '''
def brier(probs, labels):
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return float(((probs.double() - onehot) ** 2).sum(1).mean())
'''},
    "crash": {"nll_answer": '''
import os
def nll(probs, labels, eps=1e-12):
    os._exit(3)
''', "brier_answer": '''
def brier(probs, labels):
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return float(((probs.double() - onehot) ** 2).sum(1).mean())
'''},
    "shadow_helpers": {"nll_answer": '''
def assert_close(*args, **kwargs):
    return None
def call_student(fn, *args, **kwargs):
    return 0.0
def isinstance(*args):
    return True
def nll(probs, labels, eps=1e-12):
    return 0.0
'''},
    "edit_locked_setup": {"setup_1": '''
import math
import torch
torch.allclose = lambda *a, **k: True
''', "nll_answer": '''
def nll(probs, labels, eps=1e-12):
    return 0.0
'''},
}
# in the two runaway submissions, brier is honest: it must still get full marks (grading goes on)
HONEST_IN_ATTACK = {"ignore_sigint_loop": ("brier_visible", "brier_hidden"), "crash": ("brier_visible", "brier_hidden")}
