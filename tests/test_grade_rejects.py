"""What the engine decides before any kernel starts: a bad submission is a result row, never an
exception; a broken source is the instructor's error, never a rejected submission."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.batch import grade_batch
from autograder.config import load_course
from autograder.engine import grade_submission
from autograder.errors import AuthoringError
from autograder.notebook import nbgrader_metadata
from autograder.results import SubmissionStatus
from autograder.versions import grader_version

DATA = Path(__file__).parent / "data" / "engine"
ROOT = Path(__file__).resolve().parents[1]


def test_unreadable_submission_is_rejected_not_raised(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ not json")
    result = grade_submission(bad, course=load_course(DATA / "course.toml"), assignment="tiny",
                              require_sandbox=False)
    assert result.status == SubmissionStatus.REJECTED and "broken.ipynb" in result.reason


def test_a_result_carries_the_batchs_grader_version(tmp_path):
    """grade-one and the batch key a result the same way: a result written by one is not
    regraded by the other for want of the same version."""
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ not json")
    course = load_course(DATA / "course.toml")
    result = grade_submission(bad, course=course, assignment="tiny", require_sandbox=False)
    assert result.grader_version == grader_version(course.assignment("tiny").notebook)
    assert "+" in result.grader_version  # the package's version and the instructor's tests


def twice_named_course(root: Path, write_course):
    """An assignment whose source gives one grade_id to two cells: nothing can be matched
    against it, whatever the submission."""
    code = nbformat.v4.new_code_cell
    source = nbformat.v4.new_notebook(cells=[
        code("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
             metadata=nbgrader_metadata("double", solution=True)),
        code("assert double(2) == 4", metadata=nbgrader_metadata("double", grade=True,
                                                                 locked=True, points=1)),
    ])
    path = root / "source" / "hw" / "hw.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(source, path)
    course = load_course(write_course(
        root, course={"roster": ROOT / "roster.csv"},
        assignments={"hw": {"notebook": "source/hw/hw.ipynb", "due": "2099-10-12T23:59",
                            "points": 1}}))
    submissions = root / "submissions"
    submissions.mkdir()
    nbformat.write(source, submissions / "pair01.ipynb")
    return course, submissions


def test_a_broken_source_is_the_instructors_error_not_a_rejected_submission(tmp_path,
                                                                          write_course):
    course, submissions = twice_named_course(tmp_path, write_course)
    with pytest.raises(AuthoringError, match="grade_id 'double' is also used by cell 1"):
        grade_submission(submissions / "pair01.ipynb", course=course, assignment="hw",
                         require_sandbox=False)


def test_a_batch_stops_on_a_broken_source_and_rejects_no_one(tmp_path, write_course):
    course, submissions = twice_named_course(tmp_path, write_course)
    with pytest.raises(AuthoringError, match="also used by cell 1") as caught:
        grade_batch(course=course, assignment="hw", submissions=submissions,
                    out=tmp_path / "results", require_sandbox=False)
    assert caught.value.path == course.assignment("hw").notebook  # the file to fix
    assert not list((tmp_path / "results").rglob("*.json"))
