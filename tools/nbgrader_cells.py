"""Build an nbgrader source notebook from a list of cells: md(), code(), solution(), test(), manual().

Usage (authoring only): write a script that calls build([...cells...], "solutions/<aid>/<aid>.ipynb").
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def md(src):
    return ("md", None, 0, src)


def code(src):  # plain, read-only setup cell
    return ("code", None, 0, src)


def solution(grade_id, src):
    return ("solution", grade_id, 0, src)


def test(grade_id, points, src):
    return ("test", grade_id, points, src)


def manual(grade_id, points, src):
    return ("manual", grade_id, points, src)


def build(cells, path):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    setup = 0
    for kind, gid, pts, src in cells:
        src = src.strip("\n")
        if kind == "md":
            nb.cells.append(new_markdown_cell(src))
            continue
        if kind == "manual":
            c = new_markdown_cell(src)
            c.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "locked": False, "points": pts,
                                      "schema_version": 3, "solution": True, "task": False}
            nb.cells.append(c)
            continue
        c = new_code_cell(src)
        if kind == "code":  # read-only: nbgrader restores it, and the grader runs it in the sandbox too
            setup += 1
            c.metadata["nbgrader"] = {"grade": False, "grade_id": f"setup_{setup}", "locked": True,
                                      "schema_version": 3, "solution": False, "task": False}
        elif kind == "solution":
            c.metadata["nbgrader"] = {"grade": False, "grade_id": gid, "locked": False, "schema_version": 3,
                                      "solution": True, "task": False}
        elif kind == "test":
            c.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "locked": True, "points": pts,
                                      "schema_version": 3, "solution": False, "task": False}
        nb.cells.append(c)
    nbformat.write(nb, path)
