"""nbgrader course at the project root: solutions/ is the source, assignments/ the generated release."""

import os

c = get_config()  # noqa: F821
HERE = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "lsdl-ens"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
c.Execute.timeout = 120
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Student code never runs in the grading kernel: it runs in a sandboxed process (lsdl_ens/grading/preprocess.py).
c.Autograde.autograde_preprocessors = [
    "lsdl_ens.grading.preprocess.IsolateStudentCells",
    "nbgrader.preprocessors.Execute",
    "lsdl_ens.grading.preprocess.RestoreStudentCells",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
