"""nbgrader preprocessors that keep student code out of the grading kernel (registered in nbgrader_config.py).

`IsolateStudentCells` runs before nbgrader's Execute. A code cell is trusted only if its grade id names a locked
cell of the gradebook and its source equals the gradebook's (nbgrader has already restored locked cells by then):
locked tests run as they are; read-only setup cells also run in the sandbox; every other code cell (the
student's answers, and any cell the student added or unlocked) is replaced by a call that runs its source in the
sandbox (`remote.student_cell`). `RestoreStudentCells` puts the student's source back after execution, so the
autograded and feedback notebooks show what the student wrote.

``LSDL_GRADING_UNSAFE=1`` (``lsdl-ens autograde --no-sandbox``) runs the worker without the sandbox: debugging only.
"""

from __future__ import annotations

import os

from nbconvert.preprocessors import Preprocessor

from .rules import refused_modules

KEY = "lsdl_original_source"
CALL = "__import__('lsdl_ens.grading.remote', fromlist=['_']).{fn}({args})"


def unsafe() -> bool:
    return os.environ.get("LSDL_GRADING_UNSAFE") == "1"


class IsolateStudentCells(Preprocessor):
    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        options = f"refused={refused_modules(info['assignment'])!r}, unsafe={unsafe()!r}"
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                meta = cell.metadata.get("nbgrader", {})
                source_cell = None
                if meta.get("grade_id"):
                    try:
                        source_cell = gb.find_source_cell(meta["grade_id"], info["notebook"], info["assignment"])
                    except MissingEntry:
                        source_cell = None
                trusted = source_cell is not None and source_cell.locked and source_cell.source == cell.source
                cell.metadata[KEY] = cell.source
                if trusted and meta.get("grade"):
                    continue
                if trusted:
                    cell.source = CALL.format(fn="shared_cell", args=f"{cell.source!r}, {options}") + "\n" + cell.source
                else:
                    cell.source = CALL.format(fn="student_cell", args=f"{cell.source!r}, globals(), {options}")
        return nb, resources


class RestoreStudentCells(Preprocessor):
    def preprocess_cell(self, cell, resources, index):
        if KEY in cell.metadata:
            cell.source = cell.metadata.pop(KEY)
        return cell, resources
