"""nbgrader preprocessors that keep student code out of the grading kernel (registered in nbgrader_config.py).

`IsolateStudentCells` runs before nbgrader's Execute. A code cell is trusted only if its grade id names a locked
cell of the gradebook and its source equals the gradebook's (nbgrader has already restored locked cells by then):
locked tests run as they are, and so does the install cell (`INSTALL_MARKER`: it would try pip in the
sandbox, which has no network); other read-only setup cells also run in the sandbox; every other code cell (the
student's answers, and any cell the student added or unlocked) is replaced by a call that runs its source in the
sandbox (`remote.student_cell`). `RestoreStudentCells` puts the student's source back after execution, so the
autograded and feedback notebooks show what the student wrote.

``LSDL_GRADING_UNSAFE=1`` (``lsdl-ens autograde --no-sandbox``) runs the worker without the sandbox: debugging only.
"""

from __future__ import annotations

import ast
import builtins
import os

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .rules import refused_modules

KEY = "lsdl_original_source"
INSTALL_MARKER = "# Setup: installs the course package when it is missing"  # first line of tools/setup_cell.py's cell
CALL = "__import__('lsdl_ens.grading.remote', fromlist=['_']).{fn}({args})"


def unsafe() -> bool:
    return os.environ.get("LSDL_GRADING_UNSAFE") == "1"


def graded_names(trusted_sources: list[str]) -> list[str]:
    """Names the trusted cells use but do not define and that are not builtins: the student's functions.

    Only these come back from the sandbox as proxies, so a student cannot replace a test helper (``small_net``),
    an import (``torch``) or a builtin (``isinstance``, ``range``) seen by the tests."""
    used, bound = set(), set(dir(builtins))
    for source in trusted_sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
    return sorted(used - bound)


class IsolateStudentCells(Preprocessor):
    enabled = Bool(True)  # nbconvert preprocessors are off unless enabled; nbgrader registers them as they are
    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        options = f"refused={refused_modules(info['assignment'])!r}, unsafe={unsafe()!r}"
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        with Gradebook(info["db_url"]) as gb:
            trusted = [self._trusted(gb, cell, info) for cell in code]
        exported = graded_names([cell.source for cell, ok in zip(code, trusted) if ok])
        for cell, ok in zip(code, trusted):
            cell.metadata[KEY] = cell.source
            if ok and (cell.metadata.get("nbgrader", {}).get("grade") or cell.source.startswith(INSTALL_MARKER)):
                continue  # trusted: runs in the grading kernel only
            if ok:
                cell.source = CALL.format(fn="shared_cell", args=f"{cell.source!r}, {options}") + "\n" + cell.source
            else:
                cell.source = CALL.format(fn="student_cell",
                                          args=f"{cell.source!r}, globals(), {options}, exported={exported!r}")
        return nb, resources

    @staticmethod
    def _trusted(gb, cell, info) -> bool:
        """A locked cell of the gradebook whose source nbgrader has restored (so the student did not write it)."""
        from nbgrader.api import MissingEntry

        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id:
            return False
        try:
            source_cell = gb.find_source_cell(grade_id, info["notebook"], info["assignment"])
        except MissingEntry:
            return False
        return bool(source_cell.locked) and source_cell.source == cell.source


class RestoreStudentCells(Preprocessor):
    enabled = Bool(True)
    def preprocess_cell(self, cell, resources, index):
        if KEY in cell.metadata:
            cell.source = cell.metadata.pop(KEY)
        return cell, resources
