"""Find numbers typed by hand into a chapter's prose.

Measured numbers reach the text through myst-nb's ``glue`` roles (``{glue:}`name``` or ``{glue:text}`name:.2f```),
so they change when the chapter is run again. This tool lists every decimal number (``87.8``, ``0.04``, ``-1.5``)
left in a chapter's markdown cells outside what may hold one:

* math: ``$...$``, ``$$...$$``, the ``{math}`` role and ``{math}`` / ``{glue:math}`` directives;
* glue roles and directives (``{glue:}``, ``{glue:text}``, ``{glue:md}``, ``{glue:figure}``, ...);
* code: inline ``code`` and fenced blocks;
* link targets ``(https://...)`` and bare urls (arXiv numbers, versions in addresses).

Usage: ``python tools/prose_numbers.py [book/NN_name.ipynb ...]`` prints the numbers per chapter (all chapters by
default) and exits with 1 when any is found.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FENCE = re.compile(r"^(```+|~~~+|:::+)[^\n]*\n.*?^\1[ \t]*$", flags=re.S | re.M)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", flags=re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(?:\\.|[^$\\])+?\$")
_ROLE = re.compile(r"\{(?:math|glue(?::\w+)?|eq|numref|ref|doc|download)\}`[^`]*`")
_INLINE_CODE = re.compile(r"(`+).+?\1", flags=re.S)
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_URL = re.compile(r"<?https?://\S+")
_DECIMAL = re.compile(r"(?<![\w.])[-+−]?\d+\.\d+(?![\w.]*\d)")


def prose(markdown: str) -> str:
    """``markdown`` with math, glue, code and link targets blanked out (what the reader reads as text)."""
    text = markdown
    for pattern in (_FENCE, _DISPLAY_MATH, _ROLE, _INLINE_CODE, _INLINE_MATH, _LINK_TARGET, _URL):
        text = pattern.sub(" ", text)
    return text


def hand_typed_numbers(markdown: str) -> list[str]:
    """The decimal numbers of ``markdown``'s prose (see the module docstring for what is not prose)."""
    return [m.group(0) for m in _DECIMAL.finditer(prose(markdown))]


def chapter_numbers(notebook) -> list[tuple[int, str]]:
    """``(cell index, number)`` for every hand-typed decimal number in the markdown cells of ``notebook``."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    found = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", ""))
            found += [(index, number) for number in hand_typed_numbers(source)]
    return found


def main(argv: list[str]) -> int:
    notebooks = [Path(a) for a in argv] or sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    total = 0
    for notebook in notebooks:
        found = chapter_numbers(notebook)
        total += len(found)
        shown = ", ".join(f"cell {i}: {n}" for i, n in found[:8]) + (" ..." if len(found) > 8 else "")
        print(f"{notebook.name}: {len(found)} hand-typed number(s)" + (f" ({shown})" if found else ""))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
