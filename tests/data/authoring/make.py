"""Write one small source notebook per authoring problem (run: python tests/data/authoring/make.py).

Each <problem_code>.ipynb breaks exactly one rule of autograder.authoring; valid.ipynb breaks none.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def nbgrader(grade_id, *, grade=False, solution=False, locked=False, points=None, task=False):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id,
            "schema_version": 3}
    if task:
        meta["task"] = True
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def cell(kind, source, cell_id, metadata=None):
    make = new_code_cell if kind == "code" else new_markdown_cell
    c = make(source, metadata=metadata or {})
    c.id = cell_id  # fixed ids: the files stay byte-identical when regenerated
    return c


def valid() -> nbformat.NotebookNode:
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nb.cells = [
        cell("code", 'TEAM = ["<student id>", "<student id>"]', "team", {"autograder": {"team": True}}),
        cell("markdown", "# Doubling\nWrite `double`.", "intro", nbgrader("intro", locked=True)),
        cell("code", "import numpy as np", "setup", nbgrader("setup", locked=True)),
        cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
             "answer", nbgrader("double", solution=True)),
        cell("code", 'assert double(2) == 4, "double(2) should be 4"\n### BEGIN HIDDEN TESTS\n'
             "assert double(-1) == -2\n### END HIDDEN TESTS", "tests",
             nbgrader("test_double", grade=True, points=2)),
        cell("markdown", "Why is `double` linear?\n\n### BEGIN SOLUTION\nBecause 2(a+b) = 2a+2b."
             "\n### END SOLUTION", "written", nbgrader("why_linear", grade=True, solution=True,
                                                       points=1)),
        # nbgrader idioms that are fine: a 0-point check, autotests, a task graded by hand.
        cell("code", "### AUTOTEST double(3); double(0.5)\n### BEGIN HIDDEN TESTS\n"
             "### HASHED AUTOTEST double(-4)\n### END HIDDEN TESTS", "autotests",
             nbgrader("autotest_double", grade=True, locked=True, points=0)),
        cell("markdown", "Plot `double` on [-1, 1] and comment.", "task",
             nbgrader("plot_double", locked=True, task=True, points=1)),
    ]
    return nb


def variant(edit) -> nbformat.NotebookNode:
    nb = copy.deepcopy(valid())
    edit(nb.cells)
    return nb


def src(cells, i, text):
    cells[i].source = text


CASES = {
    "valid": lambda cells: None,
    "begin_without_end": lambda cells: src(
        cells, 3, "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x"),
    "end_before_begin": lambda cells: src(
        cells, 3, "def double(x):\n    ### END SOLUTION\n    return 2 * x\n    ### BEGIN SOLUTION"
        "\n    pass\n    ### END SOLUTION"),
    "nested_markers": lambda cells: src(
        cells, 4, "### BEGIN HIDDEN TESTS\nassert double(2) == 4\n### BEGIN HIDDEN TESTS\n"
        "assert double(3) == 6\n### END HIDDEN TESTS"),
    "marker_not_alone": lambda cells: src(
        cells, 3, "def double(x):\n    ### BEGIN SOLUTION: the easy way\n    return 2 * x\n"
        "    ### END SOLUTION"),
    "solution_in_locked_cell": lambda cells: src(
        cells, 2, "import numpy as np\n### BEGIN SOLUTION\nSECRET = 42\n### END SOLUTION"),
    "solution_in_tests_cell": lambda cells: src(
        cells, 4, "### BEGIN SOLUTION\nexpected = 4\n### END SOLUTION\nassert double(2) == expected"),
    "solution_outside_solution_cell": lambda cells: cells.append(cell(
        "code", "### BEGIN SOLUTION\nprint(double(21))\n### END SOLUTION", "demo")),
    "hidden_tests_outside_tests_cell": lambda cells: src(
        cells, 2, "import numpy as np\n### BEGIN HIDDEN TESTS\nassert np.pi > 3\n"
        "### END HIDDEN TESTS"),
    "duplicate_grade_id": lambda cells: cells[5].metadata.nbgrader.update(grade_id="test_double"),
    "tests_cell_without_points": lambda cells: cells[4].metadata.nbgrader.pop("points"),
    "written_cell_without_points": lambda cells: cells[5].metadata.nbgrader.pop("points"),
    "task_cell_without_points": lambda cells: cells[7].metadata.nbgrader.update(points=-1),
    "task_cell_not_markdown": lambda cells: cells.append(cell(
        "code", "print('plot it')", "task2", nbgrader("plot_it", locked=True, task=True,
                                                       points=1))),
    "check_points_over_cell": lambda cells: src(
        cells, 4, 'assert double(2) == 4\n### BEGIN HIDDEN TESTS\nwith check("negative", points=1.5):\n'
        "    assert double(-1) == -2\nwith check(\"zero\"):\n    assert double(0) == 0\n"
        "### END HIDDEN TESTS"),
    "test_cell_syntax_error": lambda cells: src(
        cells, 4, "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-1) == -2)\n"
        "### END HIDDEN TESTS"),
    "test_cell_magic": lambda cells: src(
        cells, 4, "%%bash\ntest -f data.txt"),
    "answer_cell_syntax_error": lambda cells: src(
        cells, 3, "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x +\n"
        "    ### END SOLUTION"),
    "answer_without_markers": lambda cells: src(cells, 3, "def double(x):\n    return 2 * x"),
    "autotest_outside_tests_cell": lambda cells: src(
        cells, 2, "import numpy as np\n### AUTOTEST np.pi"),
    "bad_autotest": lambda cells: src(cells, 6, "### AUTOTEST double(3); double(\n"),
    "bad_grade_id": lambda cells: cells[3].metadata.nbgrader.update(grade_id="double it!"),
    "missing_grade_id": lambda cells: cells[2].metadata.nbgrader.pop("grade_id"),
    "several_team_cells": lambda cells: cells.append(cell(
        "code", 'TEAM = ["<student id>"]', "team2", {"autograder": {"team": True}})),
}


def main() -> None:
    for name, edit in CASES.items():
        nb = variant(edit)
        text = nbformat.writes(nb, version=4)
        (HERE / f"{name}.ipynb").write_text(text if text.endswith("\n") else text + "\n",
                                            encoding="utf-8")


if __name__ == "__main__":
    main()
