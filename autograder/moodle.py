"""Moodle's formats: the names in "Download all submissions", and the grading worksheet
("Download grading worksheet" gives submission times; the same file with grades filled in goes
back through "Upload grading worksheet").

Checked against Moodle's own source (moodle/moodle): mod/assign/locallib.php
`download_submissions` (entry names), mod/assign/gradingtable.php (the worksheet's columns when
downloading: Identifier, Full name, the site's identity fields, Status, [Group], [Marker], Grade,
Maximum Grade, [Marking workflow state], Grade can be changed, Last modified (submission), the
submission plugins' text fields, Last modified (grade), the feedback plugins' text fields such as
Feedback comments, [Outcomes]; dates written by `userdate()`), mod/assign/feedback/offline
(locallib.php, importgradeslib.php: the upload finds the columns Identifier, Grade and Last
modified (grade) by their translated names, strips the "Participant " prefix, skips empty or
unchanged grades, and refuses a row whose grade changed in Moodle after the download unless told
otherwise), lang/en/assign.php and the French language pack, dataformat/csv (UTF-8 with a BOM,
commas). Versions read: the assign module of Moodle 3.x (gradingtable.php before 3.11's
identity-field API, lang strings of 3.9–3.11) and the offline-grading plugin of Moodle 4.1
(version 2022112800), whose worksheet columns are unchanged since 2.x.
"""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .atomic import atomic_open
from .errors import ConfigError
from .results import SubmissionStatus
from .uploads import read_csv_text

# `<Full Name>_<participant>_assignsubmission_<plugin>_`: a folder ("download submissions in
# folders", the default since Moodle 3.1) or the prefix of each file's name. Moodle turns '_' in
# the name into spaces, keeps accents, and prefixes "<Group>-" for group submissions; with
# anonymous submissions the name is "Participant". The participant number is the one of the
# worksheet's Identifier column, not the student number: the team comes from the notebook.
ENTRY = re.compile(r"^(?P<person>.*)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$",
                   re.DOTALL)
MAX_WORKSHEET_MB = 20


@dataclass(frozen=True)
class MoodleName:
    person: str
    participant: str
    plugin: str  # file, onlinetext, comments...
    rest: str  # the file name the student gave, in a flat download; '' for a folder

    @property
    def prefix(self) -> str:
        return f"{self.person}_{self.participant}_assignsubmission_{self.plugin}_"


def moodle_name(name: str) -> MoodleName | None:
    match = ENTRY.match(unicodedata.normalize("NFC", name))
    if not match:
        return None
    return MoodleName(match["person"], match["pid"], match["plugin"], match["rest"])


# ---------------------------------------------------------------- the grading worksheet

# Each column's header in English and in French (Moodle writes them in the language of the user
# who downloads, and reads them back in the language of the user who uploads).
COLUMNS: dict[str, tuple[str, ...]] = {
    "identifier": ("Identifier", "Identifiant"),
    "full_name": ("Full name", "Nom complet"),
    "email": ("Email address", "Adresse de courriel", "Adresse courriel"),
    "id_number": ("ID number", "Numéro d'identification"),
    "status": ("Status", "Statut"),
    "grade": ("Grade", "Note"),
    "max_grade": ("Maximum Grade", "Maximum grade", "Note maximale"),
    "scale": ("Scale", "Barème"),
    "can_change": ("Grade can be changed", "La note peut être modifiée"),
    "submitted": ("Last modified (submission)", "Dernière modification (travail remis)"),
    "graded": ("Last modified (grade)", "Dernière modification (note)"),
    "feedback": ("Feedback comments", "Commentaires de feedback", "Feedback par commentaires"),
}
REQUIRED = ("identifier", "grade", "submitted", "graded")
NO = {"no", "non"}

MONTHS = {name: k for k, names in enumerate([
    ("january", "janvier"), ("february", "février", "fevrier"), ("march", "mars"),
    ("april", "avril"), ("may", "mai"), ("june", "juin"), ("july", "juillet"),
    ("august", "août", "aout"), ("september", "septembre"), ("october", "octobre"),
    ("november", "novembre"), ("december", "décembre", "decembre")], start=1) for name in names}
# userdate() with the language's strftimedaydatetime: "Monday, 12 October 2026, 11:59 PM" (en),
# "lundi 12 octobre 2026, 23:59" (fr); the day and the hour lose their leading zero.
DATE = re.compile(r"^\s*(?:[^\W\d_]+\.?,?\s+)?(?P<day>\d{1,2})\.?\s+(?P<month>[^\W\d_]+)\.?\s+"
                  r"(?P<year>\d{4}),?\s+(?:à\s+)?(?P<hour>\d{1,2})[:h](?P<minute>\d{2})"
                  r"(?:\s*(?P<ampm>[AaPp][Mm]))?\s*$")


