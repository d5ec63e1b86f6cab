"""An assignment written the nbgrader way, released by us, and three pairs' submissions.

Run `python tests/data/nbgrader_format/make.py` after changing it. It writes the source notebook
(nbgrader's cell types as JupyterLab's Create Assignment panel writes them: autograded answers,
autograder tests with AUTOTEST and HASHED AUTOTEST lines, a 0-point check, a manually graded code
cell, a manually graded written answer, a task, a data file), releases it with `autograder
release` (release/, solutions/ and the stored autotests are committed), then builds the pairs'
notebooks from the released one, as students would fill it:

- solution: every answer as in the solutions;
- unanswered: the released notebook with the team filled in, nothing else;
- wrong: squares off by one, the written answer blank, the manual code cell left as released;
- manual_raises: the solution, but a manual code cell that raises (for the TA to see why).

Scores nbgrader gives these (its autograde, manual cells left to grade): solution 3/3 automatic,
unanswered 0 with "No response" on both manual answers, wrong 0/3 automatic with "No response" on
the two manual answers it left.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[2]))
from autograder.config import load_course  # noqa: E402
from autograder.notebook import nbgrader_metadata, write_notebook  # noqa: E402
from autograder.release import release_assignment  # noqa: E402

NAME = "squares"
TEAM = ["21900101", "21900102"]

COURSE = f'''# A course whose assignment was written for nbgrader: 7 notebook points, graded /20.
[course]
name = "nbgrader format"
timezone = "Europe/Paris"
roster = "../../../roster.csv"

[grading]
cell_timeout = 20.0
notebook_timeout = 120.0
memory_mb = 1024
output_kb = 64
disk_mb = 32

[assignments.{NAME}]
notebook = "source/{NAME}/{NAME}.ipynb"
due = "2026-10-12T23:59"
points = 20
notebook_points = 7
'''

SQUARES = '''def squares(n):
    """The squares of 1..n, as a list; ValueError for n < 1."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION'''
TEST_SQUARES = '''"""squares gives the right lists"""
### AUTOTEST squares(1); squares(3)
### BEGIN HIDDEN TESTS
### HASHED AUTOTEST squares(10)
### AUTOTEST mean_square(4)
### END HIDDEN TESTS'''
MEAN = '''def mean_square(n):
    """The mean of squares(n), as a float."""
    ### BEGIN SOLUTION
    return sum(squares(n)) / n
    ### END SOLUTION'''
TEST_MEAN = '''assert mean_square(1) == 1.0, "mean_square(1) should be 1.0"
### BEGIN HIDDEN TESTS
assert abs(mean_square(3) - 14 / 3) < 1e-9
### END HIDDEN TESTS'''
CHECK_ONLY = '''# Not graded: tells you whether mean_square handles large n.
assert mean_square(1000) > 0'''
PYRAMID = '''def pyramidal_number(n):
    """The n-th square pyramidal number."""
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION'''


def source() -> nbformat.NotebookNode:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nb.cells = [
        new_markdown_cell("# Squares\nA problem set written for nbgrader.",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell("import math", metadata=nbgrader_metadata("setup", locked=True)),
        new_markdown_cell("## Part A (2 points)\nWrite `squares`."),
        new_code_cell(SQUARES, metadata=nbgrader_metadata("squares", solution=True)),
        new_code_cell(MEAN, metadata=nbgrader_metadata("mean_square", solution=True)),
        new_code_cell(TEST_SQUARES, metadata=nbgrader_metadata(
            "correct_squares", grade=True, locked=True, points=2)),
        new_code_cell(TEST_MEAN, metadata=nbgrader_metadata(
            "correct_mean", grade=True, locked=True, points=1)),
        new_code_cell(CHECK_ONLY, metadata=nbgrader_metadata(
            "large_n", grade=True, locked=True, points=0)),
        new_markdown_cell("## Part B (2 points)\nUse `squares` for the pyramidal numbers."),
        new_code_cell(PYRAMID, metadata=nbgrader_metadata(
            "pyramidal", solution=True, grade=True, points=2)),
        new_markdown_cell("## Part C (1 point)\nWrite the formula `mean_square` computes.\n\n"
                          "### BEGIN SOLUTION\n$\\frac{1}{n}\\sum_{i=1}^n i^2$\n### END SOLUTION",
                          metadata=nbgrader_metadata("formula", solution=True, grade=True,
                                                     points=1)),
    ]
    task = new_markdown_cell("## Part D (1 point)\nPlot `squares(20)` against a parabola.",
                             metadata=nbgrader_metadata("plot", locked=True))
    task.metadata["nbgrader"].update(task=True, points=1)
    nb.cells.append(task)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # fixed ids: the files stay byte-identical when regenerated
    return nb


def filled(released: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.metadata.get("autograder", {}).get("team"):
            cell.source = f"TEAM = {TEAM!r}"
        elif meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
    return nb


def answers_of(solutions: nbformat.NotebookNode) -> dict[str, str]:
    return {c.metadata.nbgrader.grade_id: c.source for c in solutions.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def main() -> None:
    (HERE / "course.toml").write_text(COURSE, encoding="utf-8")
    folder = HERE / "source" / NAME
    write_notebook(source(), folder / f"{NAME}.ipynb")
    (folder / "squares.csv").write_text("n,square\n1,1\n2,4\n3,9\n", encoding="utf-8")
    course = load_course(HERE / "course.toml")
    release_assignment(course=course, assignment=NAME)
    spec = course.assignment(NAME)
    released = nbformat.read(spec.release_path, as_version=4)
    solution = answers_of(nbformat.read(spec.solution_path, as_version=4))
    submissions = HERE / "submissions"
    write_notebook(filled(released, solution), submissions / "solution.ipynb")
    write_notebook(filled(released, {}), submissions / "unanswered.ipynb")
    wrong = {**solution, "formula": "   \n",
             "squares": solution["squares"].replace("range(1, n + 1)", "range(n)")}
    del wrong["pyramidal"]
    write_notebook(filled(released, wrong), submissions / "wrong.ipynb")
    raises = {**solution, "pyramidal": "def pyramidal_number(n):\n    return n\n"
                                       "raise ValueError('not finished')"}
    write_notebook(filled(released, raises), submissions / "manual_raises.ipynb")


if __name__ == "__main__":
    main()
