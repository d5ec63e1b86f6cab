"""The exceptions that reach an instructor or a student: each names the file, the cell and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class AutograderError(Exception):
    """Base error; `str()` gives one readable line, `hint` says what to do."""

    message: str
    path: Path | str | None = None
    cell: int | None = None  # 1-based position in the notebook, as editors show it
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if self.cell is not None:
                where += f", cell {self.cell}"
            where += ": "
        text = where + self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(AutograderError):
    """course.toml or roster.csv is wrong."""


class AuthoringError(AutograderError):
    """An instructor's source notebook breaks an authoring rule."""


class SubmissionError(AutograderError):
    """A submitted notebook cannot be read or graded at all (it becomes a `rejected` result)."""


class SandboxUnavailable(AutograderError):
    """Full isolation is impossible here and the caller required it."""


class KernelError(AutograderError, RuntimeError):
    """A Python kernel could not be started (none installed, or it died on start); RuntimeError
    stays a base, as nbclient's DeadKernelError, for callers that catch that."""


class KernelStartError(KernelError):
    """A student's kernel could not be started in its sandbox (still a RuntimeError).

    One submission's problem or a passing one: the engine records it and goes on.
    """


class CageError(KernelStartError):
    """The sandbox around a kernel could not be built; `message` says why, as the cage wrote it."""


class TemplateError(KernelStartError):
    """The pre-imported kernel template did not start or stopped answering."""


class NoFreeUid(KernelStartError):
    """Every sandbox uid of this machine is taken by a running sandbox."""


class GpuUnavailable(AutograderError):
    """The course requires a GPU and this machine has none."""
