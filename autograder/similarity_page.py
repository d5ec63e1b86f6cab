"""The similarity report as web pages: an index of the pairs, and each flagged pair side by side.

Everything a submission wrote (code, ids) and every name is escaped; the pages load nothing and
run nothing (a Content-Security-Policy forbids scripts even if escaping were ever missed).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_atomic

if TYPE_CHECKING:
    from .own_code import OwnCell
    from .pair_scores import Region
    from .similarity import Pair, SimilarityReport

e = html.escape
COLOURS = ("#ffe08a", "#a8e6a1", "#a9d3ff", "#f7b7d2", "#d5c2ff", "#ffc59e")
STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    ".sides{display:flex;gap:1em}.side{flex:1;min-width:0}"
    "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;white-space:pre-wrap;margin:.2em 0 1em}"
    "mark{border-radius:2px}a mark{color:inherit}h3{margin:.6em 0 0;font-size:1em}"
    + "".join(f".c{i}{{background:{c}}}" for i, c in enumerate(COLOURS))
)


def _head(title: str) -> str:
    # The policy forbids every script and outside resource: the page is text and colours.
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            f"style-src 'unsafe-inline'\">\n<title>{e(title)}</title>\n"
            f"<style>{STYLE}</style></head><body>\n")


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def _marked(source: str, spans: list[tuple[int, int, int]], side: str, other: str) -> str:
    """A cell's code, escaped, each matching region highlighted and linked to its counterpart."""
    out, pos = [], 0
    for start, end, n in sorted(spans):
        out.append(e(source[pos:start]))
        out.append(f'<a href="#{other}{n}"><mark id="{side}{n}" class="c{n % len(COLOURS)}" '
                   f'title="region {n}">{e(source[start:end])}</mark></a>')
        pos = end
    out.append(e(source[pos:]))
    return "".join(out)


def _side(cells: list[OwnCell], regions: list[Region], side: str) -> str:
    other = "b" if side == "a" else "a"
    out = []
    for ci, cell in enumerate(cells):
        spans = [(r.a_start, r.a_end, r.number) if side == "a" else (r.b_start, r.b_end, r.number)
                 for r in regions if (r.a_cell if side == "a" else r.b_cell) == ci]
        out.append(f"<h3>cell {cell.number} — {e(cell.unit)}</h3>"
                   f"<pre>{_marked(cell.source, spans, side, other)}</pre>")
    return "\n".join(out) or "<p>(no code of their own)</p>"


def render_pair(pair: Pair, a: list[OwnCell], b: list[OwnCell], regions: list[Region], *,
                course_name: str, assignment: str, threshold: float) -> str:
    """One flagged pair: scores, per-cell scores, the regions, both pairs' code side by side."""
    title = f"{assignment}: {pair.a} and {pair.b}"
    out = [_head(title), f"<h1>{e(assignment)} — {e(course_name)}</h1>",
           f"<p><b>{pair.score:.0%}</b> of the two pairs' own code matches (threshold "
           f"{threshold:.0%}; {pair.shared:g} fingerprints in common). The released stubs, the "
           "instructor's cells and code quoted in the instructions are not counted. This is a "
           "flag to look at, not a finding: read the code.</p>",
           "<table><tr><th></th><th>submission</th><th>team</th></tr>",
           f"<tr><td>A</td><td>{e(pair.a)}</td><td>{e('; '.join(pair.team_a))}</td></tr>",
           f"<tr><td>B</td><td>{e(pair.b)}</td><td>{e('; '.join(pair.team_b))}</td></tr></table>"]
    if pair.same_students:
        out.append(f"<p>The same student(s) in both teams: {e(', '.join(pair.same_students))}.</p>")
    out.append("<h2>Per cell</h2><table><tr><th>cell</th><th>score</th></tr>")
    out += [f"<tr><td>{e(unit)}</td><td>{score:.0%}</td></tr>"
            for unit, score in sorted(pair.cells.items(), key=lambda x: -x[1])]
    out.append("</table><h2>Matching regions</h2>")
    if regions:
        out.append("<table><tr><th>#</th><th>A</th><th>B</th><th>tokens</th></tr>")
        for r in regions:
            ca, cb = a[r.a_cell], b[r.b_cell]
            colour = f' class="c{r.number % len(COLOURS)}"'
            out.append(
                f'<tr><td{colour}>{r.number}</td>'
                f'<td><a href="#a{r.number}">cell {ca.number} ({e(ca.unit)}), lines '
                f"{_line(ca.source, r.a_start)}–{_line(ca.source, r.a_end)}</a></td>"
                f'<td><a href="#b{r.number}">cell {cb.number} ({e(cb.unit)}), lines '
                f"{_line(cb.source, r.b_start)}–{_line(cb.source, r.b_end)}</a></td>"
                f"<td>{r.tokens}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No single stretch is long enough to show.</p>")
    out += ['<div class="sides">',
            f'<div class="side"><h2>A: {e(pair.a)}</h2>{_side(a, regions, "a")}</div>',
            f'<div class="side"><h2>B: {e(pair.b)}</h2>{_side(b, regions, "b")}</div>',
            "</div></body></html>\n"]
    return "\n".join(out)


