"""Marks given by hand (written answers, manually graded cells), one file per submission.

A mark belongs to a submission, that is to the pair: both members always share it, so two
different marks for one pair cannot be stored. Marks live beside the results, in
`<results>/<assignment>/marks/<submission id>.json`, written atomically under a lock, so the
gradebook (marks typed into grades.xlsx) and a review page in a browser write the same files; for
each question the later mark wins, and each mark says where it came from and when.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .atomic import atomic_open
from .errors import ConfigError, MarkError
from .strenum import StrEnum

SCHEMA_VERSION = 1
FOLDER = "marks"


class MarkOrigin(StrEnum):
    """Where a mark was entered."""

    XLSX = "xlsx"  # typed into the gradebook's spreadsheet
    REVIEW = "review"  # on the review page (autograder review)

COMMENT_CHARS = 4000  # a comment is for the pair to read, not an essay


@dataclass(frozen=True)
class Mark:
    question: str  # the question's grade id in the source notebook
    points: float | None  # None: the mark was cleared (it then counts as not marked yet)
    comment: str = ""
    origin: MarkOrigin = MarkOrigin.REVIEW
    at: str = ""  # when it was given, ISO 8601 in UTC

    @property
    def cleared(self) -> bool:
        return self.points is None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def when(mark: Mark) -> datetime:
    """The mark's time, comparable; a missing or broken time counts as the oldest."""
    try:
        at = datetime.fromisoformat(mark.at)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def later(a: Mark | None, b: Mark) -> Mark:
    """The mark that wins: the later one (on a tie, `b`, the one being entered)."""
    if a is None:
        return b
    return a if when(a) > when(b) else b


def parse_points(value: Any) -> float | None:
    """Points as typed: a number, or text such as '1.5' or '1,5' (a French spreadsheet).

    None for an empty cell; MarkError for anything else.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise MarkError(f"{value!r} is not a number of points")
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip().replace(",", "."))
        except ValueError:
            raise MarkError(f"{str(value)[:40]!r} is not a number of points") from None
    if not math.isfinite(number):
        raise MarkError(f"{value!r} is not a number of points")
    return number


def make_mark(question: str, points: Any, *, max_points: float, origin: MarkOrigin | str,
              comment: str = "", at: str | None = None) -> Mark:
    """A mark checked against its question: 0 <= points <= max_points (None clears the mark)."""
    if origin not in tuple(MarkOrigin):
        raise MarkError(f"origin {origin!r} is not one of {', '.join(MarkOrigin)}")
    number = parse_points(points)
    if number is not None and not 0 <= number <= max_points + 1e-9:
        raise MarkError(f"{number:g} is outside 0 to {max_points:g}, the question's points")
    return Mark(question=question, points=number, comment=str(comment or "")[:COMMENT_CHARS],
                origin=MarkOrigin(origin), at=at or now())


# ---------------------------------------------------------------- files

def results_root(folder: Path, assignment: str) -> Path:
    """The results root a folder stands for: given `results/` or `results/<assignment>/`, as
    the gradebook accepts either."""
    folder = Path(folder)
    if folder.name == assignment and not (folder / assignment).is_dir():
        return folder.parent
    return folder


def marks_folder(results: Path, assignment: str) -> Path:
    return results_root(results, assignment) / assignment / FOLDER


def _path(results: Path, assignment: str, submission_id: str) -> Path:
    # Submission ids are the results' own file names; refuse anything that would leave the folder.
    if not submission_id or "/" in submission_id or "\\" in submission_id \
            or submission_id.startswith(".") or "\0" in submission_id:
        raise MarkError(f"{submission_id!r} is not a submission id")
    return marks_folder(results, assignment) / f"{submission_id}.json"


def _read_file(path: Path) -> dict[str, Mark]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
        marks = [Mark(**{**m, "origin": MarkOrigin(m.get("origin", MarkOrigin.REVIEW))})
                 for m in data["marks"]]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # Never drop marks silently: a pair would lose points nobody sees missing.
        raise ConfigError(f"cannot read the marks file ({exc.__class__.__name__}: {exc})",
                          path=path, hint="restore it from a backup or fix its JSON") from None
    return {m.question: m for m in marks}


def read_marks(results: Path, assignment: str, submission_id: str) -> dict[str, Mark]:
    """One submission's marks by question (cleared ones included)."""
    return _read_file(_path(results, assignment, submission_id))


def collect_marks(folders: list[Path], assignment: str) -> dict[str, dict[str, Mark]]:
    """Every submission's marks from any set of result folders; per question the later wins.

    A folder may be a results root (holding `<assignment>/`) or an assignment's folder itself,
    as for the results.
    """
    found: dict[str, dict[str, Mark]] = {}
    for folder in folders:
        where = marks_folder(folder, assignment)
        if not where.is_dir():
            continue
        for path in sorted(where.glob("*.json")):
            if path.name.startswith("."):
                continue
            mine = found.setdefault(path.stem, {})
            for question, mark in _read_file(path).items():
                mine[question] = later(mine.get(question), mark)
    return found


