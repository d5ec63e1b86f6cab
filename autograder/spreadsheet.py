"""grades.xlsx and the CSVs, written to be read and written safely; the marks typed into it, read back.

Safe: every text (a team id, a file name, a message a submission produced) is written as a text
cell, never as a formula, with control characters removed and its length capped; CSV cells that a
spreadsheet program would take for a formula are neutralised (OWASP's rule). Numbers the gradebook
computes stay numbers. Legible: fitted column widths, wrapped headers, number formats for points,
percentages and dates, long messages wrapped.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .atomic import atomic_open

# Column kinds: how a value is shown.
TEXT, MESSAGE, POINTS, GRADE, PERCENT, SHARE, COUNT, DATE, MARK = (
    "text", "message", "points", "grade", "percent", "share", "count", "date", "mark")
FORMATS = {
    POINTS: "0.0#", MARK: "0.0#", GRADE: "0.00", PERCENT: "0%", SHARE: "0.0%", COUNT: "0",
    DATE: "yyyy-mm-dd hh:mm",
}
# A hand-marked question left as the release's stub: a zero that says why.
NO_RESPONSE_FORMAT = '0.0#;-0.0#;"0 (no response)"'
SHOWN_CHARS = {POINTS: 6, MARK: 6, GRADE: 6, PERCENT: 4, SHARE: 6, COUNT: 4, DATE: 16}
MAX_WIDTH = {TEXT: 36, MESSAGE: 70}
TEXT_CHARS = 2000  # of any one cell: a 1 MB "team id" is cut, and says so
CHAR_WIDTH = 1.2  # a character of bold or proportional text, in widths of a digit
LINE_HEIGHT = 15.0  # points, for an 11 pt font
NOTE_WIDTH = 90  # digits a sheet's note may span
# Styles of single cells.
REFUSED, NO_RESPONSE, NOT_ENTERABLE = "refused", "no_response", "not_enterable"
HIDDEN_SHEET = "_autograder"

# C0 controls but tab and newline, DEL and C1 controls, lone surrogates (JSON lets them through),
# and the two non-characters XML refuses: any of them can make a workbook unreadable.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean_text(value: Any, limit: int = TEXT_CHARS) -> str:
    """Text as a cell may hold it: no control characters, at most `limit` characters."""
    text = _CONTROL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def csv_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet program will not run: text that starts like a formula gets a
    leading apostrophe (OWASP's CSV injection rule). Numbers stay numbers."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text  # judged on the raw text: a tab or CR is one of the triggers
    return clean_text(text)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    # shared: the staff share these files; atomic: never half a gradebook
    with atomic_open(path, shared=True, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([csv_safe(c) for c in columns])
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return csv_safe(value)


# ---------------------------------------------------------------- the workbook's model

@dataclass(frozen=True)
class Column:
    key: str  # in the rows' dicts and the CSV header
    label: str  # the header people read; may be long, it wraps
    kind: str = TEXT
    assignment: str = ""  # question columns: which assignment and question
    question: str = ""
    max_points: float | None = None  # hand-marked columns: the bound a typed mark must respect
    prompt: str = ""  # hand-marked columns: shown when a cell is selected


@dataclass
class Sheet:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""  # a line above the header, for what the reader must know
    styles: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, key) → style
    freeze: int = 0  # columns kept in view when scrolling right
    chart: dict[str, str] | None = None  # a bar chart: {"title", "x", "y"} of columns 1 and 2


def display_width(value: Any, kind: str) -> int:
    """Characters a value takes on screen, its longest line for text."""
    if value is None:
        return 0
    if kind in SHOWN_CHARS and isinstance(value, int | float | datetime):
        return SHOWN_CHARS[kind]
    return max((len(line) for line in clean_text(value).split("\n")), default=0)


def column_width(column: Column, rows: list[dict[str, Any]]) -> float:
    """Width in digits: the widest value, a header that wraps on at most a few lines."""
    content = max((display_width(r.get(column.key), column.kind) for r in rows), default=0)
    content = min(content, MAX_WIDTH.get(column.kind, 40))
    words = column.label.split()
    longest_word = max((len(w) for w in words), default=0)
    # A header wraps; let it be as wide as its longest word, and wide enough for 3 lines.
    header = max(longest_word, min(len(column.label), math.ceil(len(column.label) / 3)))
    return round(max(content, header, 6) * CHAR_WIDTH + 2, 1)


def wrapped_lines(text: str, width: float) -> int:
    """Lines a text takes in a wrapping cell `width` digits wide (overestimated, never under)."""
    capacity = max(1, int((width - 2) / CHAR_WIDTH))
    lines = 0
    for paragraph in clean_text(text).split("\n"):
        line = 0
        lines += 1
        for word in paragraph.split(" "):
            size = len(word)
            if line and line + 1 + size > capacity:
                lines += 1
                line = 0
            while size > capacity:  # a word longer than the column is broken
                lines += 1
                size -= capacity
            line += size + (1 if line else 0)
    return max(lines, 1)


# ---------------------------------------------------------------- writing

def _put(cell, value: Any, kind: str) -> None:
    """One value: numbers and dates as such, anything else as text, never as a formula."""
    if value is None:
        return
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        cell.value = value
        cell.number_format = FORMATS[DATE]
        return
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        cell.value = value
        cell.number_format = FORMATS.get(kind, "General")
        return
    text = clean_text(value)
    cell.value = text
    # openpyxl makes a formula of a str starting with "=", an error value of "#N/A": this is text.
    cell.data_type = "s"


def write_workbook(path: Path, sheets: list[Sheet], *, hidden: list[list[Any]] | None = None
                   ) -> None:
    """Write the sheets (and a hidden sheet of rows the gradebook reads back) atomically."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        _write_sheet(book, sheet)
    if hidden is not None:
        ws = book.create_sheet(HIDDEN_SHEET)
        ws.sheet_state = "hidden"
        for r, row in enumerate(hidden, start=1):
            for c, value in enumerate(row, start=1):
                _put(ws.cell(row=r, column=c), value, TEXT)
    with atomic_open(path, "wb", shared=True) as fh:
        book.save(fh)


