"""What each command does with its parsed arguments, and the exit status it gives.

A `run_<name>` reads the course, calls its stage's entry point and prints what the stage returns
(terminal.py words it). cli.py declares the arguments and turns exceptions into messages and exit
statuses; each stage is imported when its command runs, so `autograder --help` stays light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

# Exit statuses, the same for every command.
EXIT_OK = 0
EXIT_FOUND = 1  # the command ran and found something wrong: failing tests, a miss, not graded
EXIT_INPUT = 2  # a file or an argument must be fixed (argparse's usage errors too)
EXIT_NOT_GRADED = 3  # grade: the batch ran to its end, but some submissions are not graded
EXIT_MACHINE = 4  # this machine cannot do it: a package, a kernel, the sandbox, a GPU is missing
EXIT_INTERRUPTED = 130


def _course(args: argparse.Namespace) -> Any:
    from .config import load_course

    return load_course(args.course)


def _check_source(course: Any, name: str) -> None:
    """The instructor's source notebook reads and follows the authoring rules, before any
    submission is graded against it: a broken source is the instructor's error, said once."""
    from .authoring import validate_source
    from .release import read_source

    spec = course.assignment(name)
    validate_source(read_source(spec), spec.notebook)


def run_release(args: argparse.Namespace) -> int:
    from .release import release_assignment
    from .terminal import relative, release_lines

    course = _course(args)
    for name in args.assignments or list(course.assignments):
        spec = course.assignment(name)
        if not args.assignments and not spec.notebook.is_file():
            print(f"{name}: skipped, no source notebook at {relative(spec.notebook, course.root)}")
            continue
        _say(release_lines(name, release_assignment(course=course, assignment=name), course.root))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from .student import check_notebook, render_summary

    summary = check_notebook(args.notebook, timeout=args.timeout, release=args.release,
                             kernel_name=args.kernel, progress=True)
    print(render_summary(summary, rich=sys.stdout.isatty()), end="")
    return EXIT_OK if summary.ok else EXIT_FOUND


def run_validate(args: argparse.Namespace) -> int:
    from .errors import AutograderError
    from .kills import render_matrix
    from .validate import Trial, Verdict, render_survivors, render_table, validate_assignment

    course = _course(args)
    reports = []
    for name in args.assignments:
        course.assignment(name)  # an unknown name fails before any grading starts
    if args.workers is not None and args.workers < 1:
        raise AutograderError(f"--workers {args.workers}: give at least 1")
    for name in args.assignments:
        def progress(row, name=name):
            if row.kind != Trial.GENERATED or row.verdict != Verdict.OK:
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
    return EXIT_FOUND if misses else EXIT_OK


def run_grade_one(args: argparse.Namespace) -> int:
    from .engine import grade_submission
    from .results import SubmissionStatus, write_result
    from .terminal import result_lines

    course = _course(args)
    _check_source(course, args.assignment)
    result = grade_submission(args.notebook, course=course, assignment=args.assignment,
                              require_sandbox=not args.no_require_sandbox)
    if args.out:
        write_result(result, args.out)
    _say(result_lines(result, args.notebook))
    return EXIT_OK if result.status == SubmissionStatus.GRADED else EXIT_FOUND