@dataclass
class WorksheetRow:
    line: int  # in the file, for messages
    participant: str  # the number of "Participant 1234567"
    cells: list[str]
    submitted_at: datetime | None  # Last modified (submission); None for '-' (none)

    def get(self, sheet: Worksheet, role: str) -> str:
        at = sheet.columns.get(role)
        return self.cells[at].strip() if at is not None and at < len(self.cells) else ""


@dataclass
class Worksheet:
    path: Path
    header: list[str]
    columns: dict[str, int]  # role (see COLUMNS) → index
    rows: list[WorksheetRow]
    delimiter: str = ","
    decimal: str = "."  # how the worksheet writes numbers (format_float in the user's language)
    bom: bool = True

    def times(self) -> dict[str, datetime | None]:
        return {row.participant: row.submitted_at for row in self.rows}


def parse_moodle_date(text: str, *, timezone_name: str) -> datetime | None:
    """A date as userdate() writes it, in `timezone_name` (the zone of the Moodle account that
    downloaded the worksheet: its profile's timezone); None for '-' (nothing submitted).

    Moodle writes minutes, not seconds: a submission at 23:59:40 reads 23:59.
    """
    text = text.strip()
    if text in ("", "-"):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None:
        match = DATE.match(text)
        month = MONTHS.get(match["month"].lower()) if match else None
        if match is None or month is None:
            raise ValueError(text)
        hour = int(match["hour"])
        if match["ampm"]:
            if not 1 <= hour <= 12:
                raise ValueError(text)
            hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
        when = datetime(int(match["year"]), month, int(match["day"]), hour, int(match["minute"]))
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(timezone_name))


def looks_like_worksheet(header: list[str]) -> bool:
    return all(any(h.strip() in COLUMNS[role] for h in header) for role in REQUIRED)


def read_worksheet(path: Path, *, timezone_name: str) -> Worksheet:
    """Read Moodle's grading worksheet; a ConfigError names the line and the fix."""
    path = Path(path)
    text, bom = read_csv_text(path, what="the grading worksheet", limit_mb=MAX_WORKSHEET_MB,
                              hint="use the file as Moodle gives it, or save it as 'CSV UTF-8'")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        raise ConfigError("the grading worksheet is empty", path=path)
    header = rows[0]
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        for role, names in COLUMNS.items():
            if name.strip() in names and role not in columns:
                columns[role] = index
    missing = [COLUMNS[role][0] for role in REQUIRED if role not in columns]
    if missing:
        raise ConfigError(f"line 1: not a Moodle grading worksheet (no column {missing[0]!r})",
                          path=path, hint="download it from the assignment: View all submissions"
                                          " > Grading action > Download grading worksheet, with "
                                          "Moodle in English or French")
    sheet = Worksheet(path, header, columns, [], delimiter=delimiter, bom=bom)
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        identifier = cells[columns["identifier"]].strip() if len(cells) > columns[
            "identifier"] else ""
        # "Participant 1234567" (en), "Participant1234567" (fr): the number at the end.
        match = re.search(r"(\d+)\s*$", identifier)
        if not match:
            raise ConfigError(f"line {number}: identifier {identifier!r} has no participant "
                              "number", path=path, hint="use the worksheet as Moodle gives it")
        row = WorksheetRow(number, match[1], cells, None)
        try:
            row.submitted_at = parse_moodle_date(row.get(sheet, "submitted"),
                                                 timezone_name=timezone_name)
        except ValueError:
            raise ConfigError(
                f"line {number}: cannot read the date {row.get(sheet, 'submitted')!r}",
                path=path, hint="download the worksheet with Moodle in English or French, or "
                                "give the times in a manifest (see the README)") from None
        sheet.rows.append(row)
    sheet.decimal = _decimal(sheet)
    return sheet


def _decimal(sheet: Worksheet) -> str:
    """',' when the worksheet's numbers use a decimal comma ("20,00"): Moodle reads grades back
    with the uploading user's separators, and '.' would be a thousands separator in some."""
    for row in sheet.rows:
        for role in ("max_grade", "grade"):
            value = row.get(sheet, role)
            if re.fullmatch(r"\d+,\d+", value):
                return ","
            if re.fullmatch(r"\d+\.\d+", value):
                return "."
    return "."


def as_number(text: str) -> float | None:
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


# ---------------------------------------------------------------- grades back to Moodle

AUTOGRADER_NOTE = re.compile(r"\s*<p>Autograder: .*?</p>", re.DOTALL)


@dataclass(frozen=True)
class Mark:
    """A grade for one student, on the course's scale (`out_of`), with a one-line comment."""

    grade: float
    out_of: float
    comment: str


@dataclass
class FillReport:
    path: Path
    written: list[str] = field(default_factory=list)  # participants given a grade
    left: list[str] = field(default_factory=list)  # rows left as downloaded (no grade of ours)
    locked: list[str] = field(default_factory=list)  # "Grade can be changed: No"
    unmatched: list[str] = field(default_factory=list)  # worksheet rows matching no student
    feedback: bool = True  # whether the worksheet has a feedback comments column


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().casefold()


