"""Grade a whole class: each submission in a fork of a prepared process, one result file each,
resumable, sharded."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .batch_report import BatchProgress, BatchReport, summarise
from .config import Course, Limits
from .errors import ConfigError
from .late import lateness
from .results import SubmissionResult, SubmissionStatus, read_result, write_result
from .roster import Roster, apply_team_checks, check_teams, load_roster
from .submissions import Submission, discover
from .times import TIME_UNVERIFIED, TRUSTED
from .versions import grader_version
from .workers import GRADER_ERROR, grade_safely

GradeOne = Callable[..., SubmissionResult]
Progress = Callable[["BatchProgress"], None]

STALE = "stale"  # where results of submissions no longer in SUBMISSIONS are moved


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


def needs_grading(submission: Submission, existing: SubmissionResult | None, version: str,
                  force: bool) -> bool:
    if force or existing is None:
        return True
    if any(f.code == GRADER_ERROR for f in existing.flags):
        return True
    return (existing.content_hash, existing.grader_version, existing.source) != (
        submission.content_hash, version, submission.source)


def time_flags(result: SubmissionResult, course: Course, assignment: str, *,
               note: str = "") -> None:
    """Replace the late and time flags from the submission time (it may come from a newer file
    of times). Only a trusted time decides lateness; without one the result says so, with the
    date the files carry and what it would mean, so no penalty is ever applied (or waived)
    silently."""
    spec = course.assignment(assignment)
    result.flags = [f for f in result.flags if f.code not in ("late", TIME_UNVERIFIED)]
    trusted = result.submitted_at if result.submitted_at_source in TRUSTED else None
    late = lateness(trusted, spec.due, spec.late_policy, timezone_name=course.timezone)
    if late.is_late:
        result.flag("late", f"{_days(late.days)} late: " + (
            "grade 0" if late.penalty >= 1 else f"-{late.penalty:.0%}"))
    if trusted:
        return
    seen = datetime.fromisoformat(result.graded_at) if result.graded_at else datetime.now(UTC)
    if lateness(seen, spec.due, spec.late_policy, timezone_name=course.timezone).days == 0:
        return  # the files were in hand before the deadline: nothing in them can be late
    if result.unverified_submitted_at:
        text = (f"no trustworthy submission time: the only date is the "
                f"{result.submitted_at_source or 'file date'} {result.unverified_submitted_at}, "
                "which whoever made the file sets; no late penalty applied")
        would = lateness(result.unverified_submitted_at, spec.due, spec.late_policy,
                         timezone_name=course.timezone)
        if would.is_late:
            text += f" (by that date it would be {_days(would.days)} late)"
    else:
        text = "no submission time known; no late penalty applied"
    if note:
        text += f"; {note}"
    result.flag(TIME_UNVERIFIED, text + "; give the times with --manifest (a manifest, Moodle's "
                                        "grading worksheet or GitHub Classroom's grades CSV)")


def _days(n: int) -> str:
    return f"{n} day{'s' if n > 1 else ''}"


def time_fields(submission: Submission) -> tuple[str | None, str, str | None]:
    """(submitted_at, submitted_at_source, unverified_submitted_at) of a result."""
    return (submission.submitted_at.isoformat() if submission.submitted_at else None,
            submission.time_source,
            submission.unverified_at.isoformat() if submission.unverified_at else None)


def _complete(result: SubmissionResult, submission: Submission, version: str, course: Course,
              assignment: str) -> SubmissionResult:
    """What the batch knows better than one grading: where the file came from, its time, team."""
    result.assignment = assignment
    result.submission_id = submission.submission_id
    result.content_hash = submission.content_hash or result.content_hash
    result.source = submission.source
    result.grader_version = version
    (result.submitted_at, result.submitted_at_source,
     result.unverified_submitted_at) = time_fields(submission)
    if not result.team and submission.team:
        result.team = list(submission.team)
    if not result.graded_at:
        result.graded_at = datetime.now(UTC).isoformat(timespec="seconds")
    time_flags(result, course, assignment, note=submission.time_note)
    return result


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
    checks run over all the results in that folder once the batch is done. What would only fail
    later (no roster, a bad file of times, an empty folder) fails here, before any grading.

    Each submission is graded by the engine in its own fork of a process that prepared the
    assignment once (workers.py): no state of one submission's tests reaches another's.
    `grade_one` replaces the engine (tests): it runs in this process with one worker.
    """
    spec = course.assignment(assignment)
    if workers is not None and workers < 0:
        raise ConfigError(f"--workers {workers}: the number of kernels cannot be negative",
                          hint="give a number of kernels, or 0 to size it from the machine")
    roster = _roster(course)
    folder = Path(out) / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".tmp-*.json"):  # left by a run killed while writing
        stale.unlink(missing_ok=True)
    work = _unpack_dir(folder)
    try:
        found = discover(Path(submissions), notebook_name=spec.notebook.name,
                         timezone_name=course.timezone, manifest=manifest, unpack_to=work)
        return _grade_found(found, course=course, assignment=assignment, folder=folder,
                            workers=workers, shard=shard, force=force, grade_one=grade_one,
                            progress=progress, require_sandbox=require_sandbox,
                            gpu_slots=gpu_slots, roster=roster)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _grade_found(found: list[Submission], *, course: Course, assignment: str, folder: Path,
                 workers: int | None, shard: tuple[int, int] | None, force: bool,
                 grade_one: GradeOne | None, progress: Progress | None, require_sandbox: bool,
                 gpu_slots: int, roster: Roster) -> BatchReport:
    spec = course.assignment(assignment)
    mine = [s for s in found if in_shard(s.submission_id, shard)]
    version = grader_version(spec.notebook)
    existing = {r.submission_id: r for r in read_results(folder)}
    stale = _move_stale(folder, existing, {s.submission_id for s in found}, shard)

    todo, skipped = [], []
    for sub in mine:
        old = existing.get(sub.submission_id)
        if needs_grading(sub, old, version, force):
            todo.append(sub)
            continue
        skipped.append(sub.submission_id)
        # A corrected file of times: no regrade, new time and flags.
        before = old.to_dict()
        old.submitted_at, old.submitted_at_source, old.unverified_submitted_at = time_fields(sub)
        time_flags(old, course, assignment, note=sub.time_note)
        if old.to_dict() != before:
            write_result(old, folder / f"{sub.submission_id}.json")

    rejected = [s for s in todo if not s.gradable]
    gradable = [s for s in todo if s.gradable]
    n_workers = plan_workers(limits=course.limits, cores=os.cpu_count() or 1,
                             memory_mb=available_memory_mb(), gpu_slots=gpu_slots,
                             pending=len(gradable), requested=workers)
    report = BatchReport(assignment, folder, n_workers, len(mine), skipped=skipped, stale=stale)
    clock = {"start": 0.0, "graded": 0}

    def event(result: SubmissionResult | None = None) -> BatchProgress:
        elapsed = time.monotonic() - clock["start"] if clock["start"] else 0.0
        return BatchProgress(len(mine), len(report.graded) + len(skipped), len(skipped),
                             len(report.failed), n_workers, result, to_grade=len(gradable),
                             graded_now=clock["graded"], elapsed_s=elapsed)

    def finished(sub: Submission, result: SubmissionResult) -> None:
        result = _complete(result, sub, version, course, assignment)
        write_result(result, folder / f"{sub.submission_id}.json")
        report.graded.append(sub.submission_id)
        if result.status != SubmissionStatus.GRADED:
            report.failed.append(sub.submission_id)
        if sub.gradable:
            clock["graded"] += 1
        if progress:
            progress(event(result))

    if progress:
        progress(event())
    for sub in rejected:
        finished(sub, sub.rejected(assignment))
    clock["start"] = time.monotonic()
    try:
        if grade_one is not None and (n_workers == 1 or len(gradable) <= 1):
            for sub in gradable:  # a grader given by the caller (tests): in this process
                finished(sub, grade_safely(grade_one, sub, course, assignment,
                                                require_sandbox))
        elif gradable:
            _run_workers(gradable, n_workers, grade_one, course, assignment, require_sandbox,
                         finished)
    except KeyboardInterrupt:
        report.interrupted = True

    report.results = _team_checks(roster, spec.team_size, folder)
    summarise(report, {s.submission_id for s in mine})
    return report


