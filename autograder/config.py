"""course.toml → typed dataclasses; an unknown key or a bad value names the key and the file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .strenum import StrEnum


class GpuMode(StrEnum):
    """[grading] gpu: whether the kernels get a GPU."""

    AUTO = "auto"  # the GPUs this machine has; on the CPU where it has none
    REQUIRED = "required"  # refuse to grade on a machine without a GPU
    OFF = "off"  # on the CPU, whatever the machine has


class KernelStart(StrEnum):
    """How a student's kernel is started and caged: [grading] kernel_start, a result's `sandbox`.

    `template` and `bwrap` build the same cage (see template.py); the template forks kernels
    from a process that has already imported torch, bwrap starts each anew.
    """

    TEMPLATE = "template"
    BWRAP = "bwrap"
    NONE = "none"  # no cage (--no-require-sandbox, development only): never a course's choice


KERNEL_STARTS = (KernelStart.TEMPLATE, KernelStart.BWRAP)  # the caged starts a course may choose
# The values a key of type StrEnum may take in course.toml, where not all of the enum's.
CHOICES: dict[type[StrEnum], tuple[StrEnum, ...]] = {KernelStart: KERNEL_STARTS}


@dataclass(frozen=True)
class LatePolicy:
    """Late penalty: `per_day` of the grade per started day late, zero after `max_days`."""

    per_day: float = 0.10
    max_days: int = 5
    grace_minutes: int = 0


@dataclass(frozen=True)
class Limits:
    """What one submission may use; enforced by the sandbox, outside the kernel."""

    cell_timeout: float = 120.0  # seconds, wall time of one cell
    notebook_timeout: float = 900.0  # seconds, the whole notebook
    memory_mb: int = 4096  # resident memory of the whole sandbox
    processes: int = 64  # processes and threads inside the sandbox
    output_kb: int = 1024  # output kept per cell; the rest is dropped
    disk_mb: int = 256  # size of the writable work dir
    workers: int = 0  # parallel kernels; 0 = sized from cores and memory
    gpu: GpuMode = GpuMode.AUTO
    gpu_slots: int = 4  # kernels sharing one GPU at once
    kernel_start: KernelStart = KernelStart.TEMPLATE


@dataclass(frozen=True)
class Similarity:
    """`autograder similarity`: which pairs of submissions the report flags (never a grade)."""

    threshold: float = 0.4  # share of both pairs' own code found in the other, 0 < t <= 1


@dataclass(frozen=True)
class Assignment:
    name: str
    notebook: Path  # the instructor's source notebook, absolute
    due: datetime  # timezone-aware
    team_size: int = 2
    points: float = 20.0  # what the assignment is worth in the gradebook
    # The notebook's own total when it differs from `points`: grades are scaled by
    # points / notebook_points. None: the cells' points must add up to `points` itself.
    notebook_points: float | None = None
    late_policy: LatePolicy = field(default_factory=LatePolicy)

    @property
    def release_path(self) -> Path:
        return self.notebook.parents[2] / "release" / self.name / self.notebook.name

    @property
    def solution_path(self) -> Path:
        return self.notebook.parents[2] / "solutions" / self.name / self.notebook.name


@dataclass(frozen=True)
class Course:
    name: str
    timezone: str
    root: Path  # the folder holding course.toml; relative paths are taken from here
    roster: Path
    assignments: dict[str, Assignment]
    limits: Limits
    path: Path  # course.toml itself
    similarity: Similarity = field(default_factory=Similarity)

    def assignment(self, name: str) -> Assignment:
        try:
            return self.assignments[name]
        except KeyError:
            known = ", ".join(sorted(self.assignments)) or "none"
            raise ConfigError(
                f"no assignment named {name!r}",
                path=self.path,
                hint=f"known assignments: {known}; add an [assignments.{name}] table",
            ) from None


# How a TOML value's expected type reads in an error message.
KINDS = {bool: "true or false", int: "a whole number (e.g. 4)", float: "a number (e.g. 0.5)",
         str: 'a string in quotes (e.g. "text")', list: "a list (e.g. [1, 2])",
         dict: "a table"}


def _build(cls: type, table: dict[str, Any], where: str, path: Path) -> Any:
    """Fill a flat dataclass from a TOML table, refusing unknown keys and wrong types."""
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"unknown key {where}.{key}",
                path=path,
                hint=f"allowed keys in [{where}]: {', '.join(known)}",
            )
        default = known[key].default
        expected = type(default)
        if issubclass(expected, StrEnum):
            choices = CHOICES.get(expected, tuple(expected))
            if value not in choices:
                raise ConfigError(f"{where}.{key} = {value!r} is not one of "
                                  f"{', '.join(choices)}", path=path)
            value = expected(value)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(
                f"{where}.{key} = {value!r} should be {KINDS.get(expected, expected.__name__)}",
                path=path,
            )
        values[key] = value
    return cls(**values)


def _check_limits(limits: Limits, path: Path) -> None:
    for name in ("cell_timeout", "notebook_timeout", "memory_mb", "processes", "output_kb",
                 "disk_mb", "gpu_slots"):
        if getattr(limits, name) <= 0:
            raise ConfigError(f"grading.{name} must be positive", path=path)
    if limits.workers < 0:
        raise ConfigError("grading.workers must be 0 (automatic) or positive", path=path)


def _parse_due(value: Any, tz: ZoneInfo, where: str, path: Path) -> datetime:
    if isinstance(value, datetime):
        due = value
    elif isinstance(value, str):
        try:
            due = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(
                f"{where}.due = {value!r} is not a date-time",
                path=path,
                hint='write it as "2026-10-12T23:59" (course timezone) or with an offset',
            ) from None
    else:
        raise ConfigError(f"{where}.due must be a date-time", path=path)
    # A due date without offset is in the course's timezone, as the syllabus says it.
    return due if due.tzinfo else due.replace(tzinfo=tz)


ASSIGNMENT_KEYS = {"notebook", "due", "team_size", "points", "notebook_points", "late_policy"}


def _assignment(name: str, table: dict, default_late: LatePolicy, tz: ZoneInfo, root: Path,
                path: Path) -> Assignment:
    where = f"assignments.{name}"
    unknown = set(table) - ASSIGNMENT_KEYS
    if unknown:
        raise ConfigError(
            f"unknown key {where}.{sorted(unknown)[0]}",
            path=path,
            hint=f"allowed keys: {', '.join(sorted(ASSIGNMENT_KEYS))}",
        )
    for key in ("notebook", "due"):
        if key not in table:
            raise ConfigError(f"{where} has no {key}", path=path)
    late = default_late
    if "late_policy" in table:
        merged = {**default_late.__dict__, **table["late_policy"]}
        late = _build(LatePolicy, merged, f"{where}.late_policy", path)
    team_size = table.get("team_size", 2)
    points = table.get("points", 20.0)
    if not isinstance(team_size, int) or isinstance(team_size, bool) or team_size < 1:
        raise ConfigError(f"{where}.team_size must be a positive integer", path=path)
    if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
        raise ConfigError(f"{where}.points must be a positive number", path=path)
    notebook_points = table.get("notebook_points")
    if notebook_points is not None and (not isinstance(notebook_points, int | float)
                                        or isinstance(notebook_points, bool)
                                        or notebook_points <= 0):
        raise ConfigError(
            f"{where}.notebook_points must be a positive number", path=path,
            hint="the total of the notebook's cells (automatic + by hand), scaled to points")
    return Assignment(
        name=name,
        notebook=(root / table["notebook"]).resolve(),
        due=_parse_due(table["due"], tz, where, path),
        team_size=team_size,
        points=float(points),
        notebook_points=None if notebook_points is None else float(notebook_points),
        late_policy=late,
    )


TOP_KEYS = {"course", "grading", "late_policy", "assignments", "similarity"}


def load_course(path: Path | str = "course.toml") -> Course:
    """Read course.toml; every problem is a ConfigError naming the key and the file."""
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "course file not found", path=path,
            hint="run from the course repository or pass --course PATH",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None

    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(
            f"unknown table [{sorted(unknown)[0]}]", path=path,
            hint=f"allowed: {', '.join(sorted(TOP_KEYS))}",
        )
    course = data.get("course", {})
    for key in course:
        if key not in {"name", "timezone", "roster"}:
            raise ConfigError(f"unknown key course.{key}", path=path,
                              hint="allowed keys in [course]: name, timezone, roster")
    tz_name = course.get("timezone", "UTC")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"course.timezone = {tz_name!r} is not a known timezone", path=path,
                          hint='use an IANA name such as "Europe/Paris"') from None

    limits = _build(Limits, data.get("grading", {}), "grading", path)
    _check_limits(limits, path)
    late = _build(LatePolicy, data.get("late_policy", {}), "late_policy", path)
    similarity = _build(Similarity, data.get("similarity", {}), "similarity", path)
    if not 0 < similarity.threshold <= 1:
        raise ConfigError("similarity.threshold must be above 0 and at most 1", path=path,
                          hint="e.g. 0.5: half of the pairs' own code found in the other")
    root = path.parent
    assignments = {
        name: _assignment(name, table, late, tz, root, path)
        for name, table in data.get("assignments", {}).items()
    }
    return Course(
        name=course.get("name", root.name),
        timezone=tz_name,
        root=root,
        roster=(root / course.get("roster", "roster.csv")).resolve(),
        assignments=assignments,
        limits=limits,
        path=path,
        similarity=similarity,
    )
