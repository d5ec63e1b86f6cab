"""The class roster (roster.csv) and the team checks run over a whole batch of results."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .results import Flag, SubmissionResult, SubmissionStatus

REQUIRED_COLUMNS = ("student_id", "last_name", "first_name", "email")

# Flags this module owns: removed and recomputed each time the checks run over a batch.
TEAM_FLAG_CODES = ("unknown_student", "student_in_two_teams", "team_too_large", "no_team_cell",
                   "team_from_folder_name")


@dataclass(frozen=True)
class Student:
    student_id: str
    last_name: str
    first_name: str
    email: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Roster:
    students: dict[str, Student]  # by student id, in file order
    path: Path | None = None

    def __contains__(self, student_id: object) -> bool:
        return student_id in self.students

    def __len__(self) -> int:
        return len(self.students)

    def get(self, student_id: str) -> Student | None:
        return self.students.get(student_id)


def load_roster(path: Path | str) -> Roster:
    """Read roster.csv (comma or semicolon, UTF-8 with or without BOM); a ConfigError names the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("roster file not found", path=path,
                          hint="set course.roster in course.toml or create roster.csv") from None
    except UnicodeDecodeError:
        raise ConfigError("the roster is not UTF-8 text", path=path,
                          hint="export it from the spreadsheet as 'CSV UTF-8'") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ConfigError("the roster is empty", path=path,
                          hint=f"line 1 must name the columns: {','.join(REQUIRED_COLUMNS)}")
    # A spreadsheet saved in a French locale writes semicolons.
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"line 1: missing column {missing[0]!r}", path=path,
                          hint=f"line 1 must name the columns: {','.join(REQUIRED_COLUMNS)}")
    at = {name: header.index(name) for name in REQUIRED_COLUMNS}
    students: dict[str, Student] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ConfigError(f"line {number}: {len(row)} columns, expected {len(header)}",
                              path=path, hint="check for a missing separator on that line")
        values = {name: row[i].strip() for name, i in at.items()}
        sid = values["student_id"]
        if not sid:
            raise ConfigError(f"line {number}: empty student_id", path=path)
        if sid in students:
            raise ConfigError(f"line {number}: student_id {sid} appears twice", path=path,
                              hint="each student has one line")
        students[sid] = Student(**values)
    return Roster(students, path)


@dataclass(frozen=True)
class TeamCheck:
    """The team a submission is credited to, and the flags the checks raise on it."""

    team: list[str]
    flags: list[Flag]


def ids_in_name(name: str, roster: Roster) -> list[str]:
    """Roster ids written in a folder or file name, e.g. `21900101_21900102`."""
    found = []
    for token in re.split(r"[^0-9A-Za-z]+", name):
        if token in roster and token not in found:
            found.append(token)
    return found


def check_teams(results: list[SubmissionResult], roster: Roster, *, team_size: int,
                names: dict[str, str] | None = None) -> dict[str, TeamCheck]:
    """Team checks over a batch, by submission id; pure, nothing is changed in `results`.

    `names` gives, per submission id, the folder or file name the submission came in: where the
    notebook has no team cell, roster ids written there are used. A student in several submissions
    is flagged on every one of them; all are still graded.
    """
    names = names or {}
    checks: dict[str, TeamCheck] = {}
    for result in results:
        sid = result.submission_id
        team = list(dict.fromkeys(t.strip() for t in result.team if t.strip()))
        flags: list[Flag] = []
        if not team:
            guessed = ids_in_name(names.get(sid, "") + " " + sid, roster)
            if result.status != SubmissionStatus.REJECTED:
                flags.append(Flag("no_team_cell", "no TEAM = [...] cell with student ids"))
            if guessed:
                team = guessed
                flags.append(Flag("team_from_folder_name",
                                  f"team taken from the submission's name: {', '.join(guessed)}"))
        for student in team:
            if student not in roster:
                flags.append(Flag("unknown_student", f"{student} is not on the roster"))
        if len(team) > team_size:
            flags.append(Flag("team_too_large",
                              f"{len(team)} students in the team, at most {team_size} allowed"))
        checks[sid] = TeamCheck(team, flags)

    where: dict[str, list[str]] = defaultdict(list)
    for sid, check in checks.items():
        for student in check.team:
            where[student].append(sid)
    for student, sids in where.items():
        if len(sids) > 1:
            for sid in sids:
                others = ", ".join(s for s in sids if s != sid)
                checks[sid].flags.append(Flag(
                    "student_in_two_teams", f"{student} is also in submission {others}"))
    return checks


def apply_team_checks(results: list[SubmissionResult], checks: dict[str, TeamCheck]) -> list[str]:
    """Write the checks' flags into the results; returns the ids whose flags changed.

    `result.team` stays what the notebook said, so the checks give the same answer when they run
    again over stored results (the gradebook reruns them over every shard's results).
    """
    changed = []
    for result in results:
        check = checks.get(result.submission_id)
        if check is None:
            continue
        before = [(f.code, f.message) for f in result.flags]
        result.flags = [f for f in result.flags if f.code not in TEAM_FLAG_CODES]
        for flag in check.flags:
            result.flag(flag.code, flag.message)
        if before != [(f.code, f.message) for f in result.flags]:
            changed.append(result.submission_id)
    return changed
