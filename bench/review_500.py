"""The review page with a class of 500 pairs: start-up, one question's payload, the page in a
browser, against the floor of reading the same notebooks with nbformat alone.

The class is made here: hw1_features' source notebook, 500 copies of its solution notebook
(realistic size, ~30 kB) whose written answer differs per pair (text, LaTeX, a table), and the
results the grader writes for them. Figures are printed, never asserted.

    python bench/review_500.py [--pairs 500] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.config import load_course  # noqa: E402
from autograder.notebook import write_notebook  # noqa: E402
from autograder.results import (  # noqa: E402
    QuestionResult,
    QuestionStatus,
    SubmissionResult,
    write_result,
)
from autograder.review import load_review  # noqa: E402
from autograder.review_server import ReviewServer  # noqa: E402

HW = "hw1_features"
QUESTION = "written_degrees"


def make_class(where: Path, pairs: int) -> Path:
    (where / "source" / HW).mkdir(parents=True)
    shutil.copy(ROOT / "source" / HW / f"{HW}.ipynb", where / "source" / HW)
    (where / "course.toml").write_text(
        f'[course]\nname = "bench"\ntimezone = "Europe/Paris"\nroster = "roster.csv"\n'
        f'[assignments.{HW}]\nnotebook = "source/{HW}/{HW}.ipynb"\ndue = "2026-10-12T23:59"\n',
        encoding="utf-8")
    roster = ["student_id,last_name,first_name,email"]
    solution = nbformat.read(ROOT / "solutions" / HW / f"{HW}.ipynb", as_version=4)
    written = next(i for i, c in enumerate(solution.cells)
                   if c.metadata.get("nbgrader", {}).get("grade_id") == QUESTION)
    for n in range(pairs):
        ids = [f"{22000000 + 2 * n}", f"{22000001 + 2 * n}"]
        roster += [f"{ids[0]},Nom{n},Prénom{n},a{n}@x", f"{ids[1]},Name{n},First{n},b{n}@x"]
        nb = nbformat.from_dict(json.loads(json.dumps(solution)))
        nb.cells[0].source = f"TEAM = {ids!r}"
        nb.cells[written].source = (
            f"Pair {n}: *gauss* is separable at degree {1 + n % 3}; *circle* needs "
            f"$x_1^2 + x_2^2 = r^{2 + n % 2}$, and *xor* the monomial $x_1 x_2$.\n\n"
            "$$\\sigma(z) = \\frac{1}{1 + e^{-z}}$$\n\n| degree | accuracy |\n|---|---|\n"
            f"| 1 | 0.{50 + n % 40} |\n| 2 | 0.9{n % 10} |\n\nThe spiral needs polar features.")
        sid = f"pair{n:03d}"
        write_notebook(nb, where / "submissions" / sid / f"{HW}.ipynb")
        write_result(SubmissionResult(
            assignment=HW, submission_id=sid, status="graded", team=ids,
            questions=[QuestionResult(QUESTION, 0.0, 2.0, QuestionStatus.MANUAL, "graded by hand",
                                      manual=True)],
            max_points=2.0, graded_at="2026-10-13T09:00:00+00:00", source=f"{sid}/{HW}.ipynb"),
            where / "results" / HW / f"{sid}.json")
    (where / "roster.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
    return where


def floor(where: Path) -> float:
    """Reading every submitted notebook with nbformat: what any review tool pays."""
    started = time.perf_counter()
    for path in sorted((where / "submissions").glob(f"*/{HW}.ipynb")):
        nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    return time.perf_counter() - started


def browser_figures(server: ReviewServer) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        started = time.perf_counter()
        page.goto(server.url)
        page.wait_for_selector("body[data-ready]", timeout=120_000)
        ready = time.perf_counter() - started
        keys = []
        for _ in range(50):
            t = time.perf_counter()
            page.keyboard.press("j")
            page.locator(".answer.current").wait_for()
            keys.append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(5):  # mark five pairs: type, Enter to the next
            page.keyboard.press("Enter")
            page.keyboard.type("1.5")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
        while page.locator(".answer .state.saved").count() < 5:
            time.sleep(0.02)
        marked = time.perf_counter() - t
        chromium.close()
    return {"page ready (s)": ready, "next pair, median (ms)": 1000 * statistics.median(keys),
            "5 marks typed and saved (s)": marked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = make_class(Path(tmp), args.pairs)
        course = load_course(where / "course.toml")
        base = floor(where)
        started = time.perf_counter()
        review = load_review(course=course, assignment=HW, results=[where / "results"],
                             submissions=where / "submissions")
        loading = time.perf_counter() - started
        with ReviewServer(review) as server:
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.port}/api/questions/{QUESTION}",
                headers={"Authorization": f"token {server.token}"})
            times, size = [], 0
            for _ in range(5):
                t = time.perf_counter()
                with urllib.request.urlopen(request) as reply:
                    size = len(reply.read())
                times.append(time.perf_counter() - t)
            figures = {} if args.no_browser else browser_figures(server)
        print(f"review of {args.pairs} pairs ({HW}, one written answer each)")
        print(f"  floor: nbformat reads the {args.pairs} notebooks   {base:7.2f} s")
        print(f"  load_review (read, match, render)          {loading:7.2f} s  "
              f"({loading / base:.1f}x the floor, {1000 * loading / args.pairs:.1f} ms a pair)")
        print(f"  one question's answers, JSON               {1000 * statistics.median(times):7.1f} ms"
              f"  ({size / 1024:.0f} kB)")
        for name, value in figures.items():
            print(f"  browser: {name:<34}{value:7.2f}")


if __name__ == "__main__":
    main()
