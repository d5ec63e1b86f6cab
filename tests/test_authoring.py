"""Authoring rules: each example notebook in tests/data/authoring/ breaks the rule it is named after."""

from __future__ import annotations

import ast
import re
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from autograder import authoring
from autograder.authoring import check_total, find_problems, validate_source
from autograder.config import Assignment
from autograder.errors import AuthoringError
from autograder.notebook import cells_of, total_points

DATA = Path(__file__).parent / "data" / "authoring"
BROKEN = sorted(p for p in DATA.glob("*.ipynb") if p.stem != "valid")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_valid_source_passes():
    assert find_problems(read(DATA / "valid.ipynb")) == []
    validate_source(read(DATA / "valid.ipynb"), DATA / "valid.ipynb")  # raises nothing


def problem_codes() -> set[str]:
    """The codes authoring.py gives its Problems, read from its source: literal ones, and the
    templates of those built with an f-string, as patterns."""
    codes = set()
    for node in ast.walk(ast.parse(Path(authoring.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Problem":
            code = node.args[0]
            if isinstance(code, ast.Constant):
                codes.add(re.escape(code.value))
            elif isinstance(code, ast.JoinedStr):
                codes.add("".join(re.escape(part.value) if isinstance(part, ast.Constant)
                                  else "[a-z]+" for part in code.values))
    return codes


def test_every_problem_has_an_example():
    examples = {p.stem for p in BROKEN}
    codes = problem_codes()
    assert codes, "no Problem(...) found in authoring.py"
    missing = [c for c in codes if not any(re.fullmatch(c, e) for e in examples)]
    assert not missing, f"rules without an example in {DATA}: {missing}"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_each_example_breaks_exactly_its_rule(path):
    problems = find_problems(read(path))
    assert [p.code for p in problems] == [path.stem]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_error_names_file_cell_and_fix(path):
    with pytest.raises(AuthoringError) as info:
        validate_source(read(path), path)
    error = info.value
    assert error.path == path
    assert error.cell is not None and error.cell >= 1
    assert error.hint
    assert f"cell {error.cell}" in str(error)


def test_all_problems_in_one_error():
    nb = read(DATA / "valid.ipynb")
    nb.cells[2].metadata.nbgrader.pop("grade_id")  # missing id
    nb.cells[4].metadata.nbgrader.pop("points")  # tests without points
    nb.cells[3].source = "### BEGIN SOLUTION\nx = 1"  # never closed
    with pytest.raises(AuthoringError) as info:
        validate_source(nb, "hw.ipynb")
    text = str(info.value)
    assert "3 authoring problems" in text
    for number in (3, 4, 5):
        assert f"cell {number}:" in text
    assert [p.code for p in info.value.problems] == [
        "missing_grade_id", "begin_without_end", "tests_cell_without_points"]


def test_answer_without_markers_is_fine_when_it_defines_no_function():
    nb = read(DATA / "valid.ipynb")
    nb.cells[3].source = "FACTOR = 2"  # released as a bare stub, as nbgrader does
    assert find_problems(nb) == []


def test_answer_without_markers_that_defines_a_function_names_it_and_the_fix():
    problems = find_problems(read(DATA / "answer_without_markers.ipynb"))
    assert "signature of double" in problems[0].message
    assert "BEGIN SOLUTION" in problems[0].message and "body of double" in problems[0].hint


def test_indented_markers_are_fine_and_free_cells_need_no_id():
    nb = read(DATA / "valid.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell("print('scratch')"))
    nb.cells[-1].metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False}
    assert find_problems(nb) == []


@pytest.mark.parametrize("points", ["2", 0.5, 3, 0])
def test_points_as_number_or_numeric_text(points):
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].metadata.nbgrader["points"] = points
    assert find_problems(nb) == []


@pytest.mark.parametrize("points", [-1, "two", True, None])
def test_points_must_be_positive_numbers(points):
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].metadata.nbgrader["points"] = points
    assert [p.code for p in find_problems(nb)] == ["tests_cell_without_points"]


def test_syntax_error_in_hidden_tests_names_the_cell_and_line():
    problems = find_problems(read(DATA / "test_cell_syntax_error.ipynb"))
    assert problems[0].cell == 5 and problems[0].message.startswith("line 3: unmatched ')'")
    assert "hidden tests included" in problems[0].hint


def test_magics_in_a_test_cell_are_not_syntax_errors():
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].source = "%time double(2)\n" + nb.cells[4].source
    assert find_problems(nb) == []


