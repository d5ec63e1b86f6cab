"""Unpack a zip of submissions as data: every entry checked before a byte is extracted, sizes
capped while extracting, and a broken entry rejects its own submission, never the batch.

No unzip program runs: Python's zipfile reads the archive, and only the entries the grader needs
(notebooks, and the zips students put around them) are written, each with O_EXCL|O_NOFOLLOW
into a folder the grader made. The entries of an archive are grouped (one group per
submission: a top-level folder, or a Moodle participant's files); a group with one bad entry
(a link, a special file, a path that climbs out, a file that is also a folder, a name with
control characters, a zip bomb, a corrupt or encrypted entry) is rejected whole, with the reason.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .errors import ArchiveRefused
from .uploads import MAX_FILE_MB, MIB, kind_of, open_regular, printable

MAX_ENTRY_MB = MAX_FILE_MB  # one extracted file
MAX_GROUP_MB = 200  # everything extracted for one submission
MAX_ARCHIVE_MB = 8192  # everything extracted from one archive (a class of 200 pairs fits)
MAX_RATIO = 200  # uncompressed / compressed size of one entry past 1 MB: notebooks reach ~20
MAX_ENTRIES = 50_000
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 1024  # what Linux allows for a name and a path
SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
UTF8_FLAG, ENCRYPTED_FLAG = 0x800, 0x1
EXTENDED_TIMESTAMP = 0x5455  # "UT" extra field: the modification time as UTC seconds


@dataclass(frozen=True)
class Member:
    """One entry as the archive's central directory describes it; nothing read yet."""

    name: str  # '/'-separated, NFC, as the student or Moodle named it
    raw_name: str  # as stored (may hold a NUL byte, which zipfile itself would cut)
    is_dir: bool
    size: int  # uncompressed, as declared (checked again while extracting)
    compressed: int
    mode: int  # Unix file type and permissions, 0 when the zip was not made on Unix
    encrypted: bool = False
    method: int = zipfile.ZIP_DEFLATED
    modified: datetime | None = None  # the entry's date, UTC (see entry_date)

    @property
    def path(self) -> str:
        return self.name.rstrip("/")


@dataclass
class Group:
    """The entries of one submission and what became of them."""

    name: str
    files: list[str] = field(default_factory=list)  # every file entry, as named in the archive
    extracted: list[str] = field(default_factory=list)  # those written under Unpacked.root
    dates: dict[str, datetime] = field(default_factory=dict)  # file → date in the archive
    problem: str = ""


@dataclass
class Unpacked:
    root: Path
    groups: dict[str, Group]


# ---------------------------------------------------------------- reading the directory (pure)

def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author meant it: zips without the UTF-8 flag were often written
    in UTF-8 anyway (macOS, Moodle), which zipfile decodes as cp437 ('LÃ©a'); backslashes of
    old Windows tools are separators; NFC so one name has one spelling."""
    name = info.orig_filename
    if not info.flag_bits & UTF8_FLAG:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def entry_date(info: zipfile.ZipInfo) -> datetime | None:
    """The entry's time in UTC: the extended-timestamp field when the zip has one (true UTC),
    else the DOS date, which carries no zone (the zone of the machine that wrote the zip is
    unknown), read as UTC. Either way the date is set by whoever made the files."""
    extra = info.extra or b""
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4: at + 4 + size]
        if tag == EXTENDED_TIMESTAMP and len(body) >= 5 and body[0] & 1:
            return datetime.fromtimestamp(struct.unpack_from("<I", body, 1)[0], tz=UTC)
        at += 4 + size
    try:
        return datetime(*info.date_time, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def member_of(info: zipfile.ZipInfo) -> Member:
    name = entry_name(info)
    mode = (info.external_attr >> 16) if info.create_system == 3 else 0
    return Member(name=name, raw_name=info.orig_filename,
                  is_dir=name.endswith("/") or stat.S_ISDIR(mode), size=info.file_size,
                  compressed=info.compress_size, mode=mode,
                  encrypted=bool(info.flag_bits & ENCRYPTED_FLAG), method=info.compress_type,
                  modified=entry_date(info))


ODD_CATEGORIES = {"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"}  # controls, bidi overrides, unassigned


def name_problem(name: str, raw_name: str | None = None) -> str:
    """Why a file's name (a '/'-separated path) is unacceptable in a submission, or ''."""
    raw_name = name if raw_name is None else raw_name
    shown = printable(raw_name)
    if "\x00" in raw_name:
        return f"{shown}: a file name with a NUL byte"
    if any(unicodedata.category(c) in ODD_CATEGORIES for c in name):
        return f"{shown}: a file name with control or invisible characters"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"{shown}: an absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return f"{shown}: a path that climbs out of its folder (..)"
    if any(p in ("", ".") for p in parts):
        return f"{shown}: an empty or '.' path component"
    if any(len(p.encode()) > MAX_NAME_BYTES for p in parts) or len(name.encode()) > MAX_PATH_BYTES:
        return f"{shown}: a file name longer than the file system allows"
    return ""


