"""How the check speaks to a student: the summary as plain text, a rich table (terminal) or an
HTML table (notebook), and a progress line per question while a long check runs."""

from __future__ import annotations

import html
import io
import os
import sys
from typing import IO, Any

from .manifest import TestCell
from .summary import LABELS, RUN_ALL, CheckSummary, Outcome, RowStatus

COLOURS = {RowStatus.PASSED: "green", RowStatus.FAILED: "red", RowStatus.NOT_ATTEMPTED: "yellow",
           RowStatus.MISSING: "magenta", RowStatus.TIMEOUT: "red", RowStatus.NOT_RUN: "grey50",
           RowStatus.RUN_FIRST: "yellow", RowStatus.CHANGED: "magenta"}
HTML_COLOURS = {RowStatus.PASSED: "#1a7f37", RowStatus.FAILED: "#cf222e",
                RowStatus.NOT_ATTEMPTED: "#9a6700", RowStatus.MISSING: "#8250df",
                RowStatus.TIMEOUT: "#cf222e", RowStatus.NOT_RUN: "#6e7781",
                RowStatus.RUN_FIRST: "#9a6700", RowStatus.CHANGED: "#8250df"}
HEADER = ("question", "points", "status", "cell", "message")
FEEDBACK_ONLY = "Visible tests are feedback only: the grade comes from hidden tests too."


def headline(summary: CheckSummary) -> str:
    if summary.count(RowStatus.RUN_FIRST):
        return f"Not checked yet: {RUN_ALL}."
    total = len(summary.questions)
    text = f"{summary.count(RowStatus.PASSED)}/{total} visible tests pass"
    if summary.count(RowStatus.NOT_ATTEMPTED):
        text += f", {summary.count(RowStatus.NOT_ATTEMPTED)} not attempted"
    passed_points, all_points = summary.points
    if all_points:
        text += f" (questions worth {passed_points:g} of {all_points:g} points)"
    return text + (". Ready to submit." if summary.ok else ".")


def _rows(summary: CheckSummary) -> list[tuple[str, str, str, str, str]]:
    return [(q.grade_id, f"{q.points:g}" if q.points else "", LABELS.get(q.status, q.status),
             "" if q.cell is None else str(q.cell), q.message) for q in summary.questions]


def _title(summary: CheckSummary) -> str:
    return summary.notebook + (f" ({summary.assignment})" if summary.assignment else "")


def _team(summary: CheckSummary) -> str:
    return ", ".join(summary.team) if summary.team else "(not filled)"


def _after(summary: CheckSummary) -> list[str]:
    lines = [f"problem: {p}" for p in summary.problems]
    lines += [f"note: {n}" for n in summary.notes]
    return lines + [headline(summary), FEEDBACK_ONLY]


def render_summary(summary: CheckSummary, *, rich: bool = False) -> str:
    """The report as text: a rich table (for a terminal) or plain aligned columns."""
    if rich:
        return _render_rich(summary)
    rows = _rows(summary)
    widths = [max(len(r[k]) for r in [HEADER, *rows]) for k in range(4)]
    out = [_title(summary), f"team: {_team(summary)}", ""]
    for r in [HEADER, *rows]:
        out.append("  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4])
    out.append("")
    return "\n".join(out + _after(summary)).rstrip() + "\n"


def _render_rich(summary: CheckSummary) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_title(summary), caption=f"team: {_team(summary)}")
    for name in HEADER:
        table.add_column(name, overflow="fold", justify="right" if name == "points" else "left")
    for q, (grade_id, points, label, cell, message) in zip(summary.questions, _rows(summary)):
        # Text, not markup: messages come from the student's code and may hold brackets.
        table.add_row(grade_id, points, Text(label, style=COLOURS.get(q.status, "")), cell,
                      Text(message))
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=min(120, _width()))
    console.print(table)
    for line in _after(summary):
        style = "red" if line.startswith("problem:") else ""
        console.print(line, style=style, markup=False, highlight=False)
    return buffer.getvalue()


def render_html(summary: CheckSummary) -> str:
    """The report for a notebook's output area; everything the student's code said is escaped."""
    cell = 'style="text-align:left;padding:2px 8px;vertical-align:top"'
    head = "".join(f"<th {cell}>{name}</th>" for name in HEADER)
    body = []
    for q, row in zip(summary.questions, _rows(summary)):
        colour = HTML_COLOURS.get(q.status, "inherit")
        values = [html.escape(v) for v in row]
        values[2] = f'<b style="color:{colour}">{values[2]}</b>'
        body.append("<tr>" + "".join(f"<td {cell}>{v}</td>" for v in values) + "</tr>")
    after = []
    for line in _after(summary):
        style = ' style="color:#cf222e"' if line.startswith("problem:") else ""
        after.append(f"<div{style}>{html.escape(line)}</div>")
    return (f"<div><b>{html.escape(_title(summary))}</b> &mdash; team: "
            f"{html.escape(_team(summary))}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{''.join(after)}</div>")


def _width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100


class LineProgress:
    """A line per test cell as it finishes, on a stream (stderr in a shell: the report itself is
    on stdout). The status shown is the raw outcome; the table after it has the final word."""

    def __init__(self, tests: list[TestCell], *, name: str, stream: IO[str] | None = None) -> None:
        self.tests = {t.index: (n, t) for n, t in enumerate(tests, 1)}
        self.name, self.stream = name, stream or sys.stderr

    def __call__(self, index: int, outcome: Outcome) -> None:
        if index not in self.tests:
            return
        n, test = self.tests[index]
        if outcome.timed_out:
            what = "ran out of time"
        elif outcome.error is not None:
            what = f"raised {outcome.error[0]}"
        else:
            what = "ran"
        print(f"{self.name}: [{n}/{len(self.tests)}] {test.grade_id} (cell {test.index + 1}) "
              f"{what}", file=self.stream, flush=True)


class NotebookProgress:
    """One output line in the notebook, updated in place before each test cell and cleared at
    the end (Jupyter, Colab, VS Code and nbconvert all honour display updates)."""

    def __init__(self, tests: list[TestCell]) -> None:
        from IPython.display import display

        self.total, self.done = len(tests), 0
        self.handle: Any = display({"text/plain": f"checking {self.total} test cells..."},
                                   raw=True, display_id=True)

    def before(self, test: TestCell) -> None:
        self.done += 1
        if self.handle is not None:
            self.handle.update({"text/plain": f"checking {test.grade_id} (cell {test.index + 1})"
                                              f", {self.done} of {self.total}..."}, raw=True)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)
