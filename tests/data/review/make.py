"""Builds the review page's test class: a source notebook with the three kinds of question graded
by hand, five pairs' submissions, and the results the grader writes for them.

Run `python tests/data/review/make.py` after changing it; everything it writes is committed.

- `source/essay/essay.ipynb`: an automatically graded function, a written answer (markdown,
  solution + grade, with a mark scheme and LaTeX), a code cell graded by hand (code, solution +
  grade) and an nbgrader task cell (markdown, `task: true`).
- `submissions/<pair>/essay.ipynb`: `pair-a` answers well (LaTeX, a table, an attachment image,
  a plot output); `pair-b` writes attacks instead of answers (script tags, an `onerror` image,
  `javascript:` links, SVG, iframes, a KaTeX `\\href`, HTML and SVG outputs); `pair-c` leaves the
  release's stubs; `pair-d` saved from Colab, every cell's metadata gone; `pair-e` answered only
  the written question.
- `results/essay/<pair>.json`: what `autograder grade` writes for them (manual questions as
  `QuestionResult(manual=True)`, the stubs as not attempted).
"""

from __future__ import annotations

import base64
import copy
import shutil
import sys
import zlib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[2]))
from autograder.notebook import nbgrader_metadata, write_notebook  # noqa: E402
from autograder.results import (  # noqa: E402
    QuestionResult,
    QuestionStatus,
    SubmissionResult,
    SubmissionStatus,
    write_result,
)

HW = "essay"
COURSE = """# The review page's test course.
[course]
name = "Review tests"
timezone = "Europe/Paris"
roster = "roster.csv"

[assignments.essay]
notebook = "source/essay/essay.ipynb"
due = "2026-10-12T23:59"
points = 20
"""
ROSTER = """student_id,last_name,first_name,email
3001,Martin,Léa,lea@example.edu
3002,Bernard,Hugo,hugo@example.edu
3003,Dubois,Chloé,chloe@example.edu
3004,Thomas,Lucas,lucas@example.edu
3005,Robert,Manon,manon@example.edu
3006,Petit,Jules,jules@example.edu
3007,Durand,Inès,ines@example.edu
3008,Leroy,Adam,adam@example.edu
3009,Moreau,Zoé,zoe@example.edu
3010,Simon,Noah,noah@example.edu
"""
TEAMS = {"pair-a": ["3001", "3002"], "pair-b": ["3003", "3004"], "pair-c": ["3005", "3006"],
         "pair-d": ["3007", "3008"], "pair-e": ["3009", "3010"]}

SQUARE = '''def square(x):
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION'''
WHY_BIAS = r"""### BEGIN SOLUTION
Without a bias the boundary $w^\top x = 0$ must pass through the origin; with it,
$w^\top x + b = 0$ can sit anywhere:

$$\sigma(z) = \frac{1}{1 + e^{-z}}$$

=== BEGIN MARK SCHEME ===
- 1 point: the boundary goes through the origin without a bias.
- 1 point: the bias shifts it, e.g. $b \neq 0$.
=== END MARK SCHEME ===
### END SOLUTION"""
LOOP = '''def total(values):
    ### BEGIN SOLUTION
    ### BEGIN MARK SCHEME
    # - 1 point: a loop (or `sum`) over the values, no numpy.
    ### END MARK SCHEME
    result = 0
    for v in values:
        result += v
    return result
    ### END SOLUTION'''
TASK = """Plot `square` on $[-2, 2]$ in the cells below and say, in a markdown cell, what you see.

=== BEGIN MARK SCHEME ===
- 1 point: a plot; 1 point: "a parabola", with its minimum at 0.
=== END MARK SCHEME ==="""

# 1×1 PNG (red), made here so that no image file is copied from elsewhere.
def _png() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", bytes([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0])) \
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(raw).decode()


PNG = _png()

# Attacks a pair may write in a markdown answer: none may run, load or navigate anything.
HOSTILE_MARKDOWN = r"""Our answer <script>window.__pwned = "script"; alert("script")</script>

<img src="x" onerror="window.__pwned = 'img'; alert('img')">

[a link](javascript:alert('link')) <a href="javascript:window.__pwned='a'">click</a>
<a href="data:text/html,<script>alert('data')</script>">data link</a>

<svg onload="alert('svg')"><script>alert('svg script')</script><circle r="5"/></svg>

![svg image](data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iYWxlcnQoMSkiLz4=)

<iframe src="javascript:alert('iframe')"></iframe><object data="x"></object><embed src="x">

<details open ontoggle="alert('toggle')"><summary>more</summary>hidden</details>

<style>body { display: none }</style><link rel="stylesheet" href="http://attacker.invalid/x.css">

<form action="http://attacker.invalid/"><button formaction="javascript:alert('form')">go</button></form>

<meta http-equiv="refresh" content="0; url=javascript:alert('meta')">

<base href="http://attacker.invalid/">

<div style="position:fixed;inset:0" class="answer current" id="top">overlay</div>

$x</span><img src=x onerror="alert('math')">$ and $$\href{javascript:alert('katex')}{click}$$

$\htmlId{pwn}{x}$ $\url{javascript:alert('url')}$ $\includegraphics{http://attacker.invalid/x.png}$

<img src="http://attacker.invalid/track.png">
"""
HOSTILE_CODE = '''def total(values):
    """</pre><script>alert('code')</script>"""
    return sum(values)'''