def with_tests(source: str, points: float = 2) -> nbformat.NotebookNode:
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].source = source
    nb.cells[4].metadata.nbgrader["points"] = points
    return nb


@pytest.mark.parametrize("source", [
    'with check("a", points=1):\n    pass\nwith check("b", points=1.5):\n    pass',  # 2.5 > 2
    'with check("a", points=3):\n    pass',  # one check alone
    'for i in range(2):\n    with check(f"case {i}", points=2.5):\n        pass',  # in a loop
    'with check("a"):\n    pass\nwith check("b", 1):\n    pass\nwith check("c", points=0.5):\n'
    '    pass',  # the default (1) and a positional number count too
])
def test_checks_worth_more_than_their_cell_stop_the_release(source):
    problems = find_problems(with_tests(source))
    assert [p.code for p in problems] == ["check_points_over_cell"]
    assert problems[0].cell == 5 and "worth 2" in problems[0].message


@pytest.mark.parametrize("source", [
    'with check("a", points=1):\n    pass\nwith check("b", points=1):\n    pass',  # exactly 2
    # checks that may run any number of times are not added up (only each one's own points)
    'for i in range(3):\n    with check(f"case {i}", points=1):\n        pass',
    'if GPU:\n    with check("a", points=2):\n        pass\nelse:\n    with check("b", points=2):\n'
    '        pass',
    'with check("a", points=POINTS):\n    pass',  # not a literal: decided when it runs
])
def test_checks_within_their_cell_are_fine(source):
    assert find_problems(with_tests(source)) == []


@pytest.mark.parametrize("points", [0, "0", 0.0])
def test_zero_point_cells_are_accepted_as_ungraded_checks(points):
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].metadata.nbgrader["points"] = points
    nb.cells[5].metadata.nbgrader["points"] = points
    assert find_problems(nb) == []


def test_zero_point_cell_with_a_check_worth_a_point_is_refused():
    problems = find_problems(with_tests('with check("a"):\n    pass', points=0))
    assert [p.code for p in problems] == ["check_points_over_cell"]


def test_bad_autotest_names_the_line_and_the_expression():
    problems = find_problems(read(DATA / "bad_autotest.ipynb"))
    assert problems[0].cell == 7 and "line 1: 'double('" in problems[0].message


# --- the notebook's total against course.toml ------------------------------------------------

def assignment(points: float, notebook_points: float | None = None) -> Assignment:
    return Assignment(name="hw", notebook=DATA / "valid.ipynb", due=datetime(2026, 1, 1),
                      points=points, notebook_points=notebook_points)


def test_total_counts_automatic_and_manual_points():
    nb = read(DATA / "valid.ipynb")  # tests 2 + autotests 0, written 1 + task 1
    assert total_points(cells_of(nb)) == (2.0, 2.0)
    check_total(nb, course_path=Path("course.toml"), assignment=assignment(4))  # raises nothing
    with pytest.raises(AuthoringError, match="4"):
        check_total(nb, course_path=Path("course.toml"), assignment=assignment(2))


def test_total_mismatch_names_both_numbers_the_file_and_the_fix():
    with pytest.raises(AuthoringError) as info:
        check_total(read(DATA / "valid.ipynb"), course_path=Path("course.toml"),
                    assignment=assignment(20))
    text = str(info.value)
    assert "valid.ipynb is worth 4 points (2 automatic + 2 by hand)" in text
    assert "says points = 20" in text and "[assignments.hw] of course.toml" in text
    assert "notebook_points = 4" in info.value.hint


def test_notebook_points_scale_explicitly_and_are_checked_too():
    nb = read(DATA / "valid.ipynb")
    check_total(nb, course_path=Path("course.toml"), assignment=assignment(20, 4))
    with pytest.raises(AuthoringError, match="says notebook_points = 5"):
        check_total(nb, course_path=Path("course.toml"), assignment=assignment(20, 5))
