"""The `autograder` command: parses arguments and calls one library entry point per stage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import AutograderError


def _course(args: argparse.Namespace):
    from .config import load_course

    return load_course(args.course)


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
    validate.add_argument("--no-sandbox", action="store_true",
                          help="grade without bubblewrap where it is missing (development only)")
    validate.set_defaults(run=_run_validate)
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
    from .validate import render_table, validate_assignment

    course = _course(args)
    reports = []
    for name in args.assignments:
        course.assignment(name)  # an unknown name fails before any grading starts
    for name in args.assignments:
        def progress(row, name=name):
            print(f"{name}: {row.submission}: {row.verdict}", file=sys.stderr, flush=True)

        reports.append(validate_assignment(course=course, assignment=name,
                                           require_sandbox=not args.no_sandbox,
                                           on_row=progress))
    print(render_table(reports))
    misses = sum(len(r.misses) for r in reports)
    if misses:
        print(f"{misses} miss{'es' if misses > 1 else ''}", file=sys.stderr)
    return 1 if misses else 0


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
