"""Find the submissions of one assignment: a folder, a Moodle download (zip or folder), GitHub
Classroom clones. Every file is data: read as a capped regular file, never run (no git, no unzip
program, no shell), and a broken one becomes a rejected Submission, never an exception."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from .archives import Group, name_problem, unpack
from .errors import ArchiveRefused, ConfigError, UploadRefused
from .moodle import moodle_name
from .notebook import Role, cells_of, read_team
from .results import SubmissionResult, SubmissionStatus
from .times import Times, TimeSource, read_times
from .uploads import kind_of, printable, read_upload

MANIFEST_NAME = "manifest.csv"
IGNORED = {"__MACOSX", MANIFEST_NAME, "README.md", "README.txt", "Thumbs.db", "desktop.ini"}
MAX_ID_CHARS, MAX_ID_BYTES = 80, 200  # the id names a result file: <id>.json


@dataclass(frozen=True)
class Submission:
    """One pair's submission as found on disk; `problem` says why it cannot be graded."""

    submission_id: str
    name: str  # the folder or file name it came in (roster ids there help a team-less notebook)
    source: str  # the notebook (or entry) path, relative to the submissions folder
    notebook: Path | None = None
    content_hash: str = ""
    submitted_at: datetime | None = None  # a trusted time only (see times.TRUSTED)
    time_source: str = ""  # a TimeSource: of submitted_at, else of `unverified_at`; "" if none
    unverified_at: datetime | None = None  # a date the files carry: shown, never decisive
    time_note: str = ""  # why there is no trusted time, when a file of times was given
    team: list[str] = field(default_factory=list)  # from the team cell, read, never executed
    problem: str = ""
    hint: str = ""

    @property
    def gradable(self) -> bool:
        return not self.problem

    def rejected(self, assignment: str) -> SubmissionResult:
        reason = self.problem + (f" ({self.hint})" if self.hint else "")
        return SubmissionResult(
            assignment=assignment, submission_id=self.submission_id,
            status=SubmissionStatus.REJECTED,
            reason=reason, team=list(self.team), content_hash=self.content_hash, source=self.source,
        )


# ---------------------------------------------------------------- pure parts: names and choices

def safe_id(text: str) -> str:
    """An id that can name a file and be read by a person: letters of any script (accents
    kept), digits, spaces, '.', '_' and '-'; anything else (a '/', a control character) is '-'."""
    text = unicodedata.normalize("NFC", text)
    out = "".join(c if c.isalnum() or c in "._-" else " " if c.isspace() else "-" for c in text)
    out = re.sub(r"-{2,}", "-", re.sub(r"\s+", " ", out)).strip(" .-")[:MAX_ID_CHARS]
    while len(out.encode()) > MAX_ID_BYTES:
        out = out[:-1]
    return out.strip(" .-") or "submission"