def source() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    task_meta = nbgrader_metadata("plot_task", locked=True)
    task_meta["nbgrader"].update(task=True, points=2)
    nb.cells = [
        new_code_cell('TEAM = ["<student id>", "<student id>"]', metadata={"autograder": {"team": True}}),
        new_markdown_cell("# Essay\n\n## 1. Squares (1 point)",
                          metadata=nbgrader_metadata("intro", locked=True)),
        new_code_cell(SQUARE, metadata=nbgrader_metadata("square", solution=True)),
        new_code_cell("assert square(3) == 9, 'square(3) should be 9'",
                      metadata=nbgrader_metadata("test_square", grade=True, locked=True, points=1)),
        new_markdown_cell("## 2. Why a bias? (2 points, graded by hand)\n\n"
                          "Explain in two sentences why logistic regression needs a bias $b$.",
                          metadata=nbgrader_metadata("why_header", locked=True)),
        new_markdown_cell(WHY_BIAS, metadata=nbgrader_metadata("why_bias", solution=True, grade=True,
                                                               points=2)),
        new_markdown_cell("## 3. A loop (1 point, graded by hand)\n\nWrite `total` with a loop.",
                          metadata=nbgrader_metadata("loop_header", locked=True)),
        new_code_cell(LOOP, metadata=nbgrader_metadata("loop", solution=True, grade=True, points=1)),
        new_markdown_cell("## 4. A plot (2 points)", metadata=nbgrader_metadata("plot_header",
                                                                                locked=True)),
        new_markdown_cell(TASK, metadata=task_meta),
    ]
    return nb


def stub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What the release gives students (enough of it for these tests)."""
    nb = copy.deepcopy(nb)
    nb.cells[2].source = "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    nb.cells[5].source = "YOUR ANSWER HERE"
    nb.cells[7].source = "def total(values):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    return nb


def submission(pair: str, src: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = stub(src)
    nb.cells[0].source = f"TEAM = {TEAMS[pair]!r}"
    if pair == "pair-c":
        return nb
    nb.cells[2].source = "def square(x):\n    return x * x"
    if pair == "pair-a":
        nb.cells[5].source = ("The boundary is $\\{x : w^\\top x = 0\\}$, a line through the origin; "
                              "the bias $b$ moves it.\n\n| degree | accuracy |\n|---|---|\n| 1 | 0.5 |\n\n"
                              "![plot](attachment:boundary.png)")
        nb.cells[5].attachments = {"boundary.png": {"image/png": PNG}}
        nb.cells[7].source = "def total(values):\n    result = 0\n    for v in values:\n        result += v\n    return result"
        plot = new_code_cell("xs = np.linspace(-2, 2)\nplt.plot(xs, square(xs))", outputs=[
            new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
            new_output("stream", name="stdout", text="plotted\n")])
        nb.cells += [plot, new_markdown_cell("A parabola, minimum $0$ at $x = 0$.")]
    elif pair == "pair-b":
        nb.cells[5].source = HOSTILE_MARKDOWN
        nb.cells[7].source = HOSTILE_CODE
        nb.cells[7].outputs = [
            new_output("display_data", data={
                "text/html": "<script>alert('html output')</script><img src=x onerror=alert(1)>",
                "image/svg+xml": "<svg onload=\"alert('svg output')\"></svg>",
                "application/javascript": "alert('js output')",
                "text/plain": "<IPython.core.display.HTML object>"}),
        ]
        nb.cells.append(new_markdown_cell("<img src=x onerror=\"alert('task')\"> see above"))
    elif pair == "pair-d":  # Colab dropped every cell's metadata
        nb.cells[5].source = "Without $b$ the line must pass through $0$."
        nb.cells[7].source = "def total(values):\n    return sum(values)"
        for cell in nb.cells:
            cell.metadata = {}
    elif pair == "pair-e":
        nb.cells[5].source = "A bias shifts the boundary."
    return nb


def result(pair: str) -> SubmissionResult:
    stubbed = pair == "pair-c"
    manual = [
        QuestionResult("why_bias", 0.0, 2.0,
                       QuestionStatus.NOT_ATTEMPTED if stubbed else QuestionStatus.MANUAL,
                       "graded by hand", manual=True),
        QuestionResult("loop", 0.0, 1.0,
                       QuestionStatus.NOT_ATTEMPTED if stubbed or pair == "pair-e"
                       else QuestionStatus.MANUAL,
                       "graded by hand", manual=True),
        QuestionResult("plot_task", 0.0, 2.0, QuestionStatus.MANUAL, "graded by hand", manual=True),
    ]
    auto = QuestionResult("test_square", 0.0 if stubbed else 1.0, 1.0,
                          QuestionStatus.NOT_ATTEMPTED if stubbed else QuestionStatus.PASSED)
    return SubmissionResult(
        assignment=HW, submission_id=pair, status=SubmissionStatus.GRADED, team=TEAMS[pair],
        content_hash=f"hash-{pair}", submitted_at="2026-10-10T12:00:00+02:00",
        questions=[auto, *manual], points=auto.points, max_points=6.0, sandbox="bwrap",
        grader_version="test", graded_at="2026-10-13T09:00:00+00:00",
        source=f"{pair}/{HW}.ipynb")


def fixed_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Cell ids by position: the files stay byte-identical when regenerated."""
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


def main() -> None:
    for folder in ("source", "submissions", "results"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
    (HERE / "course.toml").write_text(COURSE, encoding="utf-8")
    (HERE / "roster.csv").write_text(ROSTER, encoding="utf-8")
    src = source()
    write_notebook(fixed_ids(src), HERE / "source" / HW / f"{HW}.ipynb")
    for pair in TEAMS:
        write_notebook(fixed_ids(submission(pair, src)), HERE / "submissions" / pair / f"{HW}.ipynb")
        write_result(result(pair), HERE / "results" / HW / f"{pair}.json")


if __name__ == "__main__":
    main()