def _roster(course: Course) -> Roster:
    """The roster, read before anything is graded: a missing or unreadable one would otherwise
    surface only in the gradebook, after the whole class was graded."""
    try:
        return load_roster(course.roster)
    except OSError as exc:
        raise ConfigError(f"cannot read the roster: {exc.strerror}", path=course.roster,
                          hint="check the file's permissions, or course.roster in course.toml") \
            from None


def _unpack_dir(folder: Path) -> Path:
    """A folder of this run's own for what archives hold (two shards may share `folder`);
    those of runs that died are swept."""
    base = folder / ".unpacked"
    if base.is_dir() and not base.is_symlink():
        for old in base.iterdir():
            if not (old.name.isdigit() and _alive(int(old.name))):
                shutil.rmtree(old, ignore_errors=True)  # a dead run's, or an older layout's
    elif base.exists() or base.is_symlink():
        base.unlink()  # a file or a link where the grader's own folder goes
    return base / str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _move_stale(folder: Path, existing: dict[str, SubmissionResult], found: set[str],
                shard: tuple[int, int] | None) -> list[str]:
    """Results of this shard whose submission is no longer in SUBMISSIONS (renamed, withdrawn,
    an older id scheme) go to `<folder>/stale/`: the gradebook must not count them, and nothing
    is deleted."""
    moved = []
    for sid in sorted(set(existing) - found):
        if not in_shard(sid, shard):
            continue
        target = folder / STALE / f"{sid}.json"
        target.parent.mkdir(exist_ok=True)
        try:
            os.replace(folder / f"{sid}.json", target)
        except FileNotFoundError:
            continue  # a result file named otherwise: left where it is
        moved.append(sid)
        del existing[sid]
    return moved


