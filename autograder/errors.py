"""The exceptions that reach an instructor or a student: each names the file, the cell and the fix.

Every one is an AutograderError; they come in families, and the CLI maps each family to a
message and an exit status in one place (cli.exit_code_for):

- what a file or an argument gets wrong: ConfigError, AuthoringError (the instructor's source),
  SubmissionError (one submission, which becomes a `rejected` result, never a stopped batch);
- what this machine lacks: SandboxUnavailable, GpuUnavailable, KernelError and its kinds;
- what a test cell meets in the judge (JudgeError): the student's kernel did not answer as the
  test asked. scoring.explain turns each into the question's message; none ever stops a batch.

Some keep a builtin base as well, where the code that catches them expects one: KernelError is a
RuntimeError (as nbclient's DeadKernelError), NotAttempted a NotImplementedError (a test's
`except NotImplementedError`), CodecError a ValueError, NotComparable a TypeError, MarkError a
ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(eq=False)  # compared and hashed as the objects they are, as every exception
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


# --- a file or an argument to fix -------------------------------------------------------------


class ConfigError(AutograderError):
    """course.toml or roster.csv is wrong."""


@dataclass(eq=False)
class AuthoringError(AutograderError):
    """An instructor's source notebook breaks an authoring rule: no submission can be graded
    against it, so a batch stops rather than rejecting every submission in turn."""

    problems: list[Any] = field(default_factory=list)  # authoring.Problem, one by one


class SubmissionError(AutograderError):
    """A submitted notebook cannot be read or graded at all (it becomes a `rejected` result)."""


class UploadRefused(SubmissionError):
    """The file cannot be read as a submitted file (a link, a device, too big, changed while
    read); `reason` says why, for a rejected result."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason, hint=hint)

    @property
    def reason(self) -> str:
        return self.message


class ArchiveRefused(UploadRefused):
    """The archive as a whole cannot be read (not a zip, truncated, too many entries)."""


class MarkError(AutograderError, ValueError):
    """A mark that cannot be stored: not a number, out of the question's bounds, bad origin."""


# --- what this machine lacks ------------------------------------------------------------------


class SandboxUnavailable(AutograderError):
    """Full isolation is impossible here and the caller required it."""


class GpuUnavailable(AutograderError):
    """The course requires a GPU and this machine has none."""


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


# --- what a test cell meets in the judge ------------------------------------------------------


class JudgeError(AutograderError):
    """A test cell asked the student's kernel for something it did not give; the question's
    result says why (scoring.explain)."""


class StudentError(JudgeError):
    """The student's code kept the kernel from answering (no exception type to rebuild)."""

    def __init__(self, type_name: str, message: str, where: str = "") -> None:
        super().__init__(f"{where} raised {type_name}: {message}" if where else
                         f"{type_name}: {message}")
        self.type_name, self.where = type_name, where


class NotAttempted(JudgeError, NotImplementedError):
    """The student's code still raises NotImplementedError: the release stub is untouched.

    A NotImplementedError, so a test's `except NotImplementedError` still catches it.
    """


class KernelTimeout(JudgeError):
    """A request to the kernel ran past the test's deadline."""


class KernelGone(JudgeError):
    """The kernel died (killed, out of memory, os._exit) during a request."""


class KernelBudget(JudgeError):
    """The tests of one submission asked the kernel more times than a grading allows."""


class StaleObject(JudgeError):
    """A kernel object made before the kernel was restarted: it no longer exists."""


class NoGPU(JudgeError):
    """A check that needs a GPU, on a machine without one: reported as not graded."""


class CodecError(JudgeError, ValueError):
    """The kernel sent something that is not plain data of the accepted kinds."""


class NotComparable(JudgeError, TypeError):
    """A test compared, hashed or truth-tested a kernel object: the test must ask for data."""

    def __init__(self, type_name: str) -> None:
        super().__init__(
            f"a {type_name} from the student's kernel cannot be compared, hashed or used as a "
            "truth value in the judge; the test must ask for plain data (numbers, arrays, "
            "tensors)")
        self.type_name = type_name
