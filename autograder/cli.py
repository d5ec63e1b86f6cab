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
                       help="a folder (one notebook, folder or zip per submission), Moodle's "
                            "'Download all submissions' zip, or GitHub Classroom clones")
    grade.add_argument("--workers", type=_kernels, default=None, metavar="N",
                       help="kernels at once (default or 0: from cores, memory and GPU slots)")
    grade.add_argument("--shard", default=None, metavar="i/N",
                       help="grade only shard i of N (0 <= i < N); merge with the gradebook")
    grade.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="results folder (default: results/ next to course.toml)")
    grade.add_argument("--force", action="store_true", help="regrade what is already graded")
    grade.add_argument("--manifest", type=Path, default=None, metavar="CSV",
                       help="the submission times: a manifest (submission_id,submitted_at), "
                            "Moodle's grading worksheet or GitHub Classroom's grades CSV "
                            "(default: SUBMISSIONS/manifest.csv); without one no submission "
                            "is late, and each result says so")
    grade.add_argument("--feedback", type=Path, default=None, metavar="DIR",
                       help="feedback pages (default: feedback/HW/ beside the results folder)")
    _sandbox_option(grade)
    grade.set_defaults(run=_run_grade)
    gradebook = sub.add_parser("gradebook", help="grades.xlsx, grades.csv and a Moodle import CSV")
    gradebook.add_argument("assignments", nargs="+", metavar="HW")
    gradebook.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                           metavar="DIR", help="result folders, e.g. one per shard "
                                               "(default: results/ next to course.toml)")
    gradebook.add_argument("--out", type=Path, default=None, metavar="XLSX",
                           help="the spreadsheet (default: grades.xlsx next to course.toml)")
    gradebook.add_argument("--moodle-worksheet", type=Path, default=None, metavar="CSV",
                           help="Moodle's grading worksheet of this assignment (Download grading "
                                "worksheet): also write <out>-moodle-worksheet.csv with Grade and "
                                "Feedback comments filled, for Upload grading worksheet")
    gradebook.set_defaults(run=_run_gradebook)
    similarity = sub.add_parser(
        "similarity", help="which pairs wrote the same code: a report and side-by-side pages")
    similarity.add_argument("assignment", metavar="HW")
    similarity.add_argument("submissions", type=Path, nargs="?", default=None,
                            metavar="SUBMISSIONS", help="the folder or Moodle zip that was graded "
                                                        "(default: submissions/HW next to "
                                                        "course.toml)")
    similarity.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                            metavar="DIR", help="result folders (teams as graded); the report "
                                                "goes into the first, where the gradebook reads "
                                                "it (default: results/ next to course.toml)")
    similarity.add_argument("--out", type=Path, default=None, metavar="DIR",
                            help="the HTML pages (default: similarity/HW/ next to course.toml)")
    similarity.set_defaults(run=_run_similarity)
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
        for path in result.removed:
            print(f"{name}: removed {_rel(path, course.root)} (no longer in the source)")
        if not result.written and not result.removed:
            print(f"{name}: up to date ({len(result.unchanged)} files)")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from .student import check_notebook, render_summary

    summary = check_notebook(args.notebook, timeout=args.timeout, release=args.release)
    print(render_summary(summary, rich=sys.stdout.isatty()))
    return 0 if summary.ok else 1


def _run_validate(args: argparse.Namespace) -> int:
    from .validate import render_table, validate_assignment

    course = _course(args)
    reports = []
    for name in args.assignments:
        course.assignment(name)  # an unknown name fails before any grading starts
    for name in args.assignments:
        def progress(row, name=name):
            print(f"{name}: {row.submission}: {row.verdict}", file=sys.stderr, flush=True)

        reports.append(validate_assignment(course=course, assignment=name,
                                           require_sandbox=not args.no_require_sandbox,
                                           on_row=progress))
    print(render_table(reports))
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
    from .batch import grade_batch, in_shard, parse_shard, summary_lines
    from .feedback import remove_stale_pages, write_feedback
    from .marks import collect_marks

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
    for line in summary_lines(report, shard=args.shard, out=_rel(report.out, course.root)):
        print(line)
    # Beside the results: feedback/ next to results/ (next to course.toml by default).
    feedback = args.feedback or Path(out).parent / "feedback" / args.assignment
    # Pages for the submissions there are now; a page of one that is gone is removed, unless
    # the run was cut short (then what is there is not known).
    current = set(report.graded) | set(report.skipped)
    mine = [r for r in report.results if in_shard(r.submission_id, shard)
            and (report.interrupted or r.submission_id in current)]
    try:
        pages = write_feedback(mine, out=feedback, source_notebook=spec.notebook,
                               course_name=course.name, course=course,
                               marks=collect_marks([out], args.assignment))
        removed = [] if report.interrupted else remove_stale_pages(
            feedback, current, mine=lambda sid: in_shard(sid, shard))
        print(f"{args.assignment}: {len(pages)} feedback pages in {_rel(feedback, course.root)}"
              + (f" ({len(removed)} of submissions no longer there removed)" if removed else ""))
    except OSError as exc:
        # Grades are safe in the results; a read-only course folder (the CI container) only
        # loses the pages.
        print(f"autograder: warning: no feedback pages written to {feedback}: {exc.strerror}"
              " (pass --feedback DIR)", file=sys.stderr)
    if report.interrupted:
        print("autograder: interrupted; run the same command again to finish", file=sys.stderr)
        return 130
    return NOT_GRADED_EXIT if report.not_graded else 0


