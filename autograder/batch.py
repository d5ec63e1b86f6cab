"""Grade a whole class: a pool of workers, one result file per submission, resumable, sharded."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .config import Course, Limits
from .errors import AuthoringError, ConfigError, SandboxUnavailable
from .late import lateness
from .results import ERROR, GRADED, SubmissionResult, read_result, write_result
from .roster import apply_team_checks, check_teams, load_roster
from .submissions import Submission, discover

GradeOne = Callable[..., SubmissionResult]
Progress = Callable[["BatchProgress"], None]

GRADER_ERROR = "grader_error"  # the grader itself failed on this submission: retried next run


@dataclass(frozen=True)
class BatchProgress:
    """What the CLI shows: sent once at the start, then after each submission."""

    total: int  # submissions in this shard
    done: int  # finished, skipped ones included
    skipped: int  # already graded by an earlier run
    failures: int  # finished with a status other than graded
    workers: int
    result: SubmissionResult | None = None  # the one that just finished; None at the start


@dataclass
class BatchReport:
    assignment: str
    out: Path  # the folder holding this assignment's result files
    workers: int
    total: int  # submissions in this shard
    graded: list[str] = field(default_factory=list)  # ids graded (or rejected) by this run
    skipped: list[str] = field(default_factory=list)  # ids whose result was already there
    failed: list[str] = field(default_factory=list)  # ids not graded: rejected, error, timeout
    interrupted: bool = False
    results: list[SubmissionResult] = field(default_factory=list)  # every result in `out`

    @property
    def complete(self) -> bool:
        return not self.interrupted and len(self.graded) + len(self.skipped) == self.total


# ---------------------------------------------------------------- pure deciding parts

def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' with 0 <= i < N (Slurm array task ids count from 0)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r} is not i/N", hint="e.g. --shard 0/4 ... 3/4") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text}: i must be between 0 and N-1",
                          hint="shards of N are numbered 0/N ... (N-1)/N")
    return index, count


def shard_of(submission_id: str, count: int) -> int:
    """Which of `count` shards grades a submission: the same answer on every machine."""
    digest = hashlib.sha256(submission_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(submission_id: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or shard_of(submission_id, shard[1]) == shard[0]


def plan_workers(*, limits: Limits, cores: int, memory_mb: float, gpu_slots: int = 0,
                 pending: int, requested: int | None = None) -> int:
    """Kernels to run at once: what was asked, else what cores and memory allow, capped by GPU
    slots where a GPU is shared and by the work there is."""
    if requested:
        n = requested
    elif limits.workers:
        n = limits.workers
    else:
        # Leave a fifth of the memory to the grader processes and the system.
        n = min(cores, int(memory_mb * 0.8 // limits.memory_mb))
        if gpu_slots > 0:
            n = min(n, gpu_slots)
    return max(1, min(n, pending))


def grader_version(assignment_notebook: Path) -> str:
    """The key of a result with the submission's content hash: this package's version and the
    instructor's notebook (new hidden tests regrade everyone; a second run alone regrades no one)."""
    try:
        source = hashlib.sha256(Path(assignment_notebook).read_bytes()).hexdigest()[:12]
    except OSError:
        return __version__
    return f"{__version__}+{source}"


def needs_grading(submission: Submission, existing: SubmissionResult | None, version: str,
                  force: bool) -> bool:
    if force or existing is None:
        return True
    if any(f.code == GRADER_ERROR for f in existing.flags):
        return True
    return (existing.content_hash, existing.grader_version, existing.source) != (
        submission.content_hash, version, submission.source)


def late_flag(result: SubmissionResult, course: Course, assignment: str) -> None:
    """Replace the late flag from the submission time (it may come from a newer manifest)."""
    spec = course.assignment(assignment)
    result.flags = [f for f in result.flags if f.code != "late"]
    late = lateness(result.submitted_at, spec.due, spec.late_policy, timezone_name=course.timezone)
    if late.is_late:
        what = "grade 0" if late.penalty >= 1 else f"-{late.penalty:.0%}"
        result.flag("late", f"{late.days} day{'s' if late.days > 1 else ''} late: {what}")


