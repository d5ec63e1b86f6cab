"""What the engine refuses before any kernel starts: a result row, never an exception."""

from __future__ import annotations

from pathlib import Path

from autograder.config import load_course
from autograder.engine import grade_submission
from autograder.results import REJECTED

DATA = Path(__file__).parent / "data" / "engine"


def test_unreadable_submission_is_rejected_not_raised(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ not json")
    result = grade_submission(bad, course=load_course(DATA / "course.toml"), assignment="tiny",
                              require_sandbox=False)
    assert result.status == REJECTED and "broken.ipynb" in result.reason
