"""nbgrader's notebooks grade as nbgrader grades them: tests written the way nbgrader users write.

tests/data/idioms/ holds one assignment (made by its make.py) whose test cells use the idioms of
nbgrader's documentation: iteration over a model's parameters, `isinstance` against torch's and
the student's classes, `torch.no_grad()`, `try/except ValueError`, `pytest.raises` with the
student's own exception class, the "does not use `squares`" test (`del`, `assert_raises(NameError,
...)`, `finally` to put it back), a data file beside the notebook, a generator, `print` and
`display`, `%%time`/`%time` magics around asserts, and seeding numpy's and torch's global state
before calling the student's code (the seed reaches the kernel).
Each submission carries one realistic mistake. nbgrader_scores.json holds what `nbgrader
autograde` gives each (written by `make.py --nbgrader`): 11/11 for the correct one, 0 for the
stub, 10 or 9 for the mistakes (9 where the 2-point MLP cell fails). Ours must give the same,
and lose the points in the question nbgrader takes them from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.config import load_course
from autograder.engine import grade_submission
from autograder.results import QuestionStatus, SubmissionStatus

DATA = Path(__file__).parent / "data" / "idioms"
NBGRADER = json.loads((DATA / "nbgrader_scores.json").read_text())
# The question each mistake loses (all its points: nbgrader's cells are all-or-nothing).
LOSES = {
    "correct": None,
    "squares_accepts_zero": "test_squares_invalid",
    "sum_without_squares": "test_uses_squares",
    "wrong_exception_class": "test_safe_sqrt",
    "mlp_without_bias": "test_mlp",
    "mlp_frozen_layer": "test_mlp",
    "means_by_row": "test_column_means",
    "batches_drop_last": "test_batches",
    "batches_as_tuples": "test_batches",  # its only failing assert is under `%time`
    "noisy_weights_own_generator": "test_noisy_weights",  # reproducible, not the seeded draws
}

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(
    not (sandbox.bwrap_available() and sandbox.template_available()),
    reason="root, Linux namespaces and bubblewrap are needed for the sandbox")]


@pytest.fixture(scope="module")
def course():
    return load_course(DATA / "course.toml")


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """Every submission graded once, from a working directory that is not the course's: the
    data file must be found where the notebook is, wherever the grader was started."""
    import os

    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("elsewhere"))
    try:
        return {name: grade_submission(DATA / "submissions" / f"{name}.ipynb", course=course,
                                       assignment="idioms") for name in NBGRADER}
    finally:
        os.chdir(previous)


def test_the_fixture_covers_every_submission():
    assert set(NBGRADER) == set(LOSES) | {"unanswered"}
    assert {p.stem for p in (DATA / "submissions").glob("*.ipynb")} == set(NBGRADER)


@pytest.mark.parametrize("name", sorted(LOSES))
def test_each_submission_scores_what_nbgrader_gives(graded, name):
    result = graded[name]
    assert result.status == SubmissionStatus.GRADED, result.reason
    lost = [(q.grade_id, q.message) for q in result.questions if q.points < q.max_points]
    assert result.points == NBGRADER[name], lost
    assert [g for g, _ in lost] == ([LOSES[name]] if LOSES[name] else [])


def test_the_stub_scores_zero_not_attempted(graded):
    result = graded["unanswered"]
    assert result.points == NBGRADER["unanswered"] == 0
    assert {q.status for q in result.questions} == {QuestionStatus.NOT_ATTEMPTED}


def test_failures_speak_of_the_students_code(graded):
    messages = {name: {q.grade_id: q.message for q in r.questions} for name, r in graded.items()}
    assert messages["squares_accepts_zero"]["test_squares_invalid"] == \
        "squares(0) should raise a ValueError"
    assert messages["sum_without_squares"]["test_uses_squares"] == \
        "sum_of_squares does not use squares"
    assert messages["wrong_exception_class"]["test_safe_sqrt"] == \
        "safe_sqrt raised NegativeInput: -1.0 is negative"
    assert messages["batches_drop_last"]["test_batches"].startswith("assertion failed: assert [b")
    assert messages["mlp_frozen_layer"]["test_mlp"] == "an assertion failed"  # hidden: no line
    for by_question in messages.values():
        for message in by_question.values():
            assert "NotComparable" not in message and "plain data" not in message


def test_print_in_a_test_cell_goes_to_its_result_visible_part_only(graded, capsys):
    question = next(q for q in graded["correct"].questions if q.grade_id == "test_squares")
    assert question.status == QuestionStatus.PASSED
    assert question.output == "squares(3) = [1, 4, 9]\n"
    assert "HIDDEN-PRINT" in question.hidden_output and "HIDDEN-PRINT" not in question.output
    assert "squares(3)" not in capsys.readouterr().out


def test_the_feedback_page_shows_the_visible_prints_only(graded):
    from autograder.feedback import hidden_test_lines, render

    page = render(graded["correct"], hidden=hidden_test_lines(DATA / "source" / "idioms" /
                                                              "idioms.ipynb"))
    assert "squares(3) = [1, 4, 9]" in page and "HIDDEN-PRINT" not in page
