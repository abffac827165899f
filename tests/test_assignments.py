"""nbgrader round trip for every assignment in solutions/ (marked `course`).

For each assignment: the committed release equals a fresh `nbgrader generate_assignment --force`, the release
holds no solution or hidden-test text, and autograding four submissions gives
solution = full marks, untouched release = 0, a prepared wrong submission strictly between, and a "shortcut"
submission (every graded function calls lsdl_ens) = 0. Prepared submissions live in tests/submissions/<aid>.py.
`test_attacks` autogrades the attack submissions; `test_release_runs_without_nbgrader` runs each release, answered
with the solution, in a plain kernel (as a student does in Colab).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))

pytestmark = pytest.mark.course


def nbgrader(*args, course: Path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               LSDL_PROGRESS="0",
               PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")  # the kernel grades with this tree
    common = [f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
              f"--CourseDirectory.submitted_directory={course / 'submitted'}",
              f"--CourseDirectory.autograded_directory={course / 'autograded'}",
              f"--CourseDirectory.feedback_directory={course / 'feedback'}"]
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, *common], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    return result


def protected_lines(notebook: Path) -> list[str]:
    """Non-trivial lines inside BEGIN/END SOLUTION and BEGIN/END HIDDEN TESTS regions of a source notebook."""
    lines, inside = [], False
    for cell in nbformat.read(notebook, as_version=4).cells:
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith("### BEGIN SOLUTION") or s.startswith("### BEGIN HIDDEN TESTS"):
                inside = True
            elif s.startswith("### END SOLUTION") or s.startswith("### END HIDDEN TESTS"):
                inside = False
            elif inside and len(s) >= 25:
                lines.append(s)
    return lines


def fill(release_nb: Path, answers: dict, out: Path) -> None:
    nb = nbformat.read(release_nb, as_version=4)
    filled = 0
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid].strip("\n")
            filled += 1
    assert filled == len(answers), f"prepared answers name unknown cells: {sorted(answers)}"
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"submissions_{name}", ROOT / "tests" / "submissions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_submissions(aid: str):
    module = _load(aid)
    return module.WRONG, module.SHORTCUT


def load_attacks(aid: str) -> tuple[dict, dict]:
    """Attack submissions for `aid` (name -> answers) and the cells each leaves honest (name -> grade ids)."""
    attacks, honest = dict(getattr(_load(aid), "ATTACKS", {})), {}
    generic = _load("attacks")
    if generic.ASSIGNMENT == aid:
        attacks.update(generic.ATTACKS)
        honest.update(generic.HONEST_IN_ATTACK)
    return attacks, honest


def error_texts(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def autograded_scores(db: Path, aid: str, student: str) -> tuple[float, float, dict]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        sub = gb.find_submission(aid, student)
        grades = [g for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code"]
        per_cell = {g.name: g.auto_score for g in grades}
        return sum(s or 0 for s in per_cell.values()), sum(g.max_score for g in grades), per_cell


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_round_trip(aid, tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    release = tmp_path / "release"
    nbgrader("generate_assignment", aid, "--force", f"--CourseDirectory.release_directory={release}", course=course)

    # 1. the committed release is exactly what nbgrader generates now
    committed = ROOT / "assignments" / aid
    fresh = sorted(p.relative_to(release / aid) for p in (release / aid).rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file()), \
        f"assignments/{aid} lists other files than a fresh release; run nbgrader generate_assignment {aid} --force"
    for rel in fresh:
        assert (release / aid / rel).read_bytes() == (committed / rel).read_bytes(), \
            f"assignments/{aid}/{rel} is stale; run: nbgrader generate_assignment {aid} --force"

    # 2. no solution or hidden-test text in the release
    for src in (ROOT / "solutions" / aid).glob("*.ipynb"):
        text = (committed / src.name).read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        leaked = [line for line in protected_lines(src) if line in text]
        assert not leaked, f"release of {aid} contains protected lines: {leaked[:3]}"

    # 3. four submissions, autograded
    wrong, shortcut = load_submissions(aid)
    submitted = course / "submitted"
    shutil.copytree(ROOT / "solutions" / aid, submitted / "solution" / aid)
    shutil.copytree(committed, submitted / "blank" / aid)
    for src in committed.glob("*.ipynb"):
        fill(src, wrong, submitted / "wrong" / aid / src.name)
        fill(src, shortcut, submitted / "shortcut" / aid / src.name)
    nbgrader("autograde", aid, "--force", course=course)

    scores = {s: autograded_scores(course / "gradebook.db", aid, s) for s in ("solution", "blank", "wrong", "shortcut")}
    summary = {s: v[0] for s, v in scores.items()}
    auto_max = scores["solution"][1]
    print(f"{aid}: autograded max {auto_max}: " + json.dumps(summary))
    assert summary["solution"] == auto_max, f"solution lost points: {scores['solution'][2]}"
    assert summary["blank"] == 0, f"untouched release scored: {scores['blank'][2]}"
    assert 0 < summary["wrong"] < auto_max, f"wrong submission not strictly between: {scores['wrong'][2]}"
    assert summary["shortcut"] == 0, f"shortcut submission scored: {scores['shortcut'][2]}"

    # 4. honest mistakes get feedback: expected vs got, on which input
    errors = [t for nb in (course / "autograded" / "wrong" / aid).glob("*.ipynb") for t in error_texts(nb)]
    assert any(("expected" in t and "got" in t and " on " in t) for t in errors), \
        f"wrong submission of {aid} got no expected-vs-got feedback: {errors[:5]}"


@pytest.mark.parametrize("aid", [a for a in ASSIGNMENTS if load_attacks(a)[0]])
def test_attacks(aid, tmp_path, monkeypatch):
    """Every attack scores at most what hard-coded visible answers would, and 0 on the functions it attacks."""
    monkeypatch.setenv("LSDL_GRADING_CALL_SECONDS", "10")
    attacks, honest = load_attacks(aid)
    course = tmp_path / "course"
    course.mkdir()
    nbgrader("generate_assignment", aid, "--force", f"--CourseDirectory.release_directory={tmp_path / 'release'}",
             course=course)
    for name, answers in attacks.items():
        for src in (ROOT / "assignments" / aid).glob("*.ipynb"):
            fill(src, answers, course / "submitted" / name / aid / src.name)
    nbgrader("autograde", aid, "--force", course=course)
    from nbgrader.api import Gradebook

    for name, answers in attacks.items():
        total, _, per_cell = autograded_scores(course / "gradebook.db", aid, name)
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            visible = sum(c.max_score for c in gb.find_assignment(aid).notebooks[0].grade_cells
                          if c.name.endswith("_visible"))
        print(f"{aid} attack {name}: {total} (visible points {visible}) {per_cell}")
        assert total <= visible, f"attack {name} scored {total} > {visible}: {per_cell}"
        targets = tuple(gid[: -len("_answer")] + "_" for gid in answers if gid.endswith("_answer"))
        for cell, score in per_cell.items():
            if cell in honest.get(name, ()):
                assert score > 0, f"attack {name}: honest cell {cell} lost its points (grading stopped?)"
            elif cell.startswith(targets):
                assert not score, f"attack {name} scored {score} on {cell}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_runs_without_nbgrader(aid, tmp_path, monkeypatch):
    """The student release, answered with the reference solution, runs top to bottom in a plain Jupyter kernel (as in
    Colab, without nbgrader): its setup cell finds the package and prints profile and device, and the visible
    tests pass."""
    from nbclient import NotebookClient

    solution = nbformat.read(ROOT / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    fill(ROOT / "assignments" / aid / f"{aid}.ipynb", answers, tmp_path / f"{aid}.ipynb")
    nb = nbformat.read(tmp_path / f"{aid}.ipynb", as_version=4)
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("LSDL_PROGRESS", "0")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    printed = "".join(o.get("text", "") for o in code[0].outputs)
    assert "profile " in printed and "device " in printed, f"setup cell printed {printed!r}"
    visible = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
    assert visible and all("### BEGIN HIDDEN TESTS" not in c.source for c in visible)