def match_students(sheet: Worksheet, students: list[dict]) -> dict[str, str]:
    """participant → student id, for the worksheet's rows: by email, by ID number, then by full
    name when exactly one roster student has it (`students`: dicts with student_id,
    first_name, last_name, email)."""
    by_email = {_norm(s["email"]): s["student_id"] for s in students if s.get("email")}
    by_id = {str(s["student_id"]): s["student_id"] for s in students}
    names: dict[str, list[str]] = {}
    for s in students:
        for full in (f"{s['first_name']} {s['last_name']}", f"{s['last_name']} {s['first_name']}"):
            names.setdefault(_norm(full), []).append(s["student_id"])
    out = {}
    for row in sheet.rows:
        email, number = _norm(row.get(sheet, "email")), row.get(sheet, "id_number")
        found = by_email.get(email) if email else None
        found = found or (by_id.get(number) if number else None)
        if not found:
            same = sorted(set(names.get(_norm(row.get(sheet, "full_name")), [])))
            found = same[0] if len(same) == 1 else None
        if found:
            out[row.participant] = found
    return out


def gradebook_mark(row: dict, assignment: str, points: float) -> Mark | None:
    """The mark a gradebook row (see gradebook.py: `<hw> status`, `<hw> grade`, `<hw> late
    days`, `<hw> penalty`) gives a student: only a graded submission gives one; no submission,
    rejected, error give none, so Moodle keeps what it has."""
    grade = row.get(f"{assignment} grade")
    if row.get(f"{assignment} status") != SubmissionStatus.GRADED or grade is None:
        return None
    comment = f"{grade:g}/{points:g}"
    late = row.get(f"{assignment} late days") or 0
    if late:
        penalty = row.get(f"{assignment} penalty") or 0
        comment += f"; {late} day{'s' if late > 1 else ''} late, -{penalty:.0%}"
    return Mark(float(grade), float(points), comment)


def grades_to_worksheet(*, worksheet: Path, rows: list[dict], assignment: str, points: float,
                        out: Path, timezone_name: str) -> FillReport:
    """The gradebook's rows (one per student) written into Moodle's grading worksheet of
    `assignment`: the entry point of "grades back to Moodle"."""
    sheet = read_worksheet(worksheet, timezone_name=timezone_name)
    students = [r for r in rows if r.get("last_name")]  # on the roster: Moodle knows them
    by_id = {r["student_id"]: r for r in students}
    marks = {}
    for participant, student in match_students(sheet, students).items():
        mark = gradebook_mark(by_id[student], assignment, points)
        if mark is not None:
            marks[participant] = mark
    return fill_worksheet(sheet, marks, out)


def fill_worksheet(sheet: Worksheet, marks: dict[str, Mark], out: Path) -> FillReport:
    """Write `sheet` back with Grade (and Feedback comments) filled for the participants in
    `marks`, rescaled to the worksheet's Maximum Grade and written with its decimal separator.

    Every other row and column stays as downloaded: a student without a mark (no submission,
    rejected) keeps whatever Moodle has, never a 0, and a comment typed in Moodle is kept (the
    autograder's paragraph is replaced on a second upload, not added again).
    """
    report = FillReport(Path(out), feedback="feedback" in sheet.columns)
    if "max_grade" not in sheet.columns:
        raise ConfigError("the assignment is graded with a scale in Moodle, not points",
                          path=sheet.path, hint="set Grade > Type to Point in the assignment's "
                                                "settings, then download the worksheet again")
    rows = [list(sheet.header)]
    for row in sheet.rows:
        cells = list(row.cells) + [""] * (len(sheet.header) - len(row.cells))
        mark = marks.get(row.participant)
        if mark is None:
            report.left.append(row.participant)
        elif row.get(sheet, "can_change").lower() in NO:
            report.locked.append(row.participant)
        else:
            top = as_number(row.get(sheet, "max_grade"))
            if not top or mark.out_of <= 0:
                raise ConfigError(f"line {row.line}: no Maximum Grade to scale the grade to",
                                  path=sheet.path, hint="use the worksheet as Moodle gives it")
            value = max(0.0, min(mark.grade, mark.out_of)) / mark.out_of * top
            cells[sheet.columns["grade"]] = f"{value:.2f}".replace(".", sheet.decimal)
            if report.feedback:
                at = sheet.columns["feedback"]
                kept = AUTOGRADER_NOTE.sub("", cells[at]).strip()
                note = f"<p>Autograder: {html.escape(mark.comment)}</p>"
                cells[at] = f"{kept}\n{note}" if kept else note
            report.written.append(row.participant)
        rows.append(cells)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=sheet.delimiter, lineterminator="\n").writerows(rows)
    with atomic_open(report.path, "w", encoding="utf-8-sig" if sheet.bom else "utf-8",
                     newline="", shared=True) as fh:
        fh.write(buffer.getvalue())
    return report
