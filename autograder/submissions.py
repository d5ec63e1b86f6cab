"""Find the submissions of one assignment: a folder, a Moodle download, or GitHub Classroom clones."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import subprocess
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import ConfigError, SubmissionError
from .notebook import Role, cells_of, read_notebook, read_team
from .results import REJECTED, SubmissionResult

MANIFEST_NAME = "manifest.csv"
MAX_NOTEBOOK_MB = 50
# Moodle's "Download all submissions": `<Full Name>_<participant id>_assignsubmission_file_` is a
# folder (option "download submissions in folders") or the prefix of each file's name. The
# participant id is Moodle's own, not the student number: the team comes from the notebook.
MOODLE = re.compile(r"^(?P<person>.*)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$",
                    re.DOTALL)
IGNORED = {"__MACOSX", MANIFEST_NAME, "README.md", "README.txt", "Thumbs.db"}


@dataclass(frozen=True)
class Submission:
    """One pair's submission as found on disk; `problem` says why it cannot be graded."""

    submission_id: str
    name: str  # the folder or file name it came in (roster ids there help a team-less notebook)
    source: str  # the notebook (or entry) path, relative to the submissions folder
    notebook: Path | None = None
    content_hash: str = ""
    submitted_at: datetime | None = None
    time_source: str = ""  # manifest | git | file
    team: list[str] = field(default_factory=list)  # from the team cell, read, never executed
    problem: str = ""
    hint: str = ""

    @property
    def gradable(self) -> bool:
        return not self.problem

    def rejected(self, assignment: str) -> SubmissionResult:
        reason = self.problem + (f" ({self.hint})" if self.hint else "")
        return SubmissionResult(
            assignment=assignment, submission_id=self.submission_id, status=REJECTED,
            reason=reason, team=list(self.team), content_hash=self.content_hash,
            submitted_at=self.submitted_at.isoformat() if self.submitted_at else None,
            source=self.source,
        )


# ---------------------------------------------------------------- pure parts: names and choices

def slug(text: str) -> str:
    """A file-system-safe id: accents dropped, anything else odd becomes '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-.")
    return out[:100] or "submission"


def moodle_entry(name: str) -> tuple[str, str, str, str] | None:
    """(person, participant id, plugin, rest of the name) of a Moodle download entry, else None."""
    match = MOODLE.match(name)
    if not match:
        return None
    return match["person"], match["pid"], match["plugin"], match["rest"]


def submission_id_for(name: str) -> str:
    moodle = moodle_entry(name)
    if moodle:
        person, pid, _, _ = moodle
        return f"{slug(person).lower()}_{pid}"
    if name.lower().endswith(".ipynb"):
        name = name[: -len(".ipynb")]
    return slug(name)


def unique_ids(names: list[str]) -> dict[str, str]:
    """Stable ids for entry names (sorted first, so the same folder always gives the same ids)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(names):
        base = submission_id_for(name)
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
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
    listed = ", ".join(sorted(candidates)[:5])
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


# ---------------------------------------------------------------- manifest and times

MANIFEST_ID_COLUMNS = ("submission_id", "submission", "id")


def read_manifest(path: Path, *, timezone_name: str) -> dict[str, datetime]:
    """submission id (or folder name) → submitted_at; a time without offset is the course's."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read the manifest: {exc.strerror}", path=path) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return {}
    header = [h.strip().lower() for h in rows[0]]
    id_col = next((header.index(c) for c in MANIFEST_ID_COLUMNS if c in header), None)
    if id_col is None or "submitted_at" not in header:
        raise ConfigError("line 1: the manifest needs columns submission_id and submitted_at",
                          path=path)
    at_col = header.index("submitted_at")
    tz = ZoneInfo(timezone_name)
    out: dict[str, datetime] = {}
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


def git_commit_time(folder: Path) -> datetime | None:
    """Time of the last commit of a cloned repository, or None."""
    if not (folder / ".git").exists():
        return None
    try:
        # The clone belongs to someone else: say it is safe for this one read-only command, and
        # keep its own config from starting programs (fsmonitor).
        done = subprocess.run(
            ["git", "-c", "safe.directory=*", "-c", "core.fsmonitor=false", "-C", str(folder),
             "log", "-1", "--format=%cI"],
            capture_output=True, text=True, timeout=30, check=False,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        return datetime.fromisoformat(done.stdout.strip()) if done.returncode == 0 else None
    except ValueError:
        return None


def file_time(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


# ---------------------------------------------------------------- reading what is on disk

def unpack_zip(archive: Path, into: Path, *, timezone_name: str) -> Path:
    """Extract a Moodle download; names that would escape the folder are skipped."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    root = into.resolve()
    tz = ZoneInfo(timezone_name)
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (root / info.filename).resolve()
                if not target.is_relative_to(root) or info.filename.startswith("/"):
                    continue
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                # Keep the archive's time: it is the file time if nothing better is known.
                stamp = datetime(*info.date_time, tzinfo=tz).timestamp()
                os.utime(target, (stamp, stamp))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"cannot read the zip archive: {exc}", path=archive) from None
    return root