@contextlib.contextmanager
def _locked(results: Path, assignment: str) -> Iterator[None]:
    """One writer at a time per assignment (the gradebook and a review page may both write)."""
    folder = marks_folder(results, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def store_marks(results: Path, assignment: str, submission_id: str, marks: list[Mark]) -> None:
    """Merge `marks` into the submission's file: per question the later mark wins."""
    path = _path(results, assignment, submission_id)
    with _locked(results, assignment):
        current = _read_file(path)
        for mark in marks:
            current[mark.question] = later(current.get(mark.question), mark)
        document = {"schema_version": SCHEMA_VERSION, "assignment": assignment,
                    "submission_id": submission_id,
                    "marks": [asdict(current[q]) for q in sorted(current)]}
        with atomic_open(path) as fh:
            json.dump(document, fh, indent=2, ensure_ascii=False)
            fh.write("\n")


def write_mark(results: Path, assignment: str, submission_id: str, *, question: str, points: Any,
               max_points: float, origin: MarkOrigin | str = MarkOrigin.REVIEW,
               comment: str = "") -> Mark:
    """Check and store one mark now (what a review page calls when a TA types a mark)."""
    mark = make_mark(question, points, max_points=max_points, origin=origin, comment=comment)
    store_marks(results, assignment, submission_id, [mark])
    return mark


# ---------------------------------------------------------------- marks typed into grades.xlsx

@dataclass(frozen=True)
class TypedCell:
    """A manual cell of an earlier grades.xlsx, on one student's row."""

    submission_id: str  # the submission that row counts
    question: str
    student_id: str
    value: Any  # as read back: a number, text, or None for an empty cell


@dataclass(frozen=True)
class MarkProblem:
    """A typed mark that was not stored, or not as typed; the gradebook lists it."""

    submission_id: str
    question: str
    students: tuple[str, ...]
    code: str  # mark_conflict | mark_invalid | mark_unknown_question | mark_without_submission
    #            | mark_superseded
    message: str


@dataclass
class SheetDecision:
    marks: dict[str, list[Mark]]  # by submission id: the marks to store
    problems: list[MarkProblem]
    # Refused edits, to write back as typed so that nothing a TA typed is lost:
    # (submission id, question, student id) → the typed value.
    kept: dict[tuple[str, str, str], Any]


def _same(a: Any, b: Any) -> bool:
    try:
        x, y = parse_points(a), parse_points(b)
    except MarkError:
        return str(a).strip() == str(b).strip()
    return (x is None and y is None) or (x is not None and y is not None and abs(x - y) < 1e-9)


def decide_sheet_marks(cells: list[TypedCell], *, written: dict[tuple[str, str], Any] | None,
                       stored: dict[str, dict[str, Mark]],
                       max_points: dict[tuple[str, str], float], edited_at: str) -> SheetDecision:
    """What the marks typed into a gradebook change; pure.

    `written` is what the gradebook wrote in each (submission, question) cell last time: a cell
    that still holds it was not edited. `None` for a gradebook that did not record it (an older
    one): then every filled cell is an edit and an empty one is not. An edit is stored as the
    pair's mark, unless the two members' rows were edited to different values (a conflict: flagged,
    nothing stored), it is not a number within the question's points, or a mark stored later (a
    review page) supersedes it. Clearing a cell clears the mark.
    """
    by_key: dict[tuple[str, str], list[TypedCell]] = {}
    for cell in cells:
        by_key.setdefault((cell.submission_id, cell.question), []).append(cell)
    decision = SheetDecision({}, [], {})
    for (sid, question), typed in by_key.items():
        before = (written or {}).get((sid, question))
        if written is None:
            edits = [c for c in typed if parse_or_text(c.value) is not None]
        else:
            edits = [c for c in typed if not _same(c.value, before)]
        if not edits:
            continue
        students = tuple(c.student_id for c in edits)

        def refuse(code: str, message: str, edits=edits, sid=sid, question=question,
                   students=students) -> None:
            decision.problems.append(MarkProblem(sid, question, students, code, message))
            for c in edits:
                decision.kept[(sid, question, c.student_id)] = c.value

        if not sid:
            refuse("mark_without_submission",
                   "a mark typed in the row of a student with no submission: nothing to mark")
            continue
        if (sid, question) not in max_points:
            refuse("mark_unknown_question",
                   f"a mark typed for {question}, which submission {sid} does not have")
            continue
        values: list[Any] = []
        for c in edits:
            if not any(_same(c.value, v) for v in values):
                values.append(c.value)
        if len(values) > 1:
            shown = " and ".join(f"{c.student_id}: {_show(c.value)}" for c in edits)
            refuse("mark_conflict",
                   f"two different marks typed for one pair ({shown}); make the rows agree "
                   "(or clear one) and run the gradebook again")
            continue
        try:
            mark = make_mark(question, values[0], max_points=max_points[(sid, question)],
                             origin=MarkOrigin.XLSX, at=edited_at)
        except MarkError as exc:
            refuse("mark_invalid", f"typed mark {_show(values[0])} not stored: {exc}")
            continue
        old = stored.get(sid, {}).get(question)
        if (old is None and mark.cleared) or (old is not None and _same(old.points, mark.points)):
            continue
        if old is not None and when(old) > when(mark):
            decision.problems.append(MarkProblem(
                sid, question, students, "mark_superseded",
                f"{_show(values[0])} typed in the gradebook is older than the {old.origin} mark "
                f"{_show(old.points)} of {old.at}: the {old.origin} mark stands"))
            continue
        if old is not None and old.comment:
            mark = Mark(mark.question, mark.points, old.comment, mark.origin, mark.at)
        decision.marks.setdefault(sid, []).append(mark)
    return decision


def parse_or_text(value: Any) -> Any:
    """None for an empty cell, else the value (a non-number still counts as typed)."""
    try:
        return parse_points(value)
    except MarkError:
        return value


def _show(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)