def _pair_rows(pairs: list[Pair], threshold: float) -> list[str]:
    out = ["<table><tr><th>#</th><th>score</th><th>submission A</th><th>team A</th>"
           "<th>submission B</th><th>team B</th><th>cells</th><th>page</th></tr>"]
    for n, p in enumerate(pairs, start=1):
        link = f'<a href="{e(Path(p.page).name)}">side by side</a>' if p.page else ""
        cells = ", ".join(p.matched_cells(threshold)) or "-"
        out.append(f"<tr><td>{n}</td><td>{p.score:.0%}</td><td>{e(p.a)}</td>"
                   f"<td>{e('; '.join(p.team_a))}</td><td>{e(p.b)}</td>"
                   f"<td>{e('; '.join(p.team_b))}</td><td>{e(cells)}</td><td>{link}</td></tr>")
    out.append("</table>")
    return out


def render_index(report: SimilarityReport, *, course_name: str) -> str:
    flagged = report.flagged
    below = [p for p in report.pairs if not p.flagged]
    out = [_head(f"{report.assignment}: similarity"),
           f"<h1>{e(report.assignment)} — similarity — {e(course_name)}</h1>",
           f"<p>{report.submissions} submissions, {report.compared_pairs} pairs compared on the "
           f"pairs' own code ({report.created_at}). Threshold {report.threshold:.0%} "
           "(<code>[similarity] threshold</code> in course.toml). "
           f"{report.common_fingerprints} fingerprints found in many submissions were set aside "
           "as the class's common idiom. A flag is for the instructor to read the code; it "
           "changes no grade.</p>",
           f"<h2>Flagged pairs ({len(flagged)})</h2>"]
    out += _pair_rows(flagged, report.threshold) if flagged else ["<p>None.</p>"]
    if below:
        out.append("<h2>The next most similar pairs (below the threshold)</h2>")
        out += _pair_rows(below, report.threshold)
    out.append("<h2>Scores of all pairs</h2><table><tr><th>score</th><th>pairs</th></tr>")
    for k, count in enumerate(report.histogram):
        out.append(f"<tr><td>{k * 10}–{(k + 1) * 10}%</td><td>{count}</td></tr>")
    out.append("</table>")
    if report.skipped:
        out.append("<h2>Not compared</h2><ul>")
        out += [f"<li>{e(sid)}: {e(why)}</li>" for sid, why in sorted(report.skipped.items())]
        out.append("</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)


def write_pages(folder: Path, pages: dict[str, str]) -> None:
    """Write the pages atomically; pair pages of an earlier run that are not rewritten go."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("pair-*.html"):
        if old.name not in pages:
            old.unlink(missing_ok=True)
    for name, text in pages.items():
        write_atomic(folder / name, text, shared=True)  # shared: the teaching staff read them