# ---------------------------------------------------------------- the workers

def _worker_start() -> None:
    # Die with the grader: a kill -9 of the grader leaves no worker (or kernel) behind.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _grade(grade_one: GradeOne, submission: Submission, course: Course, assignment: str,
           require_sandbox: bool) -> SubmissionResult:
    """Run in a worker. A grader failure on one submission becomes a result, not a dead batch."""
    try:
        return grade_one(submission.notebook, course=course, assignment=assignment,
                         submission_id=submission.submission_id,
                         submitted_at=submission.submitted_at, require_sandbox=require_sandbox)
    except Exception as exc:  # noqa: BLE001 - anything, so the other 999 submissions go on
        if isinstance(exc, SandboxUnavailable | AuthoringError):
            raise  # the machine's or the course's problem, not the submission's: stop the batch
        result = SubmissionResult(assignment=assignment, submission_id=submission.submission_id,
                                  status=ERROR, reason=f"the grader failed: {exc!r}"[:500])
        last = traceback.format_exception(exc)[-1].strip()
        result.flag(GRADER_ERROR, f"the grader failed ({last[:300]}); retried on the next run")
        return result


def _complete(result: SubmissionResult, submission: Submission, version: str, course: Course,
              assignment: str) -> SubmissionResult:
    """What the batch knows better than one grading: where the file came from, its time, team."""
    result.assignment = assignment
    result.submission_id = submission.submission_id
    result.content_hash = submission.content_hash or result.content_hash
    result.source = submission.source
    result.grader_version = version
    if submission.submitted_at is not None:
        result.submitted_at = submission.submitted_at.isoformat()
    if not result.team and submission.team:
        result.team = list(submission.team)
    if not result.graded_at:
        result.graded_at = datetime.now(UTC).isoformat(timespec="seconds")
    late_flag(result, course, assignment)
    return result


def _stop(executor: ProcessPoolExecutor) -> None:
    """Stop the workers now (Ctrl-C): their kernels die with them; results are written only by
    this process, atomically, so nothing half-written is left."""
    executor.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


# ---------------------------------------------------------------- the entry point

def result_path(out: Path, assignment: str, submission_id: str) -> Path:
    return Path(out) / assignment / f"{submission_id}.json"