def notebooks_under(folder: Path) -> list[str]:
    """Notebooks in a submission folder, relative paths; no links followed, no hidden folders."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
        for name in sorted(filenames):
            if name.lower().endswith(".ipynb") and not name.startswith("."):
                found.append(str((Path(dirpath) / name).relative_to(folder)))
    return found


def examine(notebook: Path) -> tuple[str, list[str], str, str]:
    """(content hash, team, problem, hint) of one notebook file; nothing in it is executed."""
    if notebook.is_symlink():
        return "", [], "the notebook is a symbolic link", "submit the .ipynb file itself"
    try:
        size = notebook.stat().st_size
    except OSError as exc:
        return "", [], f"cannot read the file: {exc.strerror}", ""
    if size > MAX_NOTEBOOK_MB * 1024 * 1024:
        return "", [], f"the notebook is larger than {MAX_NOTEBOOK_MB} MB", \
            "clear the outputs (Edit > Clear all outputs) and save again"
    raw = notebook.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        nb = read_notebook(notebook)
    except SubmissionError as exc:
        return digest, team_in_text(raw), exc.message, exc.hint
    team: list[str] = []
    for cell in cells_of(nb):
        if cell.role is Role.TEAM:
            team = read_team(cell.source) or []
            if team:
                break
    return digest, team, "", ""


@dataclass
class _Entry:
    name: str  # top-level name (folder, file, or Moodle prefix of flat files)
    folder: Path | None  # a folder to search, or None for loose files
    files: list[str]  # loose files (relative to the submissions folder)


def _entries(root: Path) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for child in sorted(root.iterdir()):
        if is_ignored(child.name):
            continue
        moodle = moodle_entry(child.name)
        if moodle and moodle[2] != "file":
            continue  # online text, comments: not a notebook submission
        if child.is_dir() and not child.is_symlink():
            entries[child.name] = _Entry(child.name, child, [])
        elif moodle and moodle[3]:
            # Flat Moodle download: one file per submitted file, grouped by participant.
            person, pid, plugin, _ = moodle
            key = f"{person}_{pid}_assignsubmission_{plugin}_"
            entries.setdefault(key, _Entry(key, None, [])).files.append(child.name)
        else:
            entries[child.name] = _Entry(child.name, None, [child.name])
    return list(entries.values())


def discover(submissions: Path, *, notebook_name: str, timezone_name: str = "UTC",
             manifest: Path | None = None, unpack_to: Path | None = None) -> list[Submission]:
    """Every submission under `submissions` (a folder or a Moodle .zip), sorted by id.

    Nothing here raises for a bad submission: it becomes a Submission with a `problem`. A
    ConfigError means the folder or the manifest itself is wrong.
    """
    submissions = Path(submissions)
    if submissions.is_file() and submissions.suffix.lower() == ".zip":
        target = unpack_to or submissions.with_suffix("")
        submissions = unpack_zip(submissions, target, timezone_name=timezone_name)
    if not submissions.is_dir():
        raise ConfigError("no such folder of submissions", path=submissions,
                          hint="pass a folder holding one file or folder per submission, "
                               "or a Moodle 'download all submissions' zip")
    if manifest is None and (submissions / MANIFEST_NAME).is_file():
        manifest = submissions / MANIFEST_NAME
    times = read_manifest(manifest, timezone_name=timezone_name) if manifest else {}

    entries = _entries(submissions)
    ids = unique_ids([e.name for e in entries])
    found = []
    for entry in entries:
        found.append(_submission(entry, ids[entry.name], submissions, notebook_name, times))
    return sorted(found, key=lambda s: s.submission_id)


def _submission(entry: _Entry, sid: str, root: Path, expected: str,
                times: dict[str, datetime]) -> Submission:
    if entry.folder is not None:
        candidates = [str(Path(entry.name) / p) for p in notebooks_under(entry.folder)]
    else:
        candidates = [f for f in entry.files if f.lower().endswith(".ipynb")]
    base = {"submission_id": sid, "name": entry.name}
    if not candidates and entry.folder is None:
        loose = entry.files[0]
        submitted_at, time_source = _time(entry, sid, root, None, times)
        return Submission(**base, source=loose, problem=f"not a notebook: {loose}",
                          hint=f"submit the .ipynb file ({expected})",
                          submitted_at=submitted_at, time_source=time_source)
    moodle = moodle_entry(entry.name)
    if moodle and entry.folder is None:
        # Compare the file names students gave, without Moodle's prefix.
        named = {moodle_entry(c)[3] if moodle_entry(c) else c: c for c in candidates}
        chosen_name, problem, hint = pick_notebook(sorted(named), expected)
        chosen = named.get(chosen_name) if chosen_name else None
    else:
        chosen, problem, hint = pick_notebook(candidates, expected)

    submitted_at, time_source = _time(entry, sid, root, chosen, times)
    if chosen is None:
        return Submission(**base, source=entry.name, problem=problem, hint=hint,
                          submitted_at=submitted_at, time_source=time_source)
    digest, team, problem, hint = examine(root / chosen)
    return Submission(**base, source=chosen, notebook=root / chosen, content_hash=digest,
                      submitted_at=submitted_at, time_source=time_source, team=team,
                      problem=problem, hint=hint)


def _time(entry: _Entry, sid: str, root: Path, chosen: str | None,
          times: dict[str, datetime]) -> tuple[datetime | None, str]:
    for key in (sid, entry.name, entry.name.removesuffix(".ipynb")):
        if key in times:
            return times[key], "manifest"
    if entry.folder is not None:
        when = git_commit_time(entry.folder)
        if when is not None:
            return when, "git"
    target = root / chosen if chosen else (entry.folder or root / entry.files[0])
    try:
        return file_time(target), "file"
    except OSError:
        return None, ""
