"""The `autograder` command: parses arguments and calls one library entry point per stage.

A command is an `_add_<name>` function that declares its arguments (and the `_run_<name>` it
calls) plus one line in COMMANDS: adding a command touches nothing else. Start-up stays light:
this module imports only argparse and errors, and each command imports its stage when it runs
(`autograder --help` never loads nbformat, jupyter_client, numpy, torch or openpyxl). Exceptions
become a message and an exit code in one place, `exit_code_for`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .errors import AuthoringError, AutograderError, KernelError, SandboxUnavailable

# Exit statuses, the same for every command.
EXIT_OK = 0
EXIT_FOUND = 1  # the command ran and found something wrong: failing tests, a miss, not graded
EXIT_INPUT = 2  # a file or an argument must be fixed (argparse's usage errors too)
EXIT_NOT_GRADED = 3  # grade: the batch ran to its end, but some submissions are not graded
EXIT_MACHINE = 4  # this machine cannot do it: a package, a kernel, the sandbox is missing
EXIT_INTERRUPTED = 130
EPILOG = ("exit status: 0 done; 1 done, and something failed (tests, validation); "
          "2 a file or an argument is wrong; 3 (grade) the batch ran to its end but some "
          "submissions are not graded (named in the summary); 4 this machine lacks what the "
          "command needs (a package, a kernel, the sandbox); 130 interrupted.")
DEFAULT_COURSE = Path("course.toml")
GRADER_PYTHON = (3, 11)
# Import name → what to install, for a command that finds a package missing.
STUDENT_PACKAGES = {"nbformat": "nbformat", "nbclient": "nbclient", "rich": "rich",
                    "IPython": "ipykernel", "ipykernel": "ipykernel",
                    "jupyter_client": "jupyter_client"}
GRADER_PACKAGES = {"nbgrader": "nbgrader", "zmq": "pyzmq", "numpy": "numpy",
                   "openpyxl": "openpyxl", "sklearn": "scikit-learn", "torch": "torch"}


# --- the parser -------------------------------------------------------------------------------


def _command(sub: argparse._SubParsersAction, name: str, summary: str, description: str, *,
             run: Callable[[argparse.Namespace], int], grader: bool = True,
             ) -> argparse.ArgumentParser:
    """A sub-command; a grader's command also takes --course after its name."""
    parser = sub.add_parser(name, help=summary, description=description, epilog=EPILOG)
    if grader:
        # SUPPRESS: given here it wins, absent it leaves the value given before the command.
        parser.add_argument("--course", type=Path, default=argparse.SUPPRESS,
                            help="the course file (default: ./course.toml)")
    parser.set_defaults(run=run, grader=grader, command=name)
    return parser


def _hw(parser: argparse.ArgumentParser, nargs: str | None = None, help: str = "") -> None:
    parser.add_argument("assignments" if nargs else "assignment", nargs=nargs, metavar="HW",
                        help=help or "an assignment's name, as in course.toml's "
                                     "[assignments.NAME] (e.g. hw1_features)")


def _sandbox_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-require-sandbox", action="store_true",
                        help="grade UNSANDBOXED where the sandbox is impossible (not root, no "
                             "bubblewrap); every result records it (development only)")


def _add_release(sub: argparse._SubParsersAction) -> None:
    release = _command(sub, "release", "write release/ and solutions/ from source/", (
        "Write each assignment's student notebook (release/HW/HW.ipynb: solutions replaced by "
        "stubs, hidden tests removed, instructor cells locked) and its solution notebook "
        "(solutions/HW/HW.ipynb) from source/HW/HW.ipynb. Files already up to date are not "
        "rewritten."), run=_run_release)
    _hw(release, "*", "assignments to release (default: every one in course.toml)")


def _add_check(sub: argparse._SubParsersAction) -> None:
    check = _command(sub, "check", "run a notebook's visible tests (students' own check)", (
        "Run NOTEBOOK from top to bottom in a fresh Python kernel, as 'Restart and run all' "
        "would, and say per question whether its visible tests pass, and whether the team cell "
        "and the instructor's cells are intact. Feedback only: the grade comes from hidden "
        "tests. Exit 0 when every visible test passes and nothing needs fixing, else 1."),
        run=_run_check, grader=False)
    check.add_argument("notebook", type=Path, metavar="NOTEBOOK",
                       help="the homework notebook (.ipynb) to check")
    check.add_argument("--timeout", type=float, default=120.0, metavar="S",
                       help="seconds allowed per cell (default: 120)")
    check.add_argument("--release", type=Path, default=None, metavar="PATH",
                       help="the released notebook, to compare with when the editor dropped "
                            "the notebook's metadata")
    check.add_argument("--kernel", default="python3", metavar="NAME",
                       help="the Jupyter kernel to run it in (default: python3; "
                            "`jupyter kernelspec list` shows the others)")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    validate = _command(sub, "validate", "grade each homework's solution, stub and mutants; "
                                         "exit 1 on a miss", (
        "Test the tests: grade the solution (must score full marks), the released stub (must "
        "score 0) and every mutant in tests/data/mutants/HW/ (each must lose points), then the "
        "solution again. Exit 1 on any miss."), run=_run_validate)
    _hw(validate, "+", "assignments to validate")
    _sandbox_option(validate)


