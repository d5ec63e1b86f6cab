"""What a student's install costs: the course's wheel installed into a fresh virtual environment.

For this checkout's wheel and, with --baseline, the wheel of an earlier revision (built from
`git archive`): wall time of `pip install WHEEL`, the distributions it brings, the size of the
environment. Both runs use pip's cache as it is (run twice to compare warm caches), the
package index and the pip configuration of this machine.

    python bench/install.py [--baseline REV] [--python python3.11]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from revisions import checkout

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(source: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(source)], check=True)
    return next(out.glob("autograder-*.whl"))


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def measure(wheel: Path, python: str, where: Path) -> dict:
    venv = where / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    empty = size_of(venv)
    started = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, env=env, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    listed = json.loads(subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "json"], check=True,
        capture_output=True, text=True, env=env).stdout)
    names = sorted(p["name"].lower() for p in listed)
    return {"seconds": seconds, "packages": len(names), "bytes": size_of(venv) - empty,
            "names": names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    parser.add_argument("--python", default=sys.executable, help="the students' interpreter")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sources = [("this checkout", ROOT)]
        if args.baseline:
            sources.insert(0, (f"baseline {args.baseline}", checkout(args.baseline,
                                                                    tmp / "baseline")))
        for n, (label, source) in enumerate(sources):
            wheel = build_wheel(source, tmp / f"wheel{n}")
            rows.append((label, measure(wheel, args.python, tmp / f"env{n}")))
    print(f"python: {subprocess.run([args.python, '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"{'wheel':<28} {'install s':>10} {'packages':>9} {'size MB':>9}")
    for label, m in rows:
        print(f"{label:<28} {m['seconds']:>10.1f} {m['packages']:>9} {m['bytes'] / 1e6:>9.0f}")
    if len(rows) == 2:
        (_, before), (_, after) = rows
        print(f"{'ratio (baseline / now)':<28} {before['seconds'] / after['seconds']:>10.1f} "
              f"{before['packages'] / after['packages']:>9.1f} "
              f"{before['bytes'] / after['bytes']:>9.1f}")
        gone = sorted(set(before["names"]) - set(after["names"]))
        print(f"no longer installed ({len(gone)}): {', '.join(gone)}")
    print(f"installed now: {', '.join(rows[-1][1]['names'])}")


if __name__ == "__main__":
    main()
