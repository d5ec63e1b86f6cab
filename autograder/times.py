"""Where a submission's time comes from, and which times may decide a late penalty.

Trusted times are recorded by something the student does not control: the instructor's manifest,
Moodle (its grading worksheet), GitHub Classroom (its grades CSV). Dates found in the submission
itself (a zip entry's date, a file's mtime, a commit inside an uploaded `.git`) are set by
whoever made the files: they are kept apart, shown, flagged, and never decide a penalty.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .moodle import looks_like_worksheet, moodle_name, read_worksheet
from .strenum import StrEnum
from .uploads import read_csv_text


class TimeSource(StrEnum):
    """Where a submission's time came from (a result's `submitted_at_source`)."""

    MANIFEST = "manifest"  # the instructor's manifest.csv
    LMS = "lms"  # Moodle's grading worksheet
    CLASSROOM = "classroom"  # GitHub Classroom's grades CSV
    FILE_DATE = "file date"  # the uploaded file's modification time
    ARCHIVE_DATE = "archive date"  # the date of a zip entry


TRUSTED = frozenset({TimeSource.MANIFEST, TimeSource.LMS, TimeSource.CLASSROOM})
# Read from the upload: whoever made the files sets them.
UNTRUSTED = frozenset({TimeSource.FILE_DATE, TimeSource.ARCHIVE_DATE})
TIME_UNVERIFIED = "time_unverified"  # flag: no trusted submission time, no late penalty, said so

MANIFEST_ID_COLUMNS = ("submission_id", "submission", "id")
# GitHub Classroom's grades export (assignment page > Download > Grades; the same fields as the
# REST API's GET /assignments/{id}/grades): submission_timestamp is when Classroom recorded the
# student's submission, i.e. their last push.
CLASSROOM_COLUMNS = ("student_repository_name", "submission_timestamp")
MAX_TIMES_MB = 20


@dataclass
class Times:
    """Submission times from one file, by key (a submission id or folder name, a Moodle
    participant number, a GitHub repository name). A key mapped to None is listed without a
    time (Moodle's '-': nothing submitted there)."""

    source: TimeSource  # manifest | lms | classroom
    path: Path
    by_key: dict[str, datetime | None]

    @property
    def described(self) -> str:
        what = {TimeSource.MANIFEST: "the manifest", TimeSource.LMS: "the Moodle grading worksheet",
                TimeSource.CLASSROOM: "GitHub Classroom's grades CSV"}[self.source]
        return f"{what} {self.path.name}"

    def keys_for(self, name: str, submission_id: str) -> list[str]:
        if self.source == TimeSource.LMS:
            moodle = moodle_name(name)
            return [moodle.participant] if moodle else []
        if self.source == TimeSource.CLASSROOM:
            return [name]
        bare = [name.removesuffix(suffix) for suffix in (".ipynb", ".zip") if name.endswith(suffix)]
        return [submission_id, name, *bare]

    def lookup(self, name: str, submission_id: str) -> tuple[bool, datetime | None]:
        """(listed, time) for a submission found under `name` with id `submission_id`."""
        for key in self.keys_for(name, submission_id):
            if key in self.by_key:
                return True, self.by_key[key]
        return False, None


def read_times(path: Path, *, timezone_name: str) -> Times:
    """Read a manifest, a Moodle grading worksheet or a GitHub Classroom grades CSV, told apart
    by their columns."""
    path = Path(path)
    text = read_csv_text(path, what="the file of times", limit_mb=MAX_TIMES_MB)[0]
    first = text.split("\n", 1)[0]
    header = next(csv.reader([first], delimiter=max((",", ";", "\t"), key=first.count)), [])
    names = [h.strip().lower() for h in header]
    if looks_like_worksheet(header):
        sheet = read_worksheet(path, timezone_name=timezone_name)
        return Times(TimeSource.LMS, path, sheet.times())
    if all(c in names for c in CLASSROOM_COLUMNS):
        return Times(TimeSource.CLASSROOM, path, read_classroom(text, path))
    if "submitted_at" in names and any(c in names for c in MANIFEST_ID_COLUMNS):
        return Times(TimeSource.MANIFEST, path,
                     read_manifest(text, path, timezone_name=timezone_name))
    raise ConfigError(
        "line 1: not a file of submission times", path=path,
        hint="give a manifest (columns submission_id,submitted_at), Moodle's grading worksheet "
             "(Download grading worksheet) or GitHub Classroom's grades CSV")


def read_manifest(text: str, path: Path, *, timezone_name: str) -> dict[str, datetime | None]:
    """submission id (or folder name) → submitted_at; a time without offset is the course's."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    id_col = next((header.index(c) for c in MANIFEST_ID_COLUMNS if c in header), None)
    if id_col is None or "submitted_at" not in header:
        raise ConfigError("line 1: the manifest needs columns submission_id and submitted_at",
                          path=path)
    at_col = header.index("submitted_at")
    tz = ZoneInfo(timezone_name)
    out: dict[str, datetime | None] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            key, value = row[id_col].strip(), row[at_col].strip()
            when = datetime.fromisoformat(value)
        except (IndexError, ValueError):
            raise ConfigError(f"line {number}: expected an id and an ISO date-time", path=path,
                              hint="write times as 2026-10-12T23:59:00+02:00") from None
        out[key] = when if when.tzinfo else when.replace(tzinfo=tz)
    return out


def parse_classroom_time(text: str) -> datetime | None:
    """GitHub's timestamps: '2026-10-12T21:30:00Z', '2026-10-12 21:30:00 UTC'; UTC unless an
    offset says otherwise; '' when nothing was submitted."""
    text = text.strip()
    if not text:
        return None
    text = re.sub(r"\s*(UTC|GMT|Z)$", "+00:00", text)
    when = datetime.fromisoformat(text.replace(" +", "+").replace(" -", "-"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_classroom(text: str, path: Path) -> dict[str, datetime | None]:
    """student repository name (the folder `gh classroom clone student-repos` makes) → the
    submission time GitHub Classroom recorded; also keyed by the GitHub user name."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out: dict[str, datetime | None] = {}
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            when = parse_classroom_time(row.get("submission_timestamp", ""))
        except ValueError:
            raise ConfigError(f"line {number}: cannot read the submission_timestamp "
                              f"{row.get('submission_timestamp')!r}", path=path,
                              hint="use the grades CSV as GitHub Classroom gives it") from None
        for key in (row.get("student_repository_name"), row.get("github_username")):
            if key:
                out.setdefault(key, when)
    return out