def _write_sheet(book, sheet: Sheet) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ws = book.create_sheet(sheet.title)
    top = 1
    widths = [column_width(c, sheet.rows) for c in sheet.columns]
    if sheet.note:
        # Across the first columns, wrapped: a long line would run off the screen and off a
        # printed page (a page holds about 100 digits of landscape A4).
        span = 1
        while span < len(widths) and sum(widths[:span + 1]) <= NOTE_WIDTH:
            span += 1
        note = ws.cell(row=1, column=1)
        _put(note, sheet.note, TEXT)
        note.font = Font(bold=True, color="9C0006")
        note.alignment = Alignment(wrap_text=True, vertical="top")
        if span > 1:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=span)
        lines = wrapped_lines(sheet.note, sum(widths[:span]))
        ws.row_dimensions[1].height = lines * LINE_HEIGHT + 3
        top = 2
    header_lines = 1
    wrap_top = Alignment(wrap_text=True, vertical="top")
    bold = Font(bold=True)
    for i, (column, width) in enumerate(zip(sheet.columns, widths, strict=True), start=1):
        cell = ws.cell(row=top, column=i)
        _put(cell, column.label, TEXT)
        cell.font, cell.alignment = bold, wrap_top
        ws.column_dimensions[get_column_letter(i)].width = width
        header_lines = max(header_lines, wrapped_lines(column.label, width))
    ws.row_dimensions[top].height = header_lines * LINE_HEIGHT + 3

    fills = {"manual": PatternFill("solid", fgColor="FFF2CC"),
             REFUSED: PatternFill("solid", fgColor="FFC7CE")}
    top_only = Alignment(vertical="top")
    messages = [(column, width) for column, width in zip(sheet.columns, widths, strict=True)
                if column.kind == MESSAGE]
    for r, row in enumerate(sheet.rows, start=top + 1):
        lines = max((wrapped_lines(str(row[c.key]), width) for c, width in messages
                     if row.get(c.key) is not None), default=1)
        for i, column in enumerate(sheet.columns, start=1):
            cell = ws.cell(row=r, column=i)
            value = row.get(column.key)
            _put(cell, value, column.kind)
            style = sheet.styles.get((r - top - 1, column.key))
            if column.kind == MARK and style != NOT_ENTERABLE:
                cell.fill = fills["manual"]
            if style == REFUSED:
                cell.fill = fills[REFUSED]
            elif style == NO_RESPONSE and isinstance(value, int | float):
                cell.number_format = NO_RESPONSE_FORMAT
            if column.kind == MESSAGE and value is not None:
                cell.alignment = wrap_top
            elif lines > 1 and value is not None:
                cell.alignment = top_only  # a tall row reads from its top line
        if lines > 1:
            ws.row_dimensions[r].height = lines * LINE_HEIGHT + 2

    last_row = top + max(len(sheet.rows), 1)
    for i, column in enumerate(sheet.columns, start=1):
        if column.kind != MARK or column.max_points is None:
            continue
        letter = get_column_letter(i)
        check = DataValidation(type="decimal", operator="between", formula1="0",
                               formula2=f"{column.max_points:g}", allow_blank=True,
                               showInputMessage=True, showErrorMessage=True, errorStyle="warning")
        check.promptTitle = "Mark by hand"[:32]
        check.prompt = column.prompt[:255]
        check.errorTitle = "Not a mark"
        check.error = f"A mark is a number from 0 to {column.max_points:g}."
        check.add(f"{letter}{top + 1}:{letter}{last_row}")
        ws.add_data_validation(check)
    if sheet.columns:
        end = get_column_letter(len(sheet.columns))
        ws.auto_filter.ref = f"A{top}:{end}{last_row}"
        ws.freeze_panes = ws.cell(row=top + 1, column=sheet.freeze + 1).coordinate
        ws.print_title_rows = f"{top}:{top}"
    ws.page_setup.orientation = "landscape"
    if sheet.chart:
        _chart(ws, sheet, sheet.chart, top)