def submission_id_for(name: str) -> str:
    """Moodle's `Léa Martin_1234567_assignsubmission_file_` → `Léa Martin_1234567` (the name as
    Moodle shows it and the participant number of its grading worksheet); else the name."""
    moodle = moodle_name(name)
    if moodle:
        return safe_id(f"{moodle.person}_{moodle.participant}")
    for suffix in (".ipynb", ".zip"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return safe_id(name)


def unique_ids(names: list[str]) -> dict[str, str]:
    """Stable ids for entry names (sorted first, so the same folder always gives the same ids)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        base = submission_id_for(name)
        candidate, n = base, 2
        while candidate.casefold() in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate.casefold())
        ids[name] = candidate
    return ids


def pick_notebook(candidates: list[str], expected: str) -> tuple[str | None, str, str]:
    """(chosen relative path, problem, hint) among the notebooks found in one submission."""
    if not candidates:
        return None, "no notebook in the submission", f"submit {expected}"
    if len(candidates) == 1:
        return candidates[0], "", ""
    named = [c for c in candidates if Path(c).name == expected]
    if len(named) == 1:
        return named[0], "", ""
    listed = ", ".join(printable(c) for c in sorted(candidates)[:5])
    return None, f"several notebooks where one is expected: {listed}", f"submit only {expected}"


def team_in_text(raw: bytes) -> list[str]:
    """The ids of a `TEAM = [...]` line found in a file that is not a readable notebook (a
    truncated upload), so the pair's rows say 'rejected' rather than 'no submission'."""
    match = re.search(rb"TEAM\s*=\s*\[([^\]\n]{0,200})\]", raw)
    if not match:
        return []
    inside = match[1].decode("utf-8", "replace").replace('\\"', '"')  # JSON escapes the quotes
    ids = [a or b for a, b in re.findall(r'"([^"]*)"|\'([^\']*)\'', inside)]
    return [i.strip() for i in ids if i.strip() and not i.strip().startswith("<")][:10]


def is_ignored(name: str) -> bool:
    return name.startswith(".") or name in IGNORED


def is_notebook(path: str) -> bool:
    parts = path.split("/")
    return path.lower().endswith(".ipynb") and not any(p.startswith(".") for p in parts) \
        and "__MACOSX" not in parts


def is_zip(path: str) -> bool:
    parts = path.split("/")
    return path.lower().endswith(".zip") and not any(p.startswith(".") for p in parts) \
        and "__MACOSX" not in parts


def archive_group(path: str) -> str:
    """Which submission an entry of a top-level zip belongs to ('' for none): its top folder,
    or, in Moodle's flat download, the participant's prefix of the file name."""
    top = path.split("/", 1)[0]
    if is_ignored(top):
        return ""
    moodle = moodle_name(top)
    if moodle and moodle.plugin != "file":
        return ""  # online text, comments: not a notebook submission
    if moodle and moodle.rest and "/" not in path:
        return moodle.prefix
    return top


def parse_notebook(raw: bytes) -> tuple[list[str], str, str]:
    """(team, problem, hint) of a notebook's bytes; nothing in it is executed."""
    if not raw.strip():
        return [], "the file is empty", "save the notebook in Jupyter before submitting"
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        return [], "not a text file (is it a notebook?)", "submit the .ipynb file itself"
    except Exception as exc:  # noqa: BLE001 - nbformat raises several types for malformed JSON
        return team_in_text(raw), f"not a valid notebook: {printable(str(exc).splitlines()[0])}", \
            "open it in Jupyter and save it again, or submit the .ipynb file itself"
    if not isinstance(nb.get("cells"), list):
        return [], "not a valid notebook: no list of cells", "submit the .ipynb file itself"
    for cell in cells_of(nb):
        if cell.role is Role.TEAM:
            team = read_team(cell.source) or []
            if team:
                return team, "", ""
    return [], "", ""


def resolve_time(times: Times | None, listed: tuple[bool, datetime | None],
                 fallback: tuple[datetime | None, str]) -> tuple[datetime | None, str,
                                                                 datetime | None, str]:
    """(trusted time, its source, unverified date, note): a trusted time only from the file of
    times; otherwise the date the files carry, kept as unverified."""
    found, when = listed
    if times is not None and found and when is not None:
        return when, times.source, None, ""
    unverified, source = fallback
    note = ""
    if times is not None:
        note = (f"{times.described} has no submission time for it" if found
                else f"it is not in {times.described}")
    return None, source if unverified else "", unverified, note


# ---------------------------------------------------------------- reading what is on disk

@dataclass
class _Entry:
    """One submission as found: a folder, a loose file, or a group of an archive."""

    name: str  # top-level name (folder, file, or Moodle prefix of flat files)
    root: Path  # the folder its `files` are relative to (submissions folder or extraction)
    files: list[str]  # every file of the submission, relative to `root`, '/'-separated
    readable: set[str] | None = None  # those that may be read (an archive's extracted ones)
    dates: dict[str, datetime] = field(default_factory=dict)  # archive dates, by file
    problem: str = ""


def _walk(root: Path, top: str) -> list[str]:
    """Every file below root/top, relative to root: links listed (refused when read), never
    followed; hidden folders (.git, .ipynb_checkpoints) not entered."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root / top, followlinks=False):
        rel = Path(dirpath).relative_to(root).as_posix()
        found += [f"{rel}/{d}" for d in dirnames if (Path(dirpath) / d).is_symlink()]
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d)
                             and not (Path(dirpath) / d).is_symlink())
        found += [f"{rel}/{name}" for name in sorted(filenames) if not is_ignored(name)]
    return found


def _folder_entries(root: Path, skip: set[Path]) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for child in sorted(os.scandir(root), key=lambda e: e.name):
        if is_ignored(child.name) or Path(child.path) in skip:
            continue
        moodle = moodle_name(child.name)
        if moodle and moodle.plugin != "file":
            continue  # online text, comments: not a notebook submission
        if child.is_symlink():
            entries[child.name] = _Entry(child.name, root, [], problem=(
                f"{printable(child.name)} is a symbolic link, not a file or a folder"))
        elif child.is_dir(follow_symlinks=False):
            entries[child.name] = _Entry(child.name, root, _walk(root, child.name))
        elif moodle and moodle.rest:
            # Flat Moodle download: one file per submitted file, grouped by participant.
            entries.setdefault(moodle.prefix, _Entry(moodle.prefix, root, [])).files.append(
                child.name)
        else:
            entries[child.name] = _Entry(child.name, root, [child.name])
    for entry in entries.values():  # the names an archive's entries may not have, here too
        odd = "" if entry.problem else next((p for p in map(name_problem, entry.files) if p), "")
        entry.problem = entry.problem or (odd and f"the file {odd}")
    return list(entries.values())


def _archive_entries(unpacked_groups: dict[str, Group], root: Path) -> list[_Entry]:
    return [_Entry(g.name, root, g.files, set(g.extracted), g.dates,
                   f"the archive's entry {g.problem}" if g.problem else "")
            for g in unpacked_groups.values()]


def discover(submissions: Path, *, notebook_name: str, timezone_name: str = "UTC",
             manifest: Path | None = None, unpack_to: Path | None = None) -> list[Submission]:
    """Every submission under `submissions` (a folder or a zip, e.g. Moodle's "Download all
    submissions"), sorted by id. `manifest`: a file of submission times (a manifest, Moodle's
    grading worksheet or GitHub Classroom's grades CSV; default SUBMISSIONS/manifest.csv).
    Archives are extracted under `unpack_to`, which this call empties first.

    A bad submission becomes a Submission with a `problem`. A ConfigError means the folder, the
    archive as a whole or the file of times is wrong, or there is no submission at all.
    """
    submissions = Path(submissions)
    work = Path(unpack_to) if unpack_to else submissions.parent / f".{submissions.name}.unpacked"
    if work.exists():
        shutil.rmtree(work)
    try:
        mode = os.stat(submissions).st_mode
    except OSError:
        raise ConfigError("no such folder of submissions", path=submissions,
                          hint="pass a folder holding one file or folder per submission, "
                               "or a Moodle 'Download all submissions' zip") from None
    skip = {Path(manifest)} if manifest else set()
    if stat.S_ISREG(mode) and submissions.suffix.lower() == ".zip":
        entries = _unpack_top(submissions, work / "archive")
    elif stat.S_ISDIR(mode):
        entries = _folder_entries(submissions, skip)
        if manifest is None and (submissions / MANIFEST_NAME).is_file():
            manifest = submissions / MANIFEST_NAME
    else:
        raise ConfigError(f"not a folder or a zip archive ({kind_of(mode)})", path=submissions,
                          hint="pass a folder holding one file or folder per submission, "
                               "or a Moodle 'Download all submissions' zip")
    if not entries:
        raise ConfigError(
            "no submission found", path=submissions,
            hint="looked for one notebook, folder or zip per submission, or a Moodle download "
                 f"(`Full Name_1234567_assignsubmission_file_`); names ignored: "
                 f"{', '.join(sorted(IGNORED))} and hidden files")
    times = read_times(manifest, timezone_name=timezone_name) if manifest else None
    ids = unique_ids([e.name for e in entries])
    found = [_submission(entry, ids[entry.name], notebook_name, times, work / "nested")
             for entry in entries]
    return sorted(found, key=lambda s: s.submission_id)


def _unpack_top(archive: Path, into: Path) -> list[_Entry]:
    try:
        unpacked = unpack(archive, into, group_of=archive_group,
                          wanted=lambda p: is_notebook(p) or is_zip(p))
    except (ArchiveRefused, UploadRefused) as exc:
        raise ConfigError(exc.reason, path=archive, hint="download the archive again") from None
    entries = _archive_entries(unpacked.groups, unpacked.root)
    if entries and not any(is_notebook(f) or is_zip(f) or "/" in f
                           for e in entries for f in e.files):
        # Loose files and no notebook anywhere: one pair's zip without its notebook, not a
        # class of loose files.
        every = sorted(f for e in entries for f in e.files)
        problem = "" if not any(e.problem for e in entries) else next(
            e.problem for e in entries if e.problem)
        return [_Entry(archive.name, unpacked.root, every, set(), {}, problem)]
    return entries


def _submission(entry: _Entry, sid: str, expected: str, times: Times | None,
                nested: Path) -> Submission:
    base: dict[str, Any] = {"submission_id": sid, "name": entry.name}
    listed = times.lookup(entry.name, sid) if times else (False, None)

    def rejected(source: str, problem: str, hint: str = "", *, team=(), digest="",
                 date: tuple[datetime | None, str] | None = None) -> Submission:
        date = date or _first_date(entry)
        at, how, unverified, note = resolve_time(times, listed, date)
        return Submission(**base, source=source, problem=problem, hint=hint, team=list(team),
                          content_hash=digest, submitted_at=at, time_source=how,
                          unverified_at=unverified, time_note=note)

    if entry.problem:
        return rejected(entry.name, entry.problem, "submit the notebook file itself, or a plain "
                                                   "zip of it")
    # (path shown in `source`, path on disk, root it lies below, date in an archive)
    notebooks = [(f, entry.root / f, entry.root, entry.dates.get(f)) for f in entry.files
                 if is_notebook(f)]
    zips = [f for f in entry.files if is_zip(f)]
    opened: list[str] = []  # what the zips held, for the message when there is no notebook
    if not notebooks and zips:
        for k, name in enumerate(zips[:5]):
            where = nested / sid / str(k)
            try:
                inner = unpack(entry.root / name, where, under=entry.root,
                               group_of=lambda _: "zip", wanted=is_notebook).groups.get("zip")
            except (ArchiveRefused, UploadRefused, OSError) as exc:
                reason = exc.reason if isinstance(exc, UploadRefused) else printable(str(exc))
                return rejected(name, reason, "submit the notebook file itself, or a plain zip")
            if inner is None:
                opened.append(f"{printable(_inside(entry, name))} is empty")
                continue
            if inner.problem:
                return rejected(name, f"{printable(name)}: {inner.problem}",
                                "submit the notebook file itself, or a plain zip of it")
            opened.append(f"{printable(_inside(entry, name))} holds {_listing(inner.files)}")
            notebooks += [(f"{name}/{f}", where / f, where, inner.dates.get(f))
                          for f in inner.files if is_notebook(f)]
    if not notebooks:
        one = entry.files[0] if len(entry.files) == 1 and "/" not in entry.files[0] else ""
        flat = moodle_name(one) if one else None
        if entry.files == [entry.name] or (flat and flat.rest and not opened):  # a loose file
            shown_name = flat.rest if flat else entry.name
            return rejected(entry.files[0], f"not a notebook: {printable(shown_name)}",
                            f"submit the .ipynb file ({expected})")
        what = "; ".join(opened) if opened else (
            f"it holds {_listing([_inside(entry, f) for f in entry.files])}" if entry.files
            else "it is empty")
        return rejected(entry.name, f"no notebook in {printable(entry.name)}: {what}",
                        f"submit {expected}")

    moodle = moodle_name(entry.name)
    shown = {}
    for item in notebooks:
        named = moodle_name(item[0]) if moodle and "/" not in item[0] else None
        shown[named.rest if named else item[0]] = item  # compare the names students gave
    chosen_name, problem, hint = pick_notebook(sorted(shown), expected)
    if chosen_name is None:
        return rejected(entry.name, problem, hint)
    source, path, root, date = shown[chosen_name]
    fallback = (date, TimeSource.ARCHIVE_DATE) if date else None
    if entry.readable is not None and source in entry.files and source not in entry.readable:
        return rejected(source, f"{printable(source)} was not extracted", date=fallback)
    try:
        upload = read_upload(path, under=root)
    except UploadRefused as exc:
        return rejected(source, exc.reason, exc.hint, date=fallback)
    except OSError as exc:
        return rejected(source, f"cannot read the file: {exc.strerror}", date=fallback)
    digest = hashlib.sha256(upload.data).hexdigest()
    team, problem, hint = parse_notebook(upload.data)
    at, how, unverified, note = resolve_time(times, listed,
                                             fallback or (upload.modified, TimeSource.FILE_DATE))
    return Submission(**base, source=source, notebook=path, content_hash=digest, submitted_at=at,
                      time_source=how, unverified_at=unverified, time_note=note, team=team,
                      problem=problem, hint=hint)


def _inside(entry: _Entry, path: str) -> str:
    """A file's path within its submission's folder, as the student named it."""
    return path.removeprefix(entry.name + "/")


def _first_date(entry: _Entry) -> tuple[datetime | None, str]:
    for name in sorted(entry.dates):
        return entry.dates[name], TimeSource.ARCHIVE_DATE
    return None, ""


def _listing(files: list[str], limit: int = 4) -> str:
    if not files:
        return "nothing"
    names = [printable(f, 60) for f in files[:limit]]
    return ", ".join(names) + (f" and {len(files) - limit} more" if len(files) > limit else "")
