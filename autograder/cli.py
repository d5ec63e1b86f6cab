"""The `autograder` command: parses arguments and calls one library entry point per stage.

A command is an `_add_<name>` function that declares its arguments (and the commands.run_<name>
it calls) plus one line in COMMANDS. Start-up stays light: this module imports only argparse,
errors and commands, and each command imports its stage when it runs (`autograder --help` never
loads nbformat, jupyter_client, numpy, torch or openpyxl). Exceptions become a message and an
exit code in one place, `exit_code_for`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__, commands
from .commands import (
    EXIT_FOUND,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_MACHINE,
    EXIT_NOT_GRADED,
    EXIT_OK,
)
from .errors import (
    AuthoringError,
    AutograderError,
    GpuUnavailable,
    JudgeError,
    KernelError,
    SandboxUnavailable,
)

__all__ = ["EXIT_FOUND", "EXIT_INPUT", "EXIT_INTERRUPTED", "EXIT_MACHINE", "EXIT_NOT_GRADED",
           "EXIT_OK", "build_parser", "exit_code_for", "main"]
EPILOG = ("exit status: 0 done; 1 done, and something failed (tests, validation); "
          "2 a file or an argument is wrong; 3 (grade) the batch ran to its end but some "
          "submissions are not graded (named in the summary); 4 this machine lacks what the "
          "command needs (a package, a kernel, the sandbox, a GPU the course requires); "
          "130 interrupted.")
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


def _kernels(text: str) -> int:
    """--workers: a whole number of kernels, 0 for the machine's size."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: the number of kernels cannot be negative "
                                         "(0 sizes it from the machine)")
    return value


def _add_release(sub: argparse._SubParsersAction) -> None:
    release = _command(sub, "release", "write release/ and solutions/ from source/", (
        "Write each assignment's student notebook (release/HW/HW.ipynb: solutions replaced by "
        "stubs, hidden tests removed, instructor cells locked) and its solution notebook "
        "(solutions/HW/HW.ipynb) from source/HW/HW.ipynb. Files already up to date are not "
        "rewritten."), run=commands.run_release)
    _hw(release, "*", "assignments to release (default: every one in course.toml)")


def _add_check(sub: argparse._SubParsersAction) -> None:
    check = _command(sub, "check", "run a notebook's visible tests (students' own check)", (
        "Run NOTEBOOK from top to bottom in a fresh Python kernel, as 'Restart and run all' "
        "would, and say per question whether its visible tests pass, and whether the team cell "
        "and the instructor's cells are intact. Feedback only: the grade comes from hidden "
        "tests. Exit 0 when every visible test passes and nothing needs fixing, else 1."),
        run=commands.run_check, grader=False)
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
        "solution again, and every correct variant in tests/data/variants/HW/ (each must score "
        "full). Exit 1 on any miss."), run=commands.run_validate)
    _hw(validate, "+", "assignments to validate")
    validate.add_argument("--mutate", action="store_true",
                          help="also grade the mutants generated from the solution's answer "
                               "cells; print the survivors with their diff")
    validate.add_argument("--workers", type=int, default=None, metavar="N",
                          help="gradings at once (default: from cores and memory)")
    _sandbox_option(validate)


def _add_grade_one(sub: argparse._SubParsersAction) -> None:
    one = _command(sub, "grade-one", "grade one submitted notebook and print its result", (
        "Grade NOTEBOOK as a submission of --assignment, in the sandbox, and print each "
        "question's and each check's points. Exit 1 when it could not be graded."),
        run=commands.run_grade_one)
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
        "what changed."), run=commands.run_grade)
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
        run=commands.run_gradebook)
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
        run=commands.run_similarity)
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
        "and the feedback pages read them. Ctrl-C stops it."), run=commands.run_review)
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
    if isinstance(exc, JudgeError):
        return None  # a test cell's, turned into its result by the judge: here, a grader bug
    if isinstance(exc, AuthoringError):
        return EXIT_INPUT, f"autograder: error in the instructor's source notebook: {exc}"
    if isinstance(exc, (KernelError, SandboxUnavailable, GpuUnavailable)):
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
