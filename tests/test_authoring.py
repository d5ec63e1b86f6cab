"""Authoring rules: each example notebook in tests/data/authoring/ breaks the rule it is named after."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.authoring import find_problems, validate_source
from autograder.errors import AuthoringError

DATA = Path(__file__).parent / "data" / "authoring"
BROKEN = sorted(p for p in DATA.glob("*.ipynb") if p.stem != "valid")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_valid_source_passes():
    validate_source(read(DATA / "valid.ipynb"), DATA / "valid.ipynb")


def test_every_problem_has_an_example():
    assert len(BROKEN) >= 13


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


def test_solution_cell_without_markers_is_fine():
    nb = read(DATA / "valid.ipynb")
    nb.cells[3].source = "def double(x):\n    return 2 * x"
    assert find_problems(nb) == []


def test_indented_markers_are_fine_and_free_cells_need_no_id():
    nb = read(DATA / "valid.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell("print('scratch')"))
    nb.cells[-1].metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False}
    assert find_problems(nb) == []


@pytest.mark.parametrize("points", ["2", 0.5, 3])
def test_points_as_number_or_numeric_text(points):
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].metadata.nbgrader["points"] = points
    assert find_problems(nb) == []


@pytest.mark.parametrize("points", [-1, "two", True, None])
def test_points_must_be_positive_numbers(points):
    nb = read(DATA / "valid.ipynb")
    nb.cells[4].metadata.nbgrader["points"] = points
    assert [p.code for p in find_problems(nb)] == ["tests_cell_without_points"]