def entry_problem(member: Member) -> str:
    """Why this entry makes its submission unreadable, or ''. Checks the name and the kind of
    file; sizes are checked only for what will be extracted (see size_problem)."""
    shown = printable(member.raw_name)
    named = name_problem(member.name, member.raw_name)
    if named:
        return named
    kind = stat.S_IFMT(member.mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return f"{shown}: {kind_of(member.mode)} in the archive"
    if member.is_dir and member.size:
        return f"{shown}: a folder entry with content"
    if member.encrypted:
        return f"{shown}: a password-protected entry"
    if member.method not in SUPPORTED:
        return f"{shown}: compressed with a method zipfile cannot read ({member.method})"
    return ""


def size_problem(member: Member) -> str:
    """Why this entry must not be extracted, judged from its declared sizes."""
    shown = printable(member.name)
    if member.size > MAX_ENTRY_MB * MIB:
        return (f"{shown}: {member.size // MIB} MB once extracted, more than the "
                f"{MAX_ENTRY_MB} MB allowed for one file")
    if member.size > MIB and member.size > MAX_RATIO * max(member.compressed, 1):
        ratio = member.size // max(member.compressed, 1)
        return f"{shown}: compressed {ratio}:1, more than {MAX_RATIO}:1 (a zip bomb)"
    return ""


def layout_problem(members: list[Member]) -> str:
    """Entries of one group that cannot all exist on disk: a name twice, a file that is also a
    folder (zipfile would write one and fail on the other, or overwrite)."""
    files = Counter(m.path for m in members if not m.is_dir)
    twice = sorted(p for p, n in files.items() if n > 1)
    if twice:
        return f"{printable(twice[0])}: appears twice in the archive"
    folders = {m.path for m in members if m.is_dir}
    for m in members:
        parts = m.path.split("/")
        folders.update("/".join(parts[:k]) for k in range(1, len(parts)))
    both = sorted(set(files) & folders)
    if both:
        return f"{printable(both[0])}: is both a file and a folder in the archive"
    return ""


def plan(members: list[Member], *, group_of: Callable[[str], str],
         wanted: Callable[[str], bool]) -> dict[str, tuple[list[Member], str]]:
    """group → (its members, the reason it is rejected or ''). `group_of` returns '' for
    entries that belong to no submission (`__MACOSX/`, a README at the top): never extracted."""
    groups: dict[str, list[Member]] = {}
    for member in members:
        key = group_of(member.path) if member.path else ""
        if key:
            groups.setdefault(key, []).append(member)
    out = {}
    for key, group in sorted(groups.items()):
        problems = [entry_problem(m) for m in group]
        problems += [size_problem(m) for m in group if not m.is_dir and wanted(m.path)]
        problems.append(layout_problem(group))
        found = [p for p in problems if p]
        reason = (found[0] + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
                  if found else "")
        out[key] = (group, reason)
    return out


# ---------------------------------------------------------------- extracting

def top_folder(path: str) -> str:
    return path.split("/", 1)[0]


def unpack(archive: Path, into: Path, *, under: Path | None = None,
           group_of: Callable[[str], str] = top_folder,
           wanted: Callable[[str], bool] = lambda path: True,
           max_total_mb: int = MAX_ARCHIVE_MB) -> Unpacked:
    """Extract the wanted files of every acceptable group of `archive` into `into` (which must
    not exist: the grader makes it). `under` is the folder below which no link is followed on
    the way to the archive itself.

    Raises ArchiveRefused when the archive as a whole is unreadable; a bad group is reported in
    its Group.problem and nothing of it stays on disk.
    """
    into = Path(into)
    fd = open_regular(Path(archive), under=under)
    with os.fdopen(fd, "rb") as handle:
        try:
            zf = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise ArchiveRefused(f"{printable(Path(archive).name)} is not a readable zip archive "
                                 f"({_why(exc)})") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES:
                raise ArchiveRefused(f"{printable(Path(archive).name)} holds {len(infos)} "
                                     f"entries, more than {MAX_ENTRIES}")
            members = [member_of(info) for info in infos]
            info_of = {id(m): info for m, info in zip(members, infos, strict=True)}
            planned = plan(members, group_of=group_of, wanted=wanted)
            into.mkdir(parents=True)
            budget = [max_total_mb * MIB]
            groups = {}
            for key, (members, reason) in planned.items():
                group = Group(key, files=sorted(m.path for m in members if not m.is_dir),
                              dates={m.path: m.modified for m in members
                                     if not m.is_dir and m.modified}, problem=reason)
                if not reason:
                    _extract_group(zf, group, [(m, info_of[id(m)]) for m in members
                                               if not m.is_dir and wanted(m.path)],
                                   into, budget)
                groups[key] = group
    return Unpacked(into, groups)


def _extract_group(zf: zipfile.ZipFile, group: Group, todo: list, into: Path,
                   budget: list[int]) -> None:
    left = MAX_GROUP_MB * MIB
    written: list[Path] = []
    try:
        for member, info in sorted(todo, key=lambda pair: pair[0].path):
            target = into.joinpath(*member.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            # Never more than the declared size (zipfile stops there), the per-file cap, what
            # is left of the submission's and the archive's budgets, or the ratio allows.
            cap = min(MAX_ENTRY_MB * MIB, left, budget[0],
                      max(MIB, MAX_RATIO * max(member.compressed, 1)))
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o644)
            written.append(target)
            size = 0
            with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                while chunk := src.read(MIB):
                    size += len(chunk)
                    if size > cap:
                        raise _TooBig(member, cap, left, budget[0])
                    out.write(chunk)
            left -= size
            budget[0] -= size
            group.extracted.append(member.path)
    except _TooBig as exc:
        group.problem = str(exc)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError,
            NotImplementedError, _lzma_error()) as exc:
        group.problem = f"{printable(member.path)}: cannot be extracted ({_why(exc)})"
    if group.problem:
        for path in written:
            path.unlink(missing_ok=True)
        group.extracted = []


class _TooBig(Exception):
    def __init__(self, member: Member, cap: int, left: int, budget: int) -> None:
        shown = printable(member.path)
        if cap == budget:
            text = f"{shown}: the archive's extraction budget ({MAX_ARCHIVE_MB} MB) is spent"
        elif cap == left:
            text = f"{shown}: this submission extracts to more than {MAX_GROUP_MB} MB"
        else:
            text = (f"{shown}: larger than {cap // MIB} MB once extracted (declared "
                    f"{member.size // MIB} MB); not extracted in full")
        super().__init__(text)


def _lzma_error() -> type[Exception]:
    try:
        import lzma

        return lzma.LZMAError
    except ImportError:  # pragma: no cover - Python built without lzma
        return OSError


def _why(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return printable(text, 160)
