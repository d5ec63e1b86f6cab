"""Form variants of hw1 graded by the real engine like the solution they carry.

The notebooks come from tests/data/forms/make_forms.py (cells moved, metadata stripped by Colab or
VS Code, test cells edited or deleted, answers duplicated, …); expected.json says what each carries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.engine import grade_submission
from autograder.results import QuestionStatus, SubmissionStatus

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "tests" / "data" / "forms" / "hw1_features"
EXPECTED = json.loads((FORMS / "expected.json").read_text()) if FORMS.exists() else {}
pytestmark = [pytest.mark.kernel, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def graded():
    course = load_course(ROOT / "course.toml")
    cache: dict[str, object] = {}

    def grade(name: str):
        if name not in cache:
            cache[name] = grade_submission(FORMS / f"{name}.ipynb", course=course,
                                           assignment="hw1_features")
        return cache[name]

    return grade


def per_question(result):
    return {q.grade_id: q.points for q in result.questions if not q.manual}


CARRY_SOLUTION = sorted(n for n, e in EXPECTED.items()
                        if all(v == "solution" for v in e["answers"].values()))
CARRY_NOTHING = sorted(n for n, e in EXPECTED.items()
                       if all(v in ("stub", "missing") for v in e["answers"].values()))


def test_the_complete_form_scores_full_marks(graded):
    result = graded("complete")
    assert result.status == SubmissionStatus.GRADED
    assert result.points == sum(q.max_points for q in result.questions if not q.manual)


@pytest.mark.parametrize("form", CARRY_SOLUTION)
def test_form_carrying_the_solution_is_graded_like_it(graded, form):
    assert per_question(graded(form)) == per_question(graded("complete"))
    assert (graded(form).team or None) == EXPECTED[form]["team"]


@pytest.mark.parametrize("form", CARRY_NOTHING)
def test_form_carrying_no_answer_scores_zero_not_attempted(graded, form):
    result = graded(form)
    assert result.points == 0
    assert all(q.status == QuestionStatus.NOT_ATTEMPTED for q in result.questions if not q.manual)


def test_a_deleted_answer_loses_only_its_question(graded):
    complete, deleted = per_question(graded("complete")), graded("answer_deleted")
    lost = {q.grade_id for q in deleted.questions if not q.manual and q.points < complete[q.grade_id]}
    assert len(lost) == 1
    assert all(q.status == QuestionStatus.NOT_ATTEMPTED for q in deleted.questions
               if q.grade_id in lost)