def _chart(ws, sheet: Sheet, titles: dict[str, str], top: int) -> None:
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.title = titles["title"]
    chart.x_axis.title = titles["x"]
    chart.y_axis.title = titles["y"]
    chart.legend = None
    end = top + len(sheet.rows)
    chart.add_data(Reference(ws, min_col=2, min_row=top, max_row=end), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=top + 1, max_row=end))
    ws.add_chart(chart, "D2")


# ---------------------------------------------------------------- reading back

@dataclass
class EarlierSheet:
    """What an earlier grades.xlsx holds: its grades sheet and what the gradebook recorded."""

    header: list[str]
    rows: list[tuple]
    columns: dict[str, dict[str, str]]  # header label → {"key", "assignment", "question"}
    written: dict[tuple[str, str, str], Any] | None  # (assignment, submission, question) → value
    saved_at: str  # when the file was last saved (its modification time), ISO 8601 UTC


def read_earlier(path: Path) -> EarlierSheet | None:
    """The grades sheet of an existing gradebook, None when there is none; raises whatever
    openpyxl raises for a file it cannot read (the caller says what to do)."""
    from openpyxl import load_workbook

    path = Path(path)
    if not path.exists():
        return None
    saved_at = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        if "grades" not in book.sheetnames:
            return None
        all_rows = list(book["grades"].iter_rows(values_only=True))
        at = next((i for i, row in enumerate(all_rows[:5]) if "student_id" in row), None)
        if at is None:
            return None
        header = [str(h) if h is not None else "" for h in all_rows[at]]
        columns: dict[str, dict[str, str]] = {}
        written: dict[tuple[str, str, str], Any] | None = None
        if HIDDEN_SHEET in book.sheetnames:
            written = {}
            for row in book[HIDDEN_SHEET].iter_rows(values_only=True):
                kind, *rest = (list(row) + [None] * 5)[:5]
                if kind == "column":
                    label, key, hw, qid = (str(v) if v is not None else "" for v in rest)
                    columns[label] = {"key": key, "assignment": hw, "question": qid}
                elif kind == "written":
                    hw, sid, qid, value = rest
                    written[(str(hw), str(sid), str(qid))] = value
        return EarlierSheet(header, all_rows[at + 1:], columns, written, saved_at)
    finally:
        book.close()