def _run_workers(subs: list[Submission], n_workers: int, grade_one: GradeOne | None,
                 course: Course, assignment: str, require_sandbox: bool,
                 finished: Callable[[Submission, SubmissionResult], None]) -> None:
    """Each submission in a fork of one prepared process (workers.py), n_workers at a time."""
    from .workers import Workers, WorkersGone

    pending = list(reversed(subs))
    while pending:
        with Workers(course=course, assignment=assignment, require_sandbox=require_sandbox,
                     grade_one=grade_one) as workers:
            try:
                while pending or workers.running:
                    while pending and len(workers.running) < n_workers:
                        workers.submit(pending.pop())
                    sub, outcome = workers.next()
                    if outcome.raised is not None:
                        raise outcome.raised  # the machine's or the course's problem
                    finished(sub, outcome.result if outcome.result is not None
                             else _broken(sub, assignment, outcome.died))
            except WorkersGone:
                # Their parent died (out of memory, killed): the submissions in flight are
                # errors retried next run; the others go to new workers.
                for sub in list(workers.running.values()):
                    finished(sub, _broken(sub, assignment, "its workers' parent died"))
                workers.running.clear()


def _broken(sub: Submission, assignment: str, why: str = "") -> SubmissionResult:
    reason = "the grading worker died" + (f": {why}" if why else "")
    result = SubmissionResult(assignment=assignment, submission_id=sub.submission_id,
                              status=SubmissionStatus.ERROR, reason=reason)
    result.flag(GRADER_ERROR, f"{reason}; retried on the next run")
    return result


def _team_checks(roster: Roster, team_size: int, folder: Path) -> list[SubmissionResult]:
    results = read_results(folder)
    names = {r.submission_id: Path(r.source).parts[0] if r.source else "" for r in results}
    changed = set(apply_team_checks(results, check_teams(results, roster, team_size=team_size,
                                                          names=names)))
    for result in results:
        if result.submission_id in changed:
            write_result(result, folder / f"{result.submission_id}.json")
    return results


def available_memory_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 4096.0