def _add_grade_one(sub: argparse._SubParsersAction) -> None:
    one = _command(sub, "grade-one", "grade one submitted notebook and print its result", (
        "Grade NOTEBOOK as a submission of --assignment, in the sandbox, and print each "
        "question's and each check's points. Exit 1 when it could not be graded."),
        run=_run_grade_one)
    one.add_argument("notebook", type=Path, metavar="NOTEBOOK",
                     help="the submitted notebook (.ipynb)")
    one.add_argument("--assignment", required=True, metavar="HW",
                     help="the assignment it answers, as named in course.toml")
    one.add_argument("--out", type=Path, default=None, metavar="JSON",
                     help="also write the result document there")
    _sandbox_option(one)


def _add_grade(sub: argparse._SubParsersAction) -> None:
    grade = _command(sub, "grade", "grade every submission of an assignment", (
        "Grade every submission in SUBMISSIONS, several kernels at once, each in the sandbox; "
        "write one JSON result per submission and one feedback page each. A rerun grades only "
        "what changed."), run=_run_grade)
    _hw(grade)
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


def _add_gradebook(sub: argparse._SubParsersAction) -> None:
    gradebook = _command(sub, "gradebook", "grades.xlsx, grades.csv and a Moodle import CSV", (
        "Join the results of one or more assignments with roster.csv and course.toml's late "
        "policy: one row per student, per-question points, penalties, final grade, flags."),
        run=_run_gradebook)
    _hw(gradebook, "+", "assignments in the gradebook")
    gradebook.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                           metavar="DIR", help="result folders, e.g. one per shard "
                                               "(default: results/ next to course.toml)")
    gradebook.add_argument("--out", type=Path, default=None, metavar="XLSX",
                           help="the spreadsheet (default: grades.xlsx next to course.toml)")
    gradebook.add_argument("--moodle-worksheet", type=Path, default=None, metavar="CSV",
                           help="Moodle's grading worksheet of this assignment (Download grading "
                                "worksheet): also write <out>-moodle-worksheet.csv with Grade and "
                                "Feedback comments filled, for Upload grading worksheet")


def _add_similarity(sub: argparse._SubParsersAction) -> None:
    similarity = _command(sub, "similarity", "which pairs wrote the same code: a report and "
                                             "side-by-side pages", (
        "Compare the pairs' own code (the released stub and the instructor's cells left out), "
        "per answer cell and overall, robust to renamed variables, reordered functions and "
        "changed comments; list the pairs above course.toml's [similarity] threshold, write an "
        "HTML page per flagged pair, and a report the gradebook shows. Never changes a grade."),
        run=_run_similarity)
    _hw(similarity)
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


def _add_review(sub: argparse._SubParsersAction) -> None:
    review = _command(sub, "review", "mark the questions graded by hand in a browser, question "
                                     "by question", (
        "Serve a page on 127.0.0.1 (its address, with a random token, is printed) listing every "
        "question graded by hand (written answers, code cells graded by hand, tasks) and, for "
        "one question, every pair's answer beside the reference answer and the rubric; marks "
        "and comments are saved as they are typed, in RESULTS/HW/marks/, where the gradebook "
        "and the feedback pages read them. Ctrl-C stops it."), run=_run_review)
    _hw(review)
    review.add_argument("--results", type=Path, nargs="+", action="extend", default=None,
                        metavar="DIR", help="result folders (default: results/ next to "
                                            "course.toml); marks are written to the first")
    review.add_argument("--submissions", type=Path, default=None, metavar="DIR",
                        help="the submissions that were graded (the folder or zip given to "
                             "`autograder grade`; default: submissions/HW next to course.toml)")
    review.add_argument("--blind", action="store_true",
                        help="hide the pairs' names and show them in a random order (the same "
                             "on every reload and for every TA of these results)")
    review.add_argument("--port", type=int, default=0, metavar="N",
                        help="port on 127.0.0.1 (default: any free one)")


