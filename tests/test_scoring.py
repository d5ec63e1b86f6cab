"""Scoring of one test cell: named checks on their own, the rest only if the cell raised nothing."""

import pytest

from autograder import errors, scoring
from autograder.results import QuestionStatus


def run(*checks, error=None):
    cell = scoring.CellRun(checks=[scoring.CheckRecord(n, p, g, s, m) for n, p, g, s, m in checks],
                         error=error, message=scoring.describe_error(error) if error else "")
    return cell


def test_cell_without_checks_is_all_or_nothing():
    assert scoring.score_cell(grade_id="q", points=2, run=run()).points == 2
    q = scoring.score_cell(grade_id="q", points=2, run=run(error=AssertionError("shape is wrong")))
    assert (q.points, q.status, q.message) == (0, QuestionStatus.FAILED, "shape is wrong")


def test_checks_score_on_their_own():
    q = scoring.score_cell(grade_id="q", points=3, run=run(
        ("a", 1.0, False, QuestionStatus.PASSED, ""),
        ("b", 1.5, False, QuestionStatus.FAILED, "b is off")))
    assert q.points == pytest.approx(1.5)  # a + the 0.5 not covered by checks
    assert q.status == QuestionStatus.PARTIAL
    assert [c.points for c in q.checks] == [1.0, 0.0]


def test_error_outside_checks_loses_only_the_rest():
    q = scoring.score_cell(grade_id="q", points=3, run=run(
        ("a", 2.0, False, QuestionStatus.PASSED, ""), error=AssertionError("visible test failed")))
    assert q.points == 2.0 and q.status == QuestionStatus.PARTIAL


def test_not_attempted_when_the_stub_still_raises():
    q = scoring.score_cell(grade_id="q", points=2, run=run(error=errors.NotAttempted("f")))
    assert (q.points, q.status) == (0, QuestionStatus.NOT_ATTEMPTED)


def test_timeout_is_recorded_as_such():
    q = scoring.score_cell(grade_id="q", points=2, run=run(error=errors.KernelTimeout("f ran long")))
    assert q.status == QuestionStatus.TIMEOUT and q.points == 0


def test_gpu_checks_on_a_cpu_machine_are_not_graded_never_passed():
    q = scoring.score_cell(grade_id="q", points=1, run=run(
        ("used the GPU", 1.0, True, QuestionStatus.NOT_GRADED, "not graded (no GPU)")))
    assert q.status == QuestionStatus.NOT_GRADED and q.points == 0


def test_check_context_records_and_suppresses_failures():
    cell = scoring.CellRun()
    check = scoring.Checks(cell, gpu=False)
    with check("passes", points=1):
        pass
    with check("fails", points=1):
        raise AssertionError("nope")
    with check("needs a GPU", points=1, needs_gpu=True):
        raise errors.NoGPU("none")
    assert [c.status for c in cell.checks] == [
        QuestionStatus.PASSED, QuestionStatus.FAILED, QuestionStatus.NOT_GRADED]


def test_numpy_messages_do_not_leak_hidden_expected_values():
    import numpy as np

    try:
        np.testing.assert_allclose(np.array([1.0, 2.0]), np.array([123.456, 789.012]))
    except AssertionError as exc:
        message = scoring.describe_error(exc)
    assert "123.456" not in message and "789.012" not in message
    assert "Not equal to tolerance" in message
