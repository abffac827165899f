"""The chapters' setup cell: present in every chapter, derived from the book's repository url, harmless where the
package is installed, and installing it from the repository where it is missing (Colab, Binder)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("setup_cell", ROOT / "tools" / "setup_cell.py")
setup_cell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup_cell)


def test_every_chapter_starts_with_the_setup_cell_of_the_configured_repository():
    source = setup_cell.setup_source()
    assert f"lsdl-ens @ git+{setup_cell.repository_url()}" in source
    chapters = setup_cell.chapter_notebooks()
    assert chapters == sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")), "only and all chapter notebooks"
    assert len(chapters) >= 7
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0].source == source, f"{path.name}: first code cell is not the current setup cell"
        assert sum(c.source.startswith(setup_cell.MARKER) for c in code) == 1, f"{path.name}: setup cell twice"
        assert "hide-input" in code[0].metadata.get("tags", [])
        printed = "".join(o.get("text", "") for o in code[0].outputs)
        if f"book/{path.stem}" in toc_files():  # chapters in the book hold a real cpu run's outputs
            assert "profile cpu" in printed, f"{path.name}: stored setup output is not from a cpu run: {printed!r}"


def toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return {c["file"] for part in toc.get("parts", []) for c in part["chapters"]}


def _run_setup(prelude: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LSDL_PROFILE": "smoke", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", prelude + "\n" + setup_cell.setup_source()], env=env,
                          capture_output=True, text=True, timeout=300)


def test_setup_cell_does_not_install_where_the_package_is_present():
    prelude = ("import subprocess\n"
               "def refuse(*a, **k):\n"
               "    raise AssertionError(f'pip must not run: {a}')\n"
               "subprocess.check_call = refuse\n")
    out = _run_setup(prelude)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "profile smoke" in out.stdout and "device " in out.stdout


def test_setup_cell_installs_from_the_repository_when_the_package_is_missing():
    # lsdl_ens is hidden until the (faked) pip call; the fake records the command and lifts the block
    prelude = ("import subprocess, sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'lsdl_ens':\n"
               "            raise ImportError('no lsdl_ens')\n"
               "BLOCK = Block()\n"
               "sys.meta_path.insert(0, BLOCK)\n"
               "def fake_pip(cmd, **kwargs):\n"
               "    print('PIP', cmd[1:])\n"
               "    sys.meta_path.remove(BLOCK)\n"
               "subprocess.check_call = fake_pip\n")
    out = _run_setup(prelude)
    assert out.returncode == 0, out.stderr[-2000:]
    pip_line, profile_line = out.stdout.strip().splitlines()
    assert "'-m', 'pip', 'install'" in pip_line
    assert f"lsdl-ens @ git+{setup_cell.repository_url()}" in pip_line
    assert "profile smoke" in profile_line


def test_every_assignment_has_the_setup_cell_and_a_colab_badge_to_its_release():
    from lsdl_ens.grading.preprocess import INSTALL_MARKER

    source = setup_cell.setup_source()
    assert source.startswith(INSTALL_MARKER)  # the grader runs this cell in the grading kernel only
    sources = setup_cell.assignment_sources()
    assert len(sources) >= 7
    for path in sources:
        aid = path.stem
        release = ROOT / "assignments" / aid / f"{aid}.ipynb"
        link = f"https://colab.research.google.com/github/lsdl-course/lsdl-ens/blob/main/assignments/{aid}/{aid}.ipynb"
        assert setup_cell.colab_link(f"assignments/{aid}/{aid}.ipynb") == link  # follows _config.yml
        for nb_path in (path, release):
            nb = nbformat.read(nb_path, as_version=4)
            assert nb.cells[0].source.splitlines()[0] == setup_cell.colab_badge(f"assignments/{aid}/{aid}.ipynb")
            first = next(c for c in nb.cells if c.cell_type == "code")
            assert first.source == source, f"{nb_path}: first code cell is not the current setup cell"
            meta = first.metadata["nbgrader"]
            assert meta["locked"] and not meta["grade"] and not meta["solution"], f"{nb_path}: setup cell not locked"
