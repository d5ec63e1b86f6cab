"""An assignment written for nbgrader (tests/data/nbgrader_format/make.py), released and graded
end to end: autotests, a 0-point check, a manually graded code cell, a written answer, a task, a
data file, and 7 notebook points graded /20. Each pair scores what nbgrader gives it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import sandbox
from autograder.autotest import stored_path
from autograder.batch import grade_batch
from autograder.config import load_course
from autograder.engine import grade_submission
from autograder.errors import AuthoringError
from autograder.gradebook import build_gradebook
from autograder.results import (
    QuestionResult,
    QuestionStatus,
    SubmissionResult,
    SubmissionStatus,
    write_result,
)

DATA = Path(__file__).parent / "data" / "nbgrader_format"
NAME = "squares"
needs_sandbox = pytest.mark.skipif(
    not (sandbox.bwrap_available() and sandbox.template_available()),
    reason="root, Linux namespaces and bubblewrap are needed for the sandbox")


@pytest.fixture(scope="module")
def course():
    return load_course(DATA / "course.toml")


@pytest.fixture
def copied(tmp_path):
    """A copy of the course, to break."""
    for name in ("course.toml", "source", "release", "solutions", "submissions"):
        src = DATA / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    (tmp_path / "roster.csv").write_text("student_id,last_name,first_name,email\n")
    text = (tmp_path / "course.toml").read_text().replace("../../../roster.csv", "roster.csv")
    (tmp_path / "course.toml").write_text(text)
    return tmp_path


def test_committed_release_is_current(update_goldens):
    from autograder.release import stale_files

    if update_goldens:
        import runpy

        runpy.run_path(str(DATA / "make.py"), run_name="__main__")
    stale = stale_files(course=load_course(DATA / "course.toml"), assignment=NAME)
    assert not stale, f"{stale}: run python tests/data/nbgrader_format/make.py"


def released(course):
    return nbformat.read(course.assignment(NAME).release_path, as_version=4)


def test_visible_autotests_are_asserts_hidden_ones_are_not_released(course):
    text = json.dumps(released(course))
    assert "AUTOTEST" not in text
    assert 'assert str(squares(3)) == \\"\\"\\"[1, 4, 9]\\"\\"\\"' in text
    # the hidden directives: squares(10) hashed, mean_square(4) compared with a tolerance
    assert "squares(10)" not in text and "mean_square(4)" not in text and "7.5" not in text
    hidden = json.loads(stored_path(course.assignment(NAME).notebook).read_text())["cells"]
    assert "sha1(str(squares(10))" in hidden["correct_squares"]
    assert "numpy.allclose(mean_square(4), 7.5" in hidden["correct_squares"]


def test_files_beside_the_notebook_are_released_but_not_the_stored_autotests(course):
    spec = course.assignment(NAME)
    for folder in (spec.release_path.parent, spec.solution_path.parent):
        assert sorted(p.name for p in folder.iterdir()) == ["squares.csv", "squares.ipynb"]


def test_manual_cells_keep_their_roles_and_points_in_the_release(course):
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in released(course).cells}
    assert cells["pyramidal"].cell_type == "code" and "raise NotImplementedError" in \
        cells["pyramidal"].source and "def pyramidal_number(n):" in cells["pyramidal"].source
    assert cells["plot"].metadata.nbgrader.task and cells["plot"].metadata.nbgrader.points == 1
    assert cells["large_n"].metadata.nbgrader.points == 0


def test_points_that_do_not_add_up_stop_grading_and_the_batch(copied):
    toml = copied / "course.toml"
    toml.write_text(toml.read_text().replace("notebook_points = 7", "notebook_points = 5"))
    course = load_course(toml)
    with pytest.raises(AuthoringError, match="worth 7 points .* says notebook_points = 5"):
        grade_submission(copied / "submissions" / "solution.ipynb", course=course,
                         assignment=NAME)
    with pytest.raises(AuthoringError, match="says notebook_points = 5"):
        grade_batch(course=course, assignment=NAME, submissions=copied / "submissions",
                    out=copied / "results", workers=1, require_sandbox=False)


def test_autotests_not_released_since_the_source_changed_stop_grading(copied):
    course = load_course(copied / "course.toml")
    notebook = course.assignment(NAME).notebook
    notebook.write_text(notebook.read_text().replace("squares(1); squares(3)", "squares(2)"))
    with pytest.raises(AuthoringError, match="out of date") as info:
        grade_submission(copied / "submissions" / "solution.ipynb", course=course,
                         assignment=NAME)
    assert "autograder release squares" in info.value.hint


@pytest.mark.parametrize("error, checks, status", [
    (None, [], QuestionStatus.PASSED),
    (AssertionError("too small"), [], QuestionStatus.FAILED),
    (None, [("large n", QuestionStatus.FAILED)], QuestionStatus.FAILED),
    (None, [("large n", QuestionStatus.PASSED)], QuestionStatus.PASSED),
])
def test_a_zero_point_cell_is_reported_passed_or_failed_worth_nothing(error, checks, status):
    from autograder import scoring

    run = scoring.CellRun(checks=[scoring.CheckRecord(name, 0.0, False, s) for name, s in checks],
                        error=error, message=str(error or ""))
    question = scoring.score_cell(grade_id="large_n", points=0.0, run=run)
    assert (question.status, question.points, question.max_points) == (status, 0.0, 0.0)


def test_gradebook_scales_the_notebook_points_to_the_assignment(course, tmp_path):
    result = SubmissionResult(
        assignment=NAME, submission_id="pair", status=SubmissionStatus.GRADED,
        team=["21900101", "21900102"],
        submitted_at="2026-10-12T20:00:00+02:00", points=3.0, max_points=7.0,
        questions=[QuestionResult("correct_squares", 2.0, 2.0, QuestionStatus.PASSED),
                   QuestionResult("correct_mean", 1.0, 1.0, QuestionStatus.PASSED),
                   QuestionResult("formula", 0.0, 1.0, QuestionStatus.MANUAL, manual=True)])
    write_result(result, tmp_path / "results" / NAME / "pair.json")
    book = build_gradebook(course=course, assignments=[NAME], results=[tmp_path / "results"],
                           out=tmp_path / "grades.xlsx")
    row = next(r for r in book.rows if r["student_id"] == "21900101")
    assert row[f"{NAME} auto"] == 3.0 and row[f"{NAME} grade"] == round(3 / 7 * 20, 2)


# --- graded in a sandboxed kernel --------------------------------------------------------------

def grade(course, name):
    return grade_submission(DATA / "submissions" / f"{name}.ipynb", course=course,
                            assignment=NAME, submission_id=name)


def statuses(result):
    return {q.grade_id: (q.status, q.points, q.max_points, q.manual) for q in result.questions}


@pytest.mark.kernel
@needs_sandbox
def test_solution_gets_every_automatic_point_and_the_manual_questions(course):
    result = grade(course, "solution")
    assert result.status == SubmissionStatus.GRADED
    assert result.points == 3.0 and result.max_points == 7.0
    assert statuses(result) == {
        "correct_squares": (QuestionStatus.PASSED, 2.0, 2.0, False),  # visible and hidden autotests
        "correct_mean": (QuestionStatus.PASSED, 1.0, 1.0, False),
        # a 0-point check: run, reported, worth nothing
        "large_n": (QuestionStatus.PASSED, 0.0, 0.0, False),
        "pyramidal": (QuestionStatus.MANUAL, 0.0, 2.0, True),  # graded by hand: to the gradebook
        "formula": (QuestionStatus.MANUAL, 0.0, 1.0, True),
        "plot": (QuestionStatus.MANUAL, 0.0, 1.0, True),  # the task's points are given by hand
    }
    assert not [f for f in result.flags if f.code == "no_response"]


@pytest.mark.kernel
@needs_sandbox
def test_unanswered_gets_nothing_and_no_response_on_its_manual_answers(course):
    result = grade(course, "unanswered")
    assert result.points == 0.0
    got = statuses(result)
    assert got["correct_squares"][:2] == got["correct_mean"][:2] \
        == (QuestionStatus.NOT_ATTEMPTED, 0.0)
    assert got["large_n"][:2] == (QuestionStatus.NOT_ATTEMPTED, 0.0)
    assert got["pyramidal"] == (QuestionStatus.NOT_ATTEMPTED, 0.0, 2.0, True)
    assert got["formula"] == (QuestionStatus.NOT_ATTEMPTED, 0.0, 1.0, True)
    assert got["plot"] == (QuestionStatus.MANUAL, 0.0, 1.0, True)  # nothing to compare a task with
    assert {q.message for q in result.questions if q.grade_id in ("pyramidal", "formula")} \
        == {"No response"}
    assert sorted(f.message.split(":")[0] for f in result.flags if f.code == "no_response") \
        == ["formula", "pyramidal"]


@pytest.mark.kernel
@needs_sandbox
def test_wrong_answers_lose_the_autotests_and_blank_answers_are_no_response(course):
    result = grade(course, "wrong")
    got = statuses(result)
    assert got["correct_squares"][:2] == (QuestionStatus.FAILED, 0.0)
    assert "squares(1)" in next(q.message for q in result.questions
                                if q.grade_id == "correct_squares")
    assert got["correct_mean"][:2] == (QuestionStatus.FAILED, 0.0)
    assert got["formula"][:2] == (QuestionStatus.NOT_ATTEMPTED, 0.0)  # blank
    assert got["pyramidal"][:2] == (QuestionStatus.NOT_ATTEMPTED, 0.0)  # left as released
    assert result.points == 0.0


@pytest.mark.kernel
@needs_sandbox
def test_a_manual_code_cell_that_raises_stays_manual_and_says_why(course):
    result = grade(course, "manual_raises")
    pyramidal = next(q for q in result.questions if q.grade_id == "pyramidal")
    assert pyramidal.status == QuestionStatus.MANUAL and pyramidal.manual
    assert "raised ValueError: not finished" in pyramidal.message
    assert result.points == 3.0  # the automatic questions do not pay for it