NOT_GRADED_EXIT = 3  # the batch ran to its end, but some submissions are not graded


def _kernels(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: the number of kernels cannot be negative "
                                         "(0 sizes it from the machine)")
    return value


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
    if book.marks_taken:
        print(f"gradebook: {book.marks_taken} mark(s) typed into the spreadsheet stored with the "
              "results")
    for path in (book.xlsx, book.csv, book.moodle_csv):
        print(f"wrote {_rel(path, course.root)}")
    if args.moodle_worksheet:
        _write_moodle_worksheet(args, course, book)
    return 0


def _write_moodle_worksheet(args: argparse.Namespace, course, book) -> None:
    from .errors import ConfigError
    from .moodle import grades_to_worksheet

    if len(args.assignments) != 1:
        raise ConfigError("--moodle-worksheet is the worksheet of one assignment",
                          hint="run gradebook with that assignment alone")
    hw = args.assignments[0]
    out = args.out or course.root / "grades.xlsx"
    report = grades_to_worksheet(worksheet=args.moodle_worksheet, rows=book.rows, assignment=hw,
                                 points=course.assignment(hw).points,
                                 out=out.with_name(out.stem + "-moodle-worksheet.csv"),
                                 timezone_name=course.timezone)
    print(f"wrote {_rel(report.path, course.root)}: {len(report.written)} grades filled, "
          f"{len(report.left)} rows left as downloaded (no graded submission)"
          + (f", {len(report.locked)} locked in Moodle" if report.locked else "")
          + ("" if report.feedback else "; no Feedback comments column in the worksheet")
          + "; upload it with View all submissions > Upload grading worksheet")


def _run_similarity(args: argparse.Namespace) -> int:
    from .similarity import report_path, similarity_report

    course = _course(args)
    course.assignment(args.assignment)
    results = args.results or [course.root / "results"]
    pages = args.out or course.root / "similarity" / args.assignment
    report = similarity_report(
        course=course, assignment=args.assignment, results=results, pages=pages,
        submissions=args.submissions or course.root / "submissions" / args.assignment)

    def shown(text: str) -> str:  # ids come from notebooks: no terminal control characters
        return "".join(ch if ch.isprintable() else "?" for ch in text)

    flagged = report.flagged
    print(f"{args.assignment}: {report.submissions} submissions, {report.compared_pairs} pairs "
          f"compared; {len(flagged)} at or above {report.threshold:.0%}"
          + (f"; {len(report.skipped)} not compared" if report.skipped else ""))
    for p in flagged:
        print(f"  {p.score:4.0%}  {shown(p.a)} ({shown('; '.join(p.team_a))})  ~  {shown(p.b)} "
              f"({shown('; '.join(p.team_b))}): {shown(', '.join(p.matched_cells(report.threshold)))}")
    for sid, why in sorted(report.skipped.items()):
        print(f"  not compared: {shown(sid)}: {shown(why)}", file=sys.stderr)
    print(f"wrote {_rel(pages / 'index.html', course.root)}"
          + (f" and {len(flagged)} pair pages" if flagged else ""))
    print(f"wrote {_rel(report_path(results[0], args.assignment), course.root)} "
          "(the gradebook shows it)")
    return 0


class _progress:
    """The batch's progress: one line per submission (also above the bar on a terminal), and on a
    terminal a bar with an ETA from the pace of the submissions graded so far."""

    def __init__(self, assignment: str, *, rich: bool) -> None:
        self.assignment, self.rich, self.bar, self.task = assignment, rich, None, None

    def __enter__(self):
        if self.rich:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            # On stderr, like the plain lines: stdout keeps only the summary.
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                TextColumn("[red]{task.fields[failures]} not graded"), transient=False,
                console=Console(stderr=True))
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, event) -> None:
        from .batch import shorten

        if event.result is None:
            self._say(f"{self.assignment}: {event.total} submissions, {event.skipped} already "
                      f"graded, {event.to_grade} to grade with {event.workers} worker(s)")
        else:
            r = event.result
            what = (f" {r.points:g}/{r.max_points:g}" if r.status == "graded"
                    else f": {shorten(r.reason, 100)}" if r.reason else "")
            late = next((f.message for f in r.flags if f.code == "late"), "")
            self._say(f"{self.assignment}: [{event.done}/{event.total}] {r.submission_id}: "
                      f"{r.status}{what}" + (f" ({late})" if late else "")
                      + (f", ETA {_duration(event.eta_s)}" if event.eta_s else ""))
        if self.bar is not None:
            eta = "ETA " + (_duration(event.eta_s) if event.eta_s is not None else "-:--:--")
            if self.task is None:
                self.task = self.bar.add_task(self.assignment, total=event.total,
                                              completed=event.done, failures=0, eta=eta)
            self.bar.update(self.task, completed=event.done, failures=event.failures, eta=eta)

    def _say(self, line: str) -> None:
        if self.bar is not None:
            from rich.text import Text

            self.bar.console.print(Text(line))  # Text: a name like "[red]x" is not markup
        else:
            print(line, file=sys.stderr, flush=True)


def _duration(seconds: float | None) -> str:
    seconds = int(round(seconds or 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


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
