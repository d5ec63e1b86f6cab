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
    return parser


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