def read_results(folder: Path) -> list[SubmissionResult]:
    """Every readable result file in one folder (unreadable ones are skipped: regraded later)."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            found.append(read_result(path))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return found


def grade_batch(*, course: Course, assignment: str, submissions: Path, out: Path,
                workers: int | None = None, shard: tuple[int, int] | None = None,
                force: bool = False, grade_one: GradeOne | None = None,
                progress: Progress | None = None, manifest: Path | None = None,
                require_sandbox: bool = True, gpu_slots: int = 0) -> BatchReport:
    """Grade every submission of `assignment` in this shard that has no up-to-date result.

    Results go to `out/<assignment>/<submission id>.json`, each written atomically as soon as it
    is known, so a killed run loses only the submissions in flight; run it again to finish. Team
    checks run over all the results in that folder once the batch is done.
    """
    spec = course.assignment(assignment)
    if grade_one is None:
        from .engine import grade_submission as grade_one
    folder = Path(out) / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".tmp-*.json"):  # left by a run killed while writing
        stale.unlink(missing_ok=True)

    found = discover(Path(submissions), notebook_name=spec.notebook.name,
                     timezone_name=course.timezone, manifest=manifest,
                     unpack_to=folder / ".unpacked")
    mine = [s for s in found if in_shard(s.submission_id, shard)]
    version = grader_version(spec.notebook)
    existing = {r.submission_id: r for r in read_results(folder)}

    todo, skipped = [], []
    for sub in mine:
        old = existing.get(sub.submission_id)
        if needs_grading(sub, old, version, force):
            todo.append(sub)
            continue
        skipped.append(sub.submission_id)
        new_time = sub.submitted_at.isoformat() if sub.submitted_at else old.submitted_at
        if new_time != old.submitted_at:  # a corrected manifest: no regrade, new late flag
            old.submitted_at = new_time
            late_flag(old, course, assignment)
            write_result(old, result_path(out, assignment, sub.submission_id))

    rejected = [s for s in todo if not s.gradable]
    gradable = [s for s in todo if s.gradable]
    n_workers = plan_workers(limits=course.limits, cores=os.cpu_count() or 1,
                             memory_mb=_available_memory_mb(), gpu_slots=gpu_slots,
                             pending=len(gradable), requested=workers)
    report = BatchReport(assignment, folder, n_workers, len(mine), skipped=skipped)

    def finished(sub: Submission, result: SubmissionResult) -> None:
        result = _complete(result, sub, version, course, assignment)
        write_result(result, result_path(out, assignment, sub.submission_id))
        report.graded.append(sub.submission_id)
        if result.status != GRADED:
            report.failed.append(sub.submission_id)
        if progress:
            progress(BatchProgress(len(mine), len(report.graded) + len(skipped), len(skipped),
                                   len(report.failed), n_workers, result))

    if progress:
        progress(BatchProgress(len(mine), len(skipped), len(skipped), 0, n_workers))
    for sub in rejected:
        finished(sub, sub.rejected(assignment))
    try:
        if n_workers == 1 or len(gradable) <= 1:
            for sub in gradable:
                finished(sub, _grade(grade_one, sub, course, assignment, require_sandbox))
        else:
            _run_pool(gradable, n_workers, grade_one, course, assignment, require_sandbox,
                      finished)
    except KeyboardInterrupt:
        report.interrupted = True

    report.results = _team_checks(course, spec.team_size, folder)
    return report


def _run_pool(subs: list[Submission], n_workers: int, grade_one: GradeOne, course: Course,
              assignment: str, require_sandbox: bool,
              finished: Callable[[Submission, SubmissionResult], None]) -> None:
    # spawn: a fresh interpreter per worker; forking a process that holds threads and kernel
    # sockets is unsafe.
    context = multiprocessing.get_context("spawn")
    pending = list(reversed(subs))
    while pending:
        executor = ProcessPoolExecutor(max_workers=n_workers, mp_context=context,
                                       initializer=_worker_start)
        running: dict[Future, Submission] = {}
        try:
            while pending or running:
                while pending and len(running) < n_workers:
                    sub = pending.pop()
                    running[executor.submit(_grade, grade_one, sub, course, assignment,
                                            require_sandbox)] = sub
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    sub = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        # A worker died (out of memory, killed): this submission is an error
                        # retried next run; the others are requeued in a new pool.
                        result = _broken(sub, assignment)
                    finished(sub, result)
        except BrokenProcessPool:
            for sub in running.values():
                finished(sub, _broken(sub, assignment))
        except BaseException:
            _stop(executor)
            raise
        else:
            executor.shutdown(wait=True)
            continue
        executor.shutdown(wait=False, cancel_futures=True)


def _broken(sub: Submission, assignment: str) -> SubmissionResult:
    result = SubmissionResult(assignment=assignment, submission_id=sub.submission_id,
                              status=ERROR, reason="the grading worker died")
    result.flag(GRADER_ERROR, "the grading worker died; retried on the next run")
    return result


def _team_checks(course: Course, team_size: int, folder: Path) -> list[SubmissionResult]:
    results = read_results(folder)
    try:
        roster = load_roster(course.roster)
    except ConfigError:
        return results  # no roster yet: the gradebook will say so
    names = {r.submission_id: Path(r.source).parts[0] if r.source else "" for r in results}
    changed = set(apply_team_checks(results, check_teams(results, roster, team_size=team_size,
                                                          names=names)))
    for result in results:
        if result.submission_id in changed:
            write_result(result, folder / f"{result.submission_id}.json")
    return results


def _available_memory_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 4096.0