def run_grade(args: argparse.Namespace) -> int:
    from . import gpu
    from .batch import grade_batch, parse_shard
    from .batch_report import summary_lines
    from .feedback import write_batch_feedback
    from .terminal import ProgressDisplay, relative

    course = _course(args)
    shard = parse_shard(args.shard) if args.shard else None
    _check_source(course, args.assignment)
    out = args.out or course.root / "results"
    plan = gpu.gpu_plan(course.limits.gpu, course.limits.gpu_slots, path=course.path)
    with ProgressDisplay(args.assignment, rich=sys.stderr.isatty()) as progress:
        report = grade_batch(course=course, assignment=args.assignment,
                             submissions=args.submissions, out=out, workers=args.workers,
                             shard=shard, force=args.force, progress=progress,
                             manifest=args.manifest, require_sandbox=not args.no_require_sandbox,
                             gpu_slots=plan.slots)
    _say(summary_lines(report, shard=args.shard, out=relative(report.out, course.root)))
    # Beside the results: feedback/ next to results/ (next to course.toml by default).
    feedback = args.feedback or Path(out).parent / "feedback" / args.assignment
    try:
        pages, removed = write_batch_feedback(report, course=course, results=out, out=feedback,
                                              shard=shard)
        print(f"{args.assignment}: {len(pages)} feedback pages in "
              f"{relative(feedback, course.root)}"
              + (f" ({len(removed)} of submissions no longer there removed)" if removed else ""))
    except OSError as exc:
        # Grades are safe in the results; a read-only course folder (the CI container) only
        # loses the pages.
        print(f"autograder: warning: no feedback pages written to {feedback}: {exc.strerror}"
              " (pass --feedback DIR)", file=sys.stderr)
    if report.interrupted:
        print("autograder: interrupted; run the same command again to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_NOT_GRADED if report.not_graded else EXIT_OK


def run_gradebook(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .gradebook import build_gradebook
    from .moodle import grades_to_worksheet
    from .terminal import gradebook_lines, worksheet_line

    course = _course(args)
    for name in args.assignments:
        course.assignment(name)
    out = args.out or course.root / "grades.xlsx"
    book = build_gradebook(course=course, assignments=args.assignments,
                           results=args.results or [course.root / "results"], out=out)
    _say(gradebook_lines(book, course.root))
    if args.moodle_worksheet:
        if len(args.assignments) != 1:
            raise ConfigError("--moodle-worksheet is the worksheet of one assignment",
                              hint="run gradebook with that assignment alone")
        hw = args.assignments[0]
        report = grades_to_worksheet(worksheet=args.moodle_worksheet, rows=book.rows,
                                     assignment=hw, points=course.assignment(hw).points,
                                     out=out.with_name(out.stem + "-moodle-worksheet.csv"),
                                     timezone_name=course.timezone)
        print(worksheet_line(report, course.root))
    return EXIT_OK


def run_similarity(args: argparse.Namespace) -> int:
    from .similarity import report_path, similarity_report
    from .terminal import relative, similarity_lines

    course = _course(args)
    course.assignment(args.assignment)
    results = args.results or [course.root / "results"]
    pages = args.out or course.root / "similarity" / args.assignment
    report = similarity_report(
        course=course, assignment=args.assignment, results=results, pages=pages,
        submissions=args.submissions or course.root / "submissions" / args.assignment)
    out, err = similarity_lines(report, args.assignment)
    _say(out)
    _say(err, file=sys.stderr)
    print(f"wrote {relative(pages / 'index.html', course.root)}"
          + (f" and {len(report.flagged)} pair pages" if report.flagged else ""))
    print(f"wrote {relative(report_path(results[0], args.assignment), course.root)} "
          "(the gradebook shows it)")
    return EXIT_OK


def run_review(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .review import load_review
    from .review_server import ReviewServer

    course = _course(args)
    course.assignment(args.assignment)
    submissions = args.submissions or course.root / "submissions" / args.assignment
    if not submissions.exists():
        raise ConfigError("no such folder of submissions", path=submissions,
                          hint="pass --submissions DIR: the folder (or zip) that "
                               f"`autograder grade {args.assignment} DIR` graded")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number (0 to 65535)")

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"review: read {done}/{total} submissions", file=sys.stderr, flush=True)

    review = load_review(course=course, assignment=args.assignment,
                         results=args.results or [course.root / "results"],
                         submissions=submissions, blind=args.blind, on_submission=progress)
    server = ReviewServer(review, port=args.port)
    answers = sum(len(a) for a in review.answers.values())
    print(f"review: {len(review.questions)} question(s) graded by hand, {answers} answers"
          + (" (blind)" if args.blind else ""))
    print(f"review: open {server.url}", flush=True)
    print("review: marks are saved as you type; Ctrl-C stops the server", flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        print("review: stopped", file=sys.stderr)
    return EXIT_OK


def _say(lines: list[str], file: IO[str] | None = None) -> None:
    for line in lines:
        print(line, file=file)
