"""The result of grading one submission: dataclasses and their versioned JSON document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_open
from .strenum import StrEnum

SCHEMA_VERSION = 1
NO_RESPONSE = "No response"  # nbgrader's words for a written answer left as released


class SubmissionStatus(StrEnum):
    """What became of one submission (the result file's `status`)."""

    GRADED = "graded"  # every question has its points, whatever they are
    ERROR = "error"  # grading failed part way (a kernel that did not start, a grader failure)
    TIMEOUT = "timeout"  # the notebook ran past its time limit
    REJECTED = "rejected"  # not gradable at all: unreadable, not a notebook, refused upload


class QuestionStatus(StrEnum):
    """What became of one question, or of one check (passed, failed or not_graded)."""

    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"
    NOT_ATTEMPTED = "not_attempted"  # the answers are missing or still the released stub
    NOT_GRADED = "not_graded"  # a check that needs a GPU, where the kernels had none
    MANUAL = "manual"  # graded by hand: the points come from the marks
    TIMEOUT = "timeout"  # a cell ran past its time limit
    KERNEL_DIED = "kernel_died"


@dataclass
class Flag:
    """Something a teaching assistant should look at; grading still happened."""

    code: str  # e.g. unknown_student, student_in_two_teams, team_too_large, no_team_cell, late,
    #            cells_changed, gpu_not_used, sandbox_reduced, output_truncated
    message: str


@dataclass
class CheckResult:
    name: str
    points: float
    max_points: float
    status: QuestionStatus  # passed | failed | not_graded
    message: str = ""  # for the student: a short reason, never a hidden test's values
    needs_gpu: bool = False
    hidden: bool = False  # declared in the hidden part of its test cell
    detail: str = ""  # for staff: the full technical reason (types, tracebacks)


@dataclass
class QuestionResult:
    grade_id: str
    points: float
    max_points: float
    status: QuestionStatus
    message: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    manual: bool = False  # written answer: points come from the gradebook's manual column
    detail: str = ""  # for staff: the full technical reason of the message
    output: str = ""  # what the visible part of the test cell printed (capped)
    hidden_output: str = ""  # what its hidden part printed: staff only, never in feedback


@dataclass
class SubmissionResult:
    assignment: str
    submission_id: str
    status: SubmissionStatus
    reason: str = ""  # why, when not graded
    team: list[str] = field(default_factory=list)
    content_hash: str = ""
    submitted_at: str | None = None  # ISO 8601 with offset; only a trusted time (late penalty)
    # Where the time came from (times.TimeSource): manifest | lms (Moodle's worksheet) |
    # classroom (GitHub Classroom) decide lateness; file date | archive date are set by whoever
    # made the files and go to `unverified_submitted_at` instead, shown and flagged, never used
    # for a penalty.
    submitted_at_source: str = ""
    unverified_submitted_at: str | None = None
    questions: list[QuestionResult] = field(default_factory=list)
    points: float = 0.0
    max_points: float = 0.0
    runtime_s: float = 0.0
    peak_memory_mb: float | None = None
    device: str = "cpu"  # device the kernel had: cpu | cuda
    gpu_used: bool | None = None  # measured outside the kernel; None where no GPU
    gpu_index: int | None = None  # the machine's GPU the kernel was given; None where none
    sandbox: str = "none"  # bwrap | none
    flags: list[Flag] = field(default_factory=list)
    grader_version: str = ""
    graded_at: str = ""
    source: str = ""  # path of the submitted file, relative to the submissions folder
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"result schema {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
        data = dict(data)
        data["status"] = SubmissionStatus(data.get("status", ""))
        data["flags"] = [Flag(**f) for f in data.get("flags", [])]
        data["questions"] = [
            QuestionResult(**{**q, "status": QuestionStatus(q.get("status")), "checks": [
                CheckResult(**{**c, "status": QuestionStatus(c.get("status"))})
                for c in q.get("checks", [])]})
            for q in data.get("questions", [])
        ]
        return cls(**data)

    def flag(self, code: str, message: str) -> None:
        if not any(f.code == code and f.message == message for f in self.flags):
            self.flags.append(Flag(code, message))


def write_result(result: SubmissionResult, path: Path) -> None:
    """Write atomically: a grader killed mid-write leaves the old file or none, never half."""
    with atomic_open(path) as fh:
        json.dump(result.to_dict(), fh, indent=2, sort_keys=True)
        fh.write("\n")


def read_result(path: Path) -> SubmissionResult:
    return SubmissionResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def collect_results(folders: Iterable[Path], assignment: str) -> list[SubmissionResult]:
    """This assignment's results from any set of result folders (shards), one per submission.

    A folder may be a results root (holding `<assignment>/`) or an assignment's folder itself.
    Where shards overlap, the most recently graded result wins.
    """
    best: dict[str, SubmissionResult] = {}
    for folder in folders:
        folder = Path(folder)
        where = folder / assignment if (folder / assignment).is_dir() else folder
        for path in sorted(where.glob("*.json")):
            try:
                result = read_result(path)
            except (OSError, ValueError, TypeError, KeyError):
                continue
            if result.assignment != assignment:
                continue
            old = best.get(result.submission_id)
            if old is None or result.graded_at > old.graded_at:
                best[result.submission_id] = result
    return [best[k] for k in sorted(best)]
