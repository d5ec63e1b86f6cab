"""The `autograder` command: parses arguments and calls one library entry point per stage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import AutograderError


def _course(args: argparse.Namespace):
    from .config import load_course

    return load_course(args.course)


def _sandbox_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-require-sandbox", action="store_true",
                        help="grade UNSANDBOXED where the sandbox is impossible (not root, no "
                             "bubblewrap); every result records it (development only)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autograder",
        description="Release course notebooks, grade pairs' submissions, build the gradebook.",
    )
    parser.add_argument("--course", type=Path, default=Path("course.toml"),
                        help="the course file (default: ./course.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each stage registers its sub-command below; keep them thin: parse, call, report.
    release = sub.add_parser("release", help="write release/ and solutions/ from source/")
    release.add_argument("assignments", nargs="*", metavar="HW",
                         help="assignments to release (default: every one in course.toml)")
    release.set_defaults(run=_run_release)
    check = sub.add_parser("check", help="run a notebook's visible tests (students' own check)")
    check.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    check.add_argument("--timeout", type=float, default=120.0, metavar="S",
                       help="seconds allowed per cell (default: 120)")
    check.add_argument("--release", type=Path, default=None, metavar="PATH",
                       help="the released notebook, to compare with when the editor dropped "
                            "the notebook's metadata")
    check.set_defaults(run=_run_check)
    validate = sub.add_parser(
        "validate", help="grade each homework's solution, stub and mutants; exit 1 on a miss")
    validate.add_argument("assignments", nargs="+", metavar="HW", help="assignments to validate")
    validate.add_argument("--mutate", action="store_true",
                          help="also grade the mutants generated from the solution's answer "
                               "cells; print the survivors with their diff")
    validate.add_argument("--workers", type=int, default=None, metavar="N",
                          help="gradings at once (default: from cores and memory)")
    _sandbox_option(validate)
    validate.set_defaults(run=_run_validate)
    one = sub.add_parser("grade-one", help="grade one submitted notebook and print its result")
    one.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    one.add_argument("--assignment", required=True, metavar="HW")
    one.add_argument("--out", type=Path, default=None, metavar="JSON",
                     help="also write the result document there")
    _sandbox_option(one)
    one.set_defaults(run=_run_grade_one)
    grade = sub.add_parser("grade", help="grade every submission of an assignment")
    grade.add_argument("assignment", metavar="HW")
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                       help="a folder (one file or folder per submission) or a Moodle zip")
    grade.add_argument("--workers", type=int, default=None, metavar="N",
                       help="kernels at once (default: from cores, memory and GPU slots)")
    grade.add_argument("--shard", default=None, metavar="i/N",
                       help="grade only shard i of N (0 <= i < N); merge with the gradebook")
    grade.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="results folder (default: results/ next to course.toml)")
    grade.add_argument("--force", action="store_true", help="regrade what is already graded")
    grade.add_argument("--manifest", type=Path, default=None, metavar="CSV",
                       help="submission_id,submitted_at (default: SUBMISSIONS/manifest.csv)")
    grade.add_argument("--feedback", type=Path, default=None, metavar="DIR",
                       help="feedback pages (default: feedback/HW/ next to course.toml)")
    _sandbox_option(grade)
    grade.set_defaults(run=_run_grade)
    gradebook = sub.add_parser("gradebook", help="grades.xlsx, grades.csv and a Moodle import CSV")
    gradebook.add_argument("assignments", nargs="+", metavar="HW")
    gradebook.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                           metavar="DIR", help="result folders, e.g. one per shard "
                                               "(default: results/ next to course.toml)")
    gradebook.add_argument("--out", type=Path, default=None, metavar="XLSX",
                           help="the spreadsheet (default: grades.xlsx next to course.toml)")
    gradebook.set_defaults(run=_run_gradebook)
    return parser


def _run_release(args: argparse.Namespace) -> int:
    from .release import release_assignment

    course = _course(args)
    names = args.assignments or list(course.assignments)
    for name in names:
        spec = course.assignment(name)
        if not args.assignments and not spec.notebook.is_file():
            print(f"{name}: skipped, no source notebook at {_rel(spec.notebook, course.root)}")
            continue
        result = release_assignment(course=course, assignment=name)
        for path in result.written:
            print(f"{name}: wrote {_rel(path, course.root)}")
        if not result.written:
            print(f"{name}: up to date ({len(result.unchanged)} files)")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from .student import check_notebook, render_summary

    summary = check_notebook(args.notebook, timeout=args.timeout, release=args.release)
    print(render_summary(summary, rich=sys.stdout.isatty()))
    return 0 if summary.ok else 1


def _run_validate(args: argparse.Namespace) -> int:
    from .kills import render_matrix
    from .validate import render_survivors, render_table, validate_assignment

    course = _course(args)
    reports = []
    for name in args.assignments:
        course.assignment(name)  # an unknown name fails before any grading starts
    if args.workers is not None and args.workers < 1:
        raise AutograderError(f"--workers {args.workers}: give at least 1")
    for name in args.assignments:
        def progress(row, name=name):
            if row.kind != "generated" or row.verdict != "ok":
                print(f"{name}: {row.submission}: {row.verdict}", file=sys.stderr, flush=True)

        report = validate_assignment(course=course, assignment=name, mutate=args.mutate,
                                     require_sandbox=not args.no_require_sandbox,
                                     workers=args.workers, on_row=progress)
        reports.append(report)
        print(f"{name}: validated in {report.seconds:.0f} s with {report.workers} worker(s)",
              file=sys.stderr, flush=True)
    print(render_table(reports))
    for report in reports:
        if report.matrix is not None and report.matrix.rows:
            print(f"\n{report.assignment}: mutant x check matrix\n{render_matrix(report.matrix)}")
        survivors = render_survivors(report)
        if survivors:
            print(f"\n{report.assignment}: mutants the tests miss (kill each with a check, or "
                  "record it as equivalent in the source notebook's metadata "
                  f"autograder.equivalent_mutants)\n{survivors}")
    misses = sum(len(r.misses) for r in reports)
    if misses:
        print(f"{misses} miss{'es' if misses > 1 else ''}", file=sys.stderr)
    return 1 if misses else 0


def _run_grade_one(args: argparse.Namespace) -> int:
    from .engine import grade_submission
    from .results import write_result

    course = _course(args)
    result = grade_submission(args.notebook, course=course, assignment=args.assignment,
                              require_sandbox=not args.no_require_sandbox)
    if args.out:
        write_result(result, args.out)
    print(f"{args.notebook}: {result.status}"
          + (f" ({result.reason})" if result.reason else "")
          + f", {result.points:g}/{result.max_points:g} points, {result.runtime_s:.1f} s, "
            f"sandbox {result.sandbox}, team {', '.join(result.team) or 'none'}")
    for q in result.questions:
        print(f"  {q.grade_id:<24} {q.points:>5g}/{q.max_points:<4g} {q.status:<14} {q.message}")
        for c in q.checks:
            print(f"      {c.name}: {c.status} {c.points:g}/{c.max_points:g} {c.message}")
    for flag in result.flags:
        print(f"  flag {flag.code}: {flag.message}")
    return 0 if result.status == "graded" else 1


def _run_grade(args: argparse.Namespace) -> int:
    from . import gpu
    from .batch import grade_batch, in_shard, parse_shard
    from .feedback import write_feedback

    course = _course(args)
    spec = course.assignment(args.assignment)
    shard = parse_shard(args.shard) if args.shard else None
    out = args.out or course.root / "results"
    plan = gpu.gpu_plan(course.limits.gpu, course.limits.gpu_slots, path=course.path)
    with _progress(args.assignment, rich=sys.stderr.isatty()) as progress:
        report = grade_batch(course=course, assignment=args.assignment,
                             submissions=args.submissions, out=out, workers=args.workers,
                             shard=shard, force=args.force, progress=progress,
                             manifest=args.manifest, require_sandbox=not args.no_require_sandbox,
                             gpu_slots=plan.slots)
    print(f"{args.assignment}: {report.total} submissions"
          f"{f' in shard {args.shard}' if shard else ''}: {len(report.graded)} graded now, "
          f"{len(report.skipped)} already graded, {len(report.failed)} not graded "
          f"(rejected, error or timeout); {report.workers} worker(s); "
          f"results in {_rel(report.out, course.root)}")
    feedback = args.feedback or course.root / "feedback" / args.assignment
    try:
        pages = write_feedback([r for r in report.results if in_shard(r.submission_id, shard)],
                               out=feedback, source_notebook=spec.notebook,
                               course_name=course.name)
        print(f"{args.assignment}: {len(pages)} feedback pages in {_rel(feedback, course.root)}")
    except OSError as exc:
        # Grades are safe in the results; a read-only course folder (the CI container) only
        # loses the pages.
        print(f"autograder: warning: no feedback pages written to {feedback}: {exc.strerror}"
              " (pass --feedback DIR)", file=sys.stderr)
    if report.interrupted:
        print("autograder: interrupted; run the same command again to finish", file=sys.stderr)
        return 130
    return 0


def _run_gradebook(args: argparse.Namespace) -> int:
    from .gradebook import build_gradebook

    course = _course(args)
    for name in args.assignments:
        course.assignment(name)
    book = build_gradebook(course=course, assignments=args.assignments,
                           results=args.results or [course.root / "results"],
                           out=args.out or course.root / "grades.xlsx")
    students = sum(1 for r in book.rows if r["last_name"])
    print(f"gradebook: {students} students, {len(book.rows) - students} ids not on the roster, "
          f"{len(book.problems)} problems to look at")
    for path in (book.xlsx, book.csv, book.moodle_csv):
        print(f"wrote {_rel(path, course.root)}")
    return 0


class _progress:
    """The batch's progress: a rich bar on a terminal, one plain line per submission otherwise."""

    def __init__(self, assignment: str, *, rich: bool) -> None:
        self.assignment, self.rich, self.bar, self.task = assignment, rich, None, None

    def __enter__(self):
        if self.rich:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), TextColumn("[red]{task.fields[failures]} not graded"),
                transient=False)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, event) -> None:
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task(self.assignment, total=event.total,
                                              completed=event.done, failures=0, rate="")
            speed = self.bar.tasks[0].speed
            rate = f"{speed * 60:.1f}/min" if speed else ""
            self.bar.update(self.task, completed=event.done, failures=event.failures, rate=rate)
            return
        if event.result is None:
            print(f"{self.assignment}: {event.total} submissions, {event.skipped} already "
                  f"graded, {event.workers} worker(s)", file=sys.stderr, flush=True)
            return
        r = event.result
        print(f"{self.assignment}: [{event.done}/{event.total}] {r.submission_id}: {r.status}"
              f" {r.points:g}/{r.max_points:g}" + (f" ({event.failures} not graded so far)"
                                                   if event.failures else ""),
              file=sys.stderr, flush=True)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except AutograderError as exc:
        print(f"autograder: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autograder: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
