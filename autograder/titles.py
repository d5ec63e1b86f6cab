"""Question titles for people: the markdown heading above each graded cell of the source notebook.

JupyterLab names cells `cell-ee55ff66aa77bb88`; a gradebook column or a feedback row reads better
as "1. Polynomial features", the heading the students saw above the question.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import AutograderError
from .notebook import Role, cells_of, read_notebook

HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# "(3 points)", "(2 points, graded by hand)": the gradebook shows the points on their own.
POINTS_NOTE = re.compile(r"\s*\([^()]*\bpoints?\b[^()]*\)\s*$", re.IGNORECASE)
JUPYTER_ID = re.compile(r"^cell-[0-9a-f]{8,}$")
TITLE_CHARS = 80


def clean_heading(text: str) -> str:
    """A heading as plain text: no markdown emphasis or code marks, no points note."""
    text = re.sub(r"[*_`]+", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [link](url) → link
    text = POINTS_NOTE.sub("", text).strip()
    return text[:TITLE_CHARS].rstrip() + ("…" if len(text) > TITLE_CHARS else "")


def headings_above(source_notebook: Path) -> dict[str, str]:
    """grade id → the last heading before that cell (or in it, for a locked task cell).

    Headings in answer cells are the solution's text, not titles (every other cell of the source
    notebook is the instructor's). An unreadable notebook gives no headings: titles then fall
    back to grade ids.
    """
    try:
        cells = cells_of(read_notebook(source_notebook))
    except (AutograderError, OSError):
        return {}
    heading, found = "", dict[str, str]()
    for cell in cells:
        if cell.cell_type == "markdown" and cell.role not in (Role.WRITTEN, Role.ANSWER):
            headings = HEADING.findall(cell.source)
            if headings:
                heading = clean_heading(headings[-1])
        if cell.grade_id and heading:
            found.setdefault(cell.grade_id, heading)
    return found


def question_titles(grade_ids: list[str], headings: dict[str, str]) -> dict[str, str]:
    """A distinct title for each question (in notebook order).

    Questions under one heading are told apart as "(part 1)", "(part 2)"; a question with no
    heading above it keeps its grade id, unless that is a generated `cell-…` id ("question N").
    """
    titles = {}
    for number, qid in enumerate(grade_ids, start=1):
        titles[qid] = headings.get(qid) or (f"question {number}" if JUPYTER_ID.match(qid) else qid)
    shared: dict[str, list[str]] = {}
    for qid in grade_ids:
        shared.setdefault(titles[qid], []).append(qid)
    for title, qids in shared.items():
        if len(qids) > 1:
            for part, qid in enumerate(qids, start=1):
                titles[qid] = f"{title} (part {part})"
    return titles
