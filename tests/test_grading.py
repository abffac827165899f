"""Grading helpers: the in-kernel guard and feedback (the student's own notebook), and the grading sandbox with
its wire format (what student code can and cannot reach, and what comes back)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import lsdl_ens.metrics as M
from lsdl_ens.grading import (
    ShortcutError,
    assert_close,
    call_student,
    forbid_library_calls,
    remote,
    rules,
    wire,
)
from lsdl_ens.grading.autograde import protected_paths, self_check, visible_entries
from lsdl_ens.grading.remote import StudentError, StudentFunction
from lsdl_ens.grading.sandbox import StudentTimeout
from lsdl_ens.metrics import ece as imported_ece

ROOT = Path(__file__).resolve().parent.parent


def test_guard_blocks_calls_into_the_library_however_imported():
    probs = torch.full((4, 2), 0.5)
    labels = torch.tensor([0, 1, 0, 1])
    with pytest.raises(ShortcutError, match="metrics/calibration.py:ece"):
        call_student(lambda p, y: imported_ece(p, y), probs, labels)
    with pytest.raises(ShortcutError, match="reference library"):
        call_student(lambda p, y: M.nll(p, y), probs, labels)


def test_guard_allows_torch_and_is_removed_afterwards():
    def own_nll(p, y):
        return -torch.log(p[torch.arange(len(y)), y]).mean()

    probs = torch.full((4, 2), 0.5)
    labels = torch.tensor([0, 1, 0, 1])
    with forbid_library_calls():
        value = own_nll(probs, labels)
    assert abs(float(value) - M.nll(probs, labels)) < 1e-6  # library callable again after the block


def test_feedback_names_expected_got_and_context():
    with pytest.raises(AssertionError, match=r"ece on N=10: expected 0.5, got 0.25"):
        assert_close(0.25, 0.5, what="ece", context="N=10")
    with pytest.raises(AssertionError, match="max abs difference 1 over 3 entries"):
        assert_close(torch.tensor([1.0, 2, 3]), torch.tensor([1.0, 2, 4]), what="probs")
    with pytest.raises(AssertionError, match="returned None"):
        assert_close(None, 1.0, what="brier")
    with pytest.raises(AssertionError, match="expected shape"):
        assert_close(torch.ones(2), torch.ones(3), what="x")
    assert_close(1.0 + 1e-9, 1.0, what="x")



def roundtrip(value, callbacks=None):
    return wire.decode(wire.loads(wire.dumps(wire.encode(value, callbacks))))


def test_wire_roundtrip_plain_data():
    value = {1: (1.5, float("nan"), -math.inf, "s", None, True), "t": [torch.arange(6.0).reshape(2, 3)],
             "i": torch.tensor([1, -2], dtype=torch.int64), "b": torch.tensor([True, False]),
             "h": torch.tensor([0.5, 2.0], dtype=torch.bfloat16), "e": torch.zeros(0, 3), "n": np.arange(3.0)}
    back = roundtrip(value)
    assert back[1][0] == 1.5 and math.isnan(back[1][1]) and back[1][2] == -math.inf and back[1][3:] == ("s", None, True)
    assert torch.equal(back["t"][0], value["t"][0]) and back["i"].dtype == torch.int64
    assert torch.equal(back["b"], value["b"]) and torch.equal(back["h"], value["h"])
    assert back["e"].shape == (0, 3) and isinstance(back["n"], np.ndarray) and back["n"].tolist() == [0.0, 1.0, 2.0]


def test_wire_refuses_lazy_objects_and_subclasses():
    class Lazy(float):
        def __float__(self):
            raise AssertionError("must not be called")

    class Sub(torch.Tensor):
        pass

    for bad in (Lazy(1.0), torch.zeros(2).as_subclass(Sub), (x for x in range(2)), object()):
        with pytest.raises(wire.WireError, match="cannot be sent"):
            wire.encode(bad)


def test_wire_models_and_callbacks():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU()).eval()
    copy = roundtrip(net)
    x = torch.randn(5, 3)
    assert torch.allclose(copy(x), net(x)) and not copy.training
    callbacks = []
    marker = wire.encode([len], callbacks)
    assert callbacks == [len] and wire.decode(marker, lambda i: f"stub{i}") == ["stub0"]


@pytest.fixture(scope="module")
def student():
    """One sandboxed session with a few student functions; `ns` holds their proxies."""
    session = remote.Session(rules.refused_modules("weight_averaging"))
    ns = {}
    session.cell("import math\nimport torch")
    reply = session.cell(PROBES)
    for name, is_callable in reply["defined"].items():
        if is_callable:
            ns[name] = StudentFunction(session, name)
    yield session, ns
    session.close()


PROBES = '''
import os, signal
def readable(paths, allowed):
    out = []
    for p in paths:
        try:
            if os.path.isdir(p):
                out += [f"{p}/{e}" for e in os.listdir(p) if e not in allowed.get(p, ())]
            else:
                open(p, "rb").read(1)
                out.append(p)
        except OSError:
            pass
    return out
def importable(names):
    out = []
    for n in names:
        try:
            __import__(n)
            if n == "torch.optim.swa_utils":
                from torch.optim.swa_utils import update_bn
            out.append(n)
        except ImportError:
            pass
    return out
def whoami():
    return os.getuid()
def network():
    import socket
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        return True
    except OSError:
        return False
def stubborn():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        pass
def crash():
    os._exit(7)
def double(x):
    return 2 * x
def train(model, step):
    step(model)
    model.eval()
def fails():
    raise ValueError("my bug")
class AlwaysClose(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.isclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
def subclass():
    return torch.zeros(2, dtype=torch.float64).as_subclass(AlwaysClose)
class Lazy:
    def __float__(self):
        return 1.0
def lazy():
    return Lazy()
'''


def test_sandbox_hides_course_files_and_library(student):
    _, ns = student
    paths = protected_paths(ROOT) + [str(ROOT / "lsdl_ens" / "grading" / "remote.py"), str(ROOT / "tests")]
    allowed = {p: visible_entries(p) for p in paths}  # e.g. <course>/.venv when the environment lives there
    assert not {"lsdl_ens", "solutions", "tests", "gradebook.db"} & {e for v in allowed.values() for e in v}, allowed
    assert ns["readable"](paths, allowed) == []
    assert ns["importable"](["lsdl_ens", "lsdl_ens.metrics", "torch.optim.swa_utils", "torchmetrics"]) == []
    assert ns["importable"](["torch", "numpy", "math"]) == ["torch", "numpy", "math"]
    assert ns["whoami"]() != 0 and ns["network"]() is False


def test_sandbox_data_callbacks_and_models(student):
    _, ns = student
    assert torch.equal(call_student(ns["double"], torch.tensor([1.0, math.nan])).isnan(), torch.tensor([False, True]))
    assert ns["double"]((1, 2)) == (1, 2, 1, 2)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2)).train()

    def step(model):  # runs here, in the grading process, on a copy sent by the sandbox
        with torch.no_grad():
            model[0].weight.fill_(3.0)

    ns["train"](net, step)
    assert not net.training and torch.all(net[0].weight == 3.0)
    with pytest.raises(ValueError, match="my bug"):
        ns["fails"]()
    got = ns["subclass"]()
    assert type(got) is torch.Tensor and not torch.allclose(got, torch.ones(2, dtype=torch.float64))
    with pytest.raises(StudentError, match="WireError: a value of type .*Lazy cannot be sent"):
        ns["lazy"]()


def test_sandbox_kills_runaway_and_crashing_code(student, monkeypatch):
    _, ns = student
    monkeypatch.setattr(remote, "CALL_SECONDS", 3.0)
    with pytest.raises(StudentTimeout, match="longer than 3 s"):
        ns["stubborn"]()
    with pytest.raises(StudentTimeout, match="not run again"):
        ns["stubborn"]()
    with pytest.raises(Exception, match="crashed"):
        ns["crash"]()
    assert ns["double"](21) == 42  # a fresh worker, the cells replayed


def test_self_check_passes_here():
    self_check(ROOT)


def test_assignment_intros_state_their_rules():
    import nbformat

    for nb_path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        intro = nbformat.read(nb_path, as_version=4).cells[0].source
        for module in rules.refused_modules(nb_path.parent.name):
            assert f"`{module}`" in intro, f"{nb_path.name}: intro does not state that {module} is refused"


def test_only_tested_function_names_come_back():
    from lsdl_ens.grading.preprocess import graded_names

    setup = "import torch\nimport math\ndef small_net(seed):\n    return torch.nn.Linear(2, 2)"
    test = ("from lsdl_ens.grading import assert_close, call_student\nimport lsdl_ens.metrics as reference\n"
            "for n in range(3):\n    net = small_net(n)\n    assert isinstance(call_student(nll, net), float)\n"
            "    assert_close(brier(n), reference.brier(n), what='b')")
    assert graded_names([setup, test]) == ["brier", "nll"]


def test_assert_close_feedback_names_expected_got_and_input():
    with pytest.raises(AssertionError, match=r"ece on N=3: expected 0\.5, got 0\.25"):
        assert_close(0.25, 0.5, what="ece", context="N=3")
    with pytest.raises(AssertionError, match=r"at index \(1, 0\): expected 3, got nan"):
        assert_close(torch.tensor([[1.0, 2.0], [math.nan, 4.0]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]), what="w")
    with pytest.raises(AssertionError, match="returned None"):
        assert_close(None, 1.0, what="nll")


def test_cli_has_autograde():
    from lsdl_ens.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["autograde", "--help"])
    assert exit_info.value.code == 0
