"""`lsdl-ens figures` outside a checkout and without its notebook dependencies: clear errors, exit code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _installed_copy(tmp_path: Path) -> Path:
    """lsdl_ens copied alone into a site folder, as pip installs it: no book/ next to the package."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "lsdl_ens", site / "lsdl_ens", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _figures(site: Path, *args: str, prelude: str = "", cwd: Path) -> subprocess.CompletedProcess:
    code = f"{prelude}\nimport sys\nfrom lsdl_ens.cli import main\nsys.exit(main(['figures', *sys.argv[1:]]))"
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_figures_outside_a_checkout_names_the_book_option(tmp_path):
    out = _figures(_installed_copy(tmp_path), "--profile", "smoke", cwd=tmp_path)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "--book DIR" in out.stderr and "no chapter notebooks" in out.stderr
    assert str(tmp_path / "site" / "book") in out.stderr


def test_figures_with_a_folder_without_notebooks_fails_the_same_way(tmp_path):
    (tmp_path / "empty").mkdir()
    out = _figures(_installed_copy(tmp_path), "--book", str(tmp_path / "empty"), cwd=tmp_path)
    assert out.returncode == 2 and "--book DIR" in out.stderr and str(tmp_path / "empty") in out.stderr


def test_figures_without_nbclient_says_which_extra_to_install(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), book / "01_x.ipynb")
    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] == 'nbclient':\n"
               "            raise ImportError('blocked')\n"
               "sys.meta_path.insert(0, Block())\n")
    out = _figures(_installed_copy(tmp_path), "--book", str(book), prelude=blocker, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "nbclient" in out.stderr and "lsdl-ens[figures]" in out.stderr
    assert nbformat.read(book / "01_x.ipynb", as_version=4).cells == [], "the notebook must stay untouched"


def test_figures_dependencies_are_declared_in_an_extra():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
        import tomli as tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {req.split(">")[0].split("=")[0].split("<")[0] for req in extras["figures"]}
    assert {"nbclient", "nbformat", "ipykernel"} <= names
    assert "lsdl-ens[figures]" in extras["book"]


def test_a_run_shows_the_cells_awaiting_regeneration():
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from lsdl_ens.cli import show_regenerated_cells

    waiting = {"tags": ["hide-input", "remove-cell", "awaiting-regeneration"]}
    nb = new_notebook(cells=[new_markdown_cell("x", metadata=dict(waiting)), new_code_cell("1", metadata=dict(waiting)),
                             new_code_cell("2", metadata={"tags": ["remove-cell"]})])
    assert show_regenerated_cells(nb) == 2
    assert [c.metadata.get("tags") for c in nb.cells] == [["hide-input"], ["hide-input"], ["remove-cell"]]
    nbformat.validate(nb)
