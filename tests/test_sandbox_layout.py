"""The grading sandbox when the Python environment lives inside the course folder, as in a fresh clone where
``make venv`` creates ``<course>/.venv``, and the clone sits under /tmp (the sandbox mounts its own /tmp).

A throwaway course folder under /tmp gets a copy of the package source, a ``solutions/`` folder, a gradebook file
and a ``.venv`` made with ``python -m venv``. That environment reaches torch and numpy through a ``.pth`` line (the
site-packages of the environment running the tests) and finds ``lsdl_ens`` through an import hook pointing at the
course folder, like the editable install of ``pip install -e``. Grading then runs with that environment's python:
the worker must start, import torch and numpy, see nothing of the course but the environment, and fail to import
``lsdl_ens``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy
import pytest
import torch

from lsdl_ens.grading import sandbox

ROOT = Path(__file__).resolve().parent.parent

EDITABLE_HOOK = '''import sys
from importlib.machinery import PathFinder


class CourseFinder:
    """Finds lsdl_ens in the course folder, as the editable install's finder does."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "lsdl_ens":
            return PathFinder.find_spec(name, [{course!r}])
        return None


sys.meta_path.append(CourseFinder)
'''

LOOK = '''
import os, sys
def look(course):
    seen = {"prefix": sys.prefix, "listing": sorted(os.listdir(course)), "readable": []}
    try:
        import lsdl_ens
        seen["import"] = "imported " + str(lsdl_ens.__file__)
    except ModuleNotFoundError:
        seen["import"] = "ModuleNotFoundError"
    import numpy, torch
    seen["torch"] = float(torch.ones(2).sum()) + float(numpy.ones(1).sum())
    for folder, _, files in os.walk(course):
        if folder == os.path.join(course, ".venv") or folder.startswith(os.path.join(course, ".venv", "")):
            continue
        for name in files:
            try:
                open(os.path.join(folder, name), "rb").read(1)
                seen["readable"].append(os.path.join(folder, name))
            except OSError:
                pass
    return seen
'''

GRADE = '''
import json, sys
import lsdl_ens
from lsdl_ens.grading.autograde import protected_paths, self_check
from lsdl_ens.grading.remote import Session
course = sys.argv[1]
assert lsdl_ens.__file__.startswith(course), lsdl_ens.__file__
assert len(protected_paths(__import__("pathlib").Path(course))) == 5
self_check(__import__("pathlib").Path(course))
session = Session(["lsdl_ens"])
session.cell(sys.argv[2])
print(json.dumps(session.call("look", (course,), {})))
session.close()
'''


def make_course(course: Path) -> Path:
    """The course folder with its own .venv; returns that environment's python."""
    shutil.copytree(ROOT / "lsdl_ens", course / "lsdl_ens", ignore=shutil.ignore_patterns("__pycache__"))
    (course / "solutions" / "metrics").mkdir(parents=True)
    (course / "solutions" / "metrics" / "metrics.ipynb").write_text("{}")
    (course / "gradebook.db").write_bytes(b"SQLite format 3\0")
    (course / "README.md").write_text("course\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(course / ".venv")], check=True, timeout=120)
    python = course / ".venv" / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    site = Path(purelib)
    assert site.is_relative_to(course / ".venv"), site
    deps = {str(Path(m.__file__).resolve().parents[1]) for m in (torch, numpy)} | {sysconfig.get_paths()["purelib"]}
    (site / "course_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    (site / "course_editable.py").write_text(EDITABLE_HOOK.format(course=str(course)))
    (site / "course_editable.pth").write_text("import course_editable\n")
    return python


def test_grading_works_with_the_venv_inside_the_course_folder_under_tmp():
    course = Path(tempfile.mkdtemp(prefix="lsdl-course-", dir="/tmp")).resolve()
    try:
        python = make_course(course)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        result = subprocess.run([str(python), "-c", GRADE, str(course), LOOK], cwd=course, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        seen = json.loads(result.stdout.strip().splitlines()[-1])
        assert seen["prefix"] == str(course / ".venv")  # the worker runs the course's own environment
        assert seen["torch"] == 3.0
        assert seen["import"] == "ModuleNotFoundError"
        assert seen["listing"] == [".venv"] and seen["readable"] == []
        assert (course / "lsdl_ens" / "metrics" / "calibration.py").is_file()  # there, only hidden
    finally:
        shutil.rmtree(course, ignore_errors=True)


def test_an_environment_around_the_course_is_refused(monkeypatch):
    course = str(sandbox.PACKAGE.parent)
    assert course not in sandbox.python_roots()
    monkeypatch.setattr(sys, "prefix", course)  # binding it would show the whole course to student code
    with pytest.raises(sandbox.SandboxError, match="contains the course package"):
        sandbox.python_roots()
