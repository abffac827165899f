"""The layering rules of `import_rules` hold in the project, and the checker finds each kind of violation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from import_rules import check_tree, layer_of

ROOT = Path(__file__).resolve().parent.parent

#: Violations not fixed yet, as (path, rule, a part of the message). The list may only shrink: a fixed entry must
#: be removed from it (the test fails otherwise). None are left.
PENDING: set[tuple[str, str, str]] = set()


def pending_entry(violation: str):
    """The entry of ``PENDING`` that ``violation`` matches, or None."""
    path, rule, message = re.match(r"^([^:]+):\d+(?: \(cell \d+\))?: ([a-z-]+): (.*)$", violation, re.S).groups()
    return next((e for e in PENDING if e[:2] == (path, rule) and e[2] in message), None)


def test_the_project_follows_the_import_rules():
    found = check_tree(ROOT)
    new = [v for v in found if pending_entry(v) is None]
    assert not new, "import rule violations:\n" + "\n".join(new)
    fixed = PENDING - {pending_entry(v) for v in found}
    assert not fixed, "fixed, remove from PENDING:\n" + "\n".join(map(str, sorted(fixed)))


def test_every_library_module_has_a_layer():
    for path in (ROOT / "lsdl_ens").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        assert layer_of(name) in ("core", "app") or layer_of(name).startswith("family:"), name


# ----------------------------------------------------------------------------------------------- the checker itself
CLEAN = {
    "lsdl_ens/__init__.py": "",
    "lsdl_ens/bn.py": "def _helper():\n    return 1\n\n\ndef update_bn():\n    return _helper()\n",
    "lsdl_ens/state.py": "from . import bn\n\n\ndef average():\n    return bn.update_bn()\n",
    "lsdl_ens/landscape/__init__.py": "from .points import evaluate_point\n",
    "lsdl_ens/landscape/points.py": "from ..state import average\n\n\ndef evaluate_point():\n    return average()\n",
    "lsdl_ens/landscape/other.py": "from . import points\n",
    "lsdl_ens/soups/__init__.py": "import lsdl_ens.state\n",
    "lsdl_ens/tta/__init__.py": "from ._adapter import adapt\n",
    "lsdl_ens/tta/_adapter.py": "def adapt():\n    return 0\n",
    "lsdl_ens/ensembles/__init__.py": "",
    "lsdl_ens/ensembles/leaf.py": "SIZE = 1\n",
    "lsdl_ens/cli.py": "from .landscape import points\nfrom .soups import state\n",
    "tests/_tiny.py": "def tiny():\n    return 0\n",
    "tests/test_a.py": "import lsdl_ens.bn as B\nfrom _tiny import tiny\nfrom lsdl_ens.tta import adapt\n\n\n"
                       "def test_x(monkeypatch):\n    monkeypatch.setattr(B, 'update_bn', tiny)\n    adapt()\n",
}
#: one planted violation of each rule: (file, code appended to it, the rule, the line the report must name)
PLANTED = [
    ("lsdl_ens/state.py", "\n\ndef late():\n    from .ensembles import leaf\n    return leaf\n",
     "core-imports-family", 9),
    ("lsdl_ens/soups/__init__.py", "from lsdl_ens.landscape import evaluate_point\n", "family-imports-family", 2),
    ("lsdl_ens/landscape/points.py", "\n\ndef cyclic():\n    from .other import points\n", "cycle", 9),
    ("tests/test_a.py", "from lsdl_ens.bn import _helper\n", "private-name", 9),
    ("tests/test_a.py", "value = B._helper()\n", "private-name", 9),
    ("tests/test_a.py", "def test_y(monkeypatch):\n    monkeypatch.setattr(B, '_helper', tiny)\n", "private-name", 10),
    ("tests/test_a.py", "def test_z(monkeypatch):\n    monkeypatch.setattr('lsdl_ens.bn._helper', tiny)\n",
     "private-name", 10),
    ("lsdl_ens/cli.py", "from .bn import _helper\n", "private-name", 3),
    ("tests/test_a.py", "from lsdl_ens.tta import _adapter\n", "private-module", 9),
    ("tests/test_a.py", "import lsdl_ens.tta._adapter\n", "private-module", 9),
    ("lsdl_ens/extra.py", "", "unclassified", 1),
]


def _tree(root: Path, plant=None, notebook_code: str = "import lsdl_ens.state\nlsdl_ens.state.average()\n"):
    for name, text in CLEAN.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if plant is not None:
        path = root / plant[0]
        path.write_text((path.read_text() if path.exists() else "") + plant[1])
    (root / "book").mkdir(exist_ok=True)
    cells = [{"cell_type": "markdown", "source": "# x", "metadata": {}},
             {"cell_type": "code", "source": notebook_code, "metadata": {}, "outputs": [], "execution_count": None}]
    (root / "book" / "01_x.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                          "nbformat_minor": 5}))
    return root


def test_the_checker_finds_nothing_in_a_clean_tree(tmp_path):
    assert check_tree(_tree(tmp_path)) == []


def test_the_checker_reports_each_planted_violation_with_file_and_line(tmp_path):
    for i, plant in enumerate(PLANTED):
        found = check_tree(_tree(tmp_path / str(i), plant))
        path, _, rule, line = plant
        assert len(found) == 1, (plant, found)
        assert found[0].split(": ")[1] == rule and f"{path}:{line}" in found[0], (plant, found)


def test_the_checker_reads_notebook_code_cells(tmp_path):
    found = check_tree(_tree(tmp_path, notebook_code="import lsdl_ens.bn\nlsdl_ens.bn._helper()\n"))
    assert found == ["book/01_x.ipynb:2 (cell 1): private-name: uses lsdl_ens.bn._helper; make it public if it is "
                     "a real API, or use the public one"]