# The commands, in the order `autograder --help` lists them.
COMMANDS = (_add_release, _add_check, _add_validate, _add_grade_one, _add_grade, _add_gradebook,
            _add_review, _add_similarity)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autograder",
        description="Release course notebooks, grade pairs' submissions in a sandbox, build the "
                    "gradebook; and, for students, check a notebook's visible tests.",
        epilog=EPILOG + " `autograder COMMAND --help` says more.",
    )
    parser.add_argument("--version", action="version", version=f"autograder {__version__}")
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE,
                        help="the course file (default: ./course.toml); also accepted after "
                             "the command")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


# --- the commands -----------------------------------------------------------------------------


def _course(args: argparse.Namespace):
    from .config import load_course

    return load_course(args.course)


def _check_source(course, name: str) -> None:
    """The instructor's source notebook reads and follows the authoring rules, before any
    submission is graded against it: a broken source is the instructor's error, said once."""
    from .authoring import validate_source
    from .release import read_source

    spec = course.assignment(name)
    validate_source(read_source(spec), spec.notebook)


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
    return EXIT_OK


def _run_check(args: argparse.Namespace) -> int:
    from .student import check_notebook, render_summary

    summary = check_notebook(args.notebook, timeout=args.timeout, release=args.release,
                             kernel_name=args.kernel, progress=True)
    print(render_summary(summary, rich=sys.stdout.isatty()), end="")
    return EXIT_OK if summary.ok else EXIT_FOUND


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
    return EXIT_FOUND if misses else EXIT_OK


def _run_grade_one(args: argparse.Namespace) -> int:
    from .engine import grade_submission
    from .results import write_result

    course = _course(args)
    _check_source(course, args.assignment)
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
    return EXIT_OK if result.status == "graded" else EXIT_FOUND


def _run_grade(args: argparse.Namespace) -> int:
    from . import gpu
    from .batch import grade_batch, in_shard, parse_shard
    from .batch_report import summary_lines
    from .feedback import remove_stale_pages, write_feedback
    from .marks import collect_marks

    course = _course(args)
    spec = course.assignment(args.assignment)
    shard = parse_shard(args.shard) if args.shard else None
    _check_source(course, args.assignment)
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
        return EXIT_INTERRUPTED
    return EXIT_NOT_GRADED if report.not_graded else EXIT_OK


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
    return EXIT_OK


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
    return EXIT_OK


def _run_review(args: argparse.Namespace) -> int:
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
        from .batch_report import shorten

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


# --- errors -----------------------------------------------------------------------------------


def _missing_package(exc: ModuleNotFoundError, command: str) -> str | None:
    top = (exc.name or "").split(".")[0]
    if top in GRADER_PACKAGES:
        return (f"`autograder {command}` needs the grader's packages ({GRADER_PACKAGES[top]} is "
                f"missing)\n  hint: pip install 'autograder[grade]' (or run scripts/install.sh)")
    if top in STUDENT_PACKAGES:
        return (f"`autograder {command}` needs {STUDENT_PACKAGES[top]}, which is not installed"
                f"\n  hint: pip install {STUDENT_PACKAGES[top]} (or reinstall autograder)")
    return None


def exit_code_for(exc: BaseException, command: str) -> tuple[int, str] | None:
    """(exit status, message) for an exception a user can act on; None for a bug, which keeps
    its traceback. The one place that maps error families to what the user reads."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "autograder: interrupted"
    if isinstance(exc, AuthoringError):
        return EXIT_INPUT, f"autograder: error in the instructor's source notebook: {exc}"
    if isinstance(exc, (KernelError, SandboxUnavailable)):
        return EXIT_MACHINE, f"autograder: cannot {command} on this machine: {exc}"
    if isinstance(exc, AutograderError):
        return EXIT_INPUT, f"autograder: error: {exc}"
    if isinstance(exc, ModuleNotFoundError):
        message = _missing_package(exc, command)
        return (EXIT_MACHINE, f"autograder: error: {message}") if message else None
    if isinstance(exc, OSError) and exc.filename is not None:
        return EXIT_INPUT, f"autograder: error: {exc.filename}: {exc.strerror or exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if getattr(args, "run", None) is None:
        parser.print_help()  # bare `autograder`: help on stdout, exit 0 like --help
        return EXIT_OK
    if args.grader and sys.version_info < GRADER_PYTHON:
        print(f"autograder: error: `autograder {args.command}` needs Python "
              f"{'.'.join(map(str, GRADER_PYTHON))} or newer (this is "
              f"{sys.version.split()[0]}); students' `check` runs on 3.9+", file=sys.stderr)
        return EXIT_MACHINE
    try:
        return int(args.run(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:
        mapped = exit_code_for(exc, args.command)
        if mapped is None:
            raise
        code, message = mapped
        print(message, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
