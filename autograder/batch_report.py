"""What a batch tells: its progress as it goes, and what its end names, over the whole shard.

Pure: the summary says the same on a rerun as on the first run (the results folder holds what
earlier runs graded), so it is tested without grading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .results import SubmissionResult, SubmissionStatus
from .times import TIME_UNVERIFIED


@dataclass(frozen=True)
class BatchProgress:
    """What the CLI shows: sent once at the start, then after each submission."""

    total: int  # submissions in this shard
    done: int  # finished, skipped ones included
    skipped: int  # already graded by an earlier run
    failures: int  # finished with a status other than graded
    workers: int
    result: SubmissionResult | None = None  # the one that just finished; None at the start
    to_grade: int = 0  # gradable submissions this run sends to the kernels
    graded_now: int = 0  # of those, finished
    elapsed_s: float = 0.0  # since the first of those started

    @property
    def eta_s(self) -> float | None:
        return remaining_seconds(self.elapsed_s, self.graded_now, self.to_grade - self.graded_now)


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
    # Over every submission of this shard, this run's and earlier runs' alike:
    not_graded: dict[str, str] = field(default_factory=dict)  # id → "status: reason"
    late: dict[str, str] = field(default_factory=dict)  # id → the late flag's message
    untimed: list[str] = field(default_factory=list)  # ids without a trusted submission time
    stale: list[str] = field(default_factory=list)  # results moved away: no such submission now

    @property
    def complete(self) -> bool:
        return not self.interrupted and len(self.graded) + len(self.skipped) == self.total


def remaining_seconds(elapsed_s: float, finished: int, left: int) -> float | None:
    """Time left, from the pace of the submissions really graded so far (skipped and rejected
    ones take no time and would make any estimate wrong); None until one has finished."""
    if left <= 0:
        return 0.0
    if finished <= 0 or elapsed_s <= 0:
        return None
    return elapsed_s / finished * left



def summarise(report: BatchReport, ids: set[str]) -> None:
    """What the summary must name, over every submission of the shard (not only this run's)."""
    for result in report.results:
        if result.submission_id not in ids:
            continue
        if result.status != SubmissionStatus.GRADED:
            report.not_graded[result.submission_id] = (
                f"{result.status}: {result.reason}" if result.reason else result.status)
        for flag in result.flags:
            if flag.code == "late":
                report.late[result.submission_id] = flag.message
            elif flag.code == TIME_UNVERIFIED:
                report.untimed.append(result.submission_id)


def summary_lines(report: BatchReport, *, shard: str | None, out: str) -> list[str]:
    """The lines that end `autograder grade`: counts, then by name what needs a look (not
    graded, late, no trustworthy time, results moved away), true on a rerun as on the first."""
    hw = report.assignment
    now = [s for s in report.graded if s not in report.not_graded]
    before = [s for s in report.skipped if s not in report.not_graded]
    lines = [f"{hw}: {report.total} submissions{f' in shard {shard}' if shard else ''}: "
             f"{len(now) + len(before)} graded ({len(now)} now, {len(before)} already), "
             f"{len(report.not_graded)} not graded; {report.workers} worker(s); "
             f"results in {out}"]
    if report.not_graded:
        lines.append(f"{hw}: not graded: " + "; ".join(
            f"{sid} ({shorten(why)})" for sid, why in sorted(report.not_graded.items())))
    if report.late:
        lines.append(f"{hw}: late: " + "; ".join(
            f"{sid} ({why})" for sid, why in sorted(report.late.items())))
    if report.untimed:
        lines.append(f"{hw}: {len(report.untimed)} without a trustworthy submission time, so "
                     f"no late penalty: {', '.join(sorted(report.untimed)[:20])}"
                     + (" ..." if len(report.untimed) > 20 else "")
                     + " (give the times with --manifest: a manifest, Moodle's grading "
                       "worksheet or GitHub Classroom's grades CSV)")
    if report.stale:
        lines.append(f"{hw}: {len(report.stale)} result(s) of submissions no longer there "
                     f"moved to {out}/stale: {', '.join(report.stale[:10])}")
    return lines


def shorten(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
