"""Put the setup cell at the top of every chapter and assignment notebook: installs lsdl-ens if missing, shows
profile and device.

The cell is what makes a notebook runnable from its Colab or Binder button: there `import lsdl_ens` fails, so it
pip-installs the package from the course repository (the `repository.url` of `_config.yml`, read here so that the
notebooks follow the book's configuration). Where the package is installed it only prints one line. Its input is
hidden in the book (tag ``hide-input``); its stored output is produced by running the cell's code under the
``cpu`` profile, the profile of the stored figures. No other cell is touched.

Assignments (``solutions/<aid>/<aid>.ipynb``, the nbgrader source) get the same cell as a locked read-only cell
without output, and an "Open in Colab" badge at the top of their introduction that opens the student release
``assignments/<aid>/<aid>.ipynb``. Regenerate the releases afterwards (``nbgrader generate_assignment``). The
grader runs this cell in the grading kernel only, never in the sandbox (`lsdl_ens.grading.preprocess`).

Usage (authoring, after changing the repository url or the cell):  python tools/setup_cell.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Setup: installs the course package when it is missing (Colab, Binder); shows the run profile and device."
TAGS = ["hide-input"]


def repository_url() -> str:
    """The course repository named in `_config.yml` (``repository.url``)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def setup_source(url: str | None = None) -> str:
    """The code of the setup cell for the repository `url` (default: the book's)."""
    url = url or repository_url()
    return f"""{MARKER}
import importlib
import subprocess
import sys

try:
    import lsdl_ens
except ImportError:
    package = "lsdl-ens @ git+{url}"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])
    importlib.invalidate_caches()
    import lsdl_ens
import torch
from lsdl_ens.profiles import get_profile

device = "cuda" if torch.cuda.is_available() else "cpu"
print(f"lsdl_ens {{lsdl_ens.__version__}}: profile {{get_profile().name}}, device {{device}}")"""


def chapter_notebooks() -> list[Path]:
    """Every chapter notebook, ``book/NN_name.ipynb``, in the table of contents or still waiting for its run (other
    pages, e.g. ``book/grading.md``, get no setup cell)."""
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


def run_setup(source: str) -> str:
    """Run the setup code in a fresh interpreter under the cpu profile; returns what it prints."""
    env = {**os.environ, "LSDL_PROFILE": "cpu", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", source], env=env, capture_output=True, text=True, check=True,
                          timeout=300).stdout


def setup_cell(source: str, output: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)}, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    return cell


def insert_setup_cell(nb: nbformat.NotebookNode, cell: nbformat.NotebookNode) -> None:
    """Replace the notebook's setup cell, or insert `cell` before its first code cell."""
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    first = code_cells[0] if code_cells else len(nb.cells)
    if code_cells and nb.cells[first].source.startswith(MARKER):
        cell.id = nb.cells[first].get("id", cell.id)
        nb.cells[first] = cell
    else:
        nb.cells.insert(first, cell)


ASSIGNMENT_SETUP_ID = "setup_install"
BADGE_ALT = "Open In Colab"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def assignment_sources() -> list[Path]:
    """The nbgrader source notebooks ``solutions/<aid>/<aid>.ipynb``."""
    return sorted(p for p in ROOT.glob("solutions/*/*.ipynb") if p.stem == p.parent.name)


def colab_link(path: str) -> str:
    """Colab address of the notebook at `path` (relative to the repository root) on the configured branch."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    owner_repo = repository_url().removeprefix("https://github.com/")
    return f"{colab}/github/{owner_repo}/blob/{config['repository']['branch']}/{path}"


def colab_badge(path: str) -> str:
    return f"[![{BADGE_ALT}]({BADGE_IMAGE})]({colab_link(path)})"


def assignment_setup_cell(source: str) -> nbformat.NotebookNode:
    """The setup cell as nbgrader's locked read-only cell (restored from the gradebook at grading time)."""
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "grade_id": ASSIGNMENT_SETUP_ID, "locked": True, "schema_version": 3, "solution": False,
        "task": False}})


def prepare_assignment(nb: nbformat.NotebookNode, aid: str, source: str) -> None:
    """Badge at the top of the intro (replacing an old one) and the setup cell as the first code cell."""
    intro = nb.cells[0]
    lines = intro.source.splitlines()
    if lines and lines[0].startswith(f"[![{BADGE_ALT}]"):
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    intro.source = colab_badge(f"assignments/{aid}/{aid}.ipynb") + "\n\n" + "\n".join(lines)
    insert_setup_cell(nb, assignment_setup_cell(source))


def main() -> int:
    source = setup_source()
    output = run_setup(source)
    for path in chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        insert_setup_cell(nb, setup_cell(source, output))
        nbformat.write(nb, path)
        print(f"{path.relative_to(ROOT)}: setup cell ({output.strip()})")
    for path in assignment_sources():
        nb = nbformat.read(path, as_version=4)
        prepare_assignment(nb, path.stem, source)
        nbformat.write(nb, path)
        print(f"{path.relative_to(ROOT)}: setup cell and Colab badge; now run nbgrader generate_assignment "
              f"{path.stem} --force")
    return 0


if __name__ == "__main__":
    sys.exit(main())
