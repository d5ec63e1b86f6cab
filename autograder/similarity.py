"""Which pairs wrote the same code: every two submissions compared on the pairs' own cells.

The stage's entry point and its report. The pairs' own code and its fingerprints come from
own_code.py, the scores of every pair and the matching regions from pair_scores.py, the pages
from similarity_page.py. The report is stored with the results, where the gradebook reads it:
a flag for the instructor, never a grade change.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from .atomic import atomic_open
from .config import Course
from .errors import ConfigError, SubmissionError
from .notebook import read_notebook
from .own_code import Handout, OwnCell, Prints, fingerprint, own_cells, units_of
from .pair_scores import matching_regions, score_pairs
from .results import Flag, collect_results
from .roster import Roster, ids_in_name, load_roster

SCHEMA_VERSION = 1
FLAG_CODE = "similar_code"
REPORT_NAME = "report.json"  # in <results>/<assignment>/similarity/, where the gradebook looks
POOL_FROM = 50  # notebooks from which reading them is shared among processes
# A cell is compared on its first 200,000 characters (about 4,000 lines): pasted data or a
# generated wall of code must not stall a class.
MAX_CELL_CHARS = 200_000


# ---------------------------------------------------------------- the report

@dataclass
class Pair:
    a: str  # submission ids
    b: str
    team_a: list[str]  # "First Last (id)", or the id alone for someone not on the roster
    team_b: list[str]
    score: float
    shared: float
    cells: dict[str, float]  # unit -> score
    flagged: bool
    page: str = ""  # the HTML page of the pair (flagged pairs), relative to the course root
    same_students: list[str] = field(default_factory=list)  # ids in both teams

    def matched_cells(self, threshold: float) -> list[str]:
        return [f"{u} {s:.0%}" for u, s in sorted(self.cells.items(), key=lambda x: -x[1])
                if s >= threshold]


@dataclass
class SimilarityReport:
    assignment: str
    threshold: float
    created_at: str
    submissions: int  # compared
    compared_pairs: int
    pairs: list[Pair]  # flagged first, best first; then the next most similar
    histogram: list[int]
    common_fingerprints: int
    skipped: dict[str, str] = field(default_factory=dict)  # submission id -> why not compared
    content_hashes: dict[str, str] = field(default_factory=dict)  # of the notebooks compared
    pages: str = ""  # the folder of the HTML pages
    schema_version: int = SCHEMA_VERSION

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.flagged]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SimilarityReport:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"similarity report schema {data.get('schema_version')!r} "
                             f"is not {SCHEMA_VERSION}")
        return cls(**{**data, "pairs": [Pair(**p) for p in data.get("pairs", [])]})


def report_path(results: Path, assignment: str) -> Path:
    return Path(results) / assignment / "similarity" / REPORT_NAME


def read_report(folders: Iterable[Path], assignment: str) -> SimilarityReport | None:
    """The newest similarity report in any of the result folders (a root or the assignment's
    folder itself, as for results), or None when there is none."""
    found = []
    for folder in folders:
        folder = Path(folder)
        for path in (report_path(folder, assignment), folder / "similarity" / REPORT_NAME):
            try:
                report = SimilarityReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError):
                continue
            if report.assignment == assignment:
                found.append(report)
    return max(found, key=lambda r: r.created_at, default=None)


SHEET_COLUMNS = ["assignment", "rank", "score", "flagged", "submission A", "team A",
                 "submission B", "team B", "cells", "shared fingerprints", "page"]


def gradebook_similarity(report: SimilarityReport | None, *,
                         content_hashes: dict[str, str] | None = None
                         ) -> tuple[list[dict], dict[str, list[Flag]]]:
    """The gradebook's similarity sheet (one row per listed pair) and the flags to show on each
    flagged submission. Pure: nothing here changes a grade."""
    if report is None:
        return [], {}
    rows: list[dict[str, Any]] = []
    flags: dict[str, list[Flag]] = {}
    hashes = content_hashes or {}
    for rank, p in enumerate(report.pairs, start=1):
        cells = ", ".join(p.matched_cells(report.threshold)) or "-"
        rows.append({
            "assignment": report.assignment, "rank": rank, "score": p.score,
            # Student text as it is: the gradebook writes every string as text, never a formula.
            "flagged": "yes" if p.flagged else "no", "submission A": p.a,
            "team A": "; ".join(p.team_a), "submission B": p.b,
            "team B": "; ".join(p.team_b), "cells": cells,
            "shared fingerprints": p.shared, "page": p.page,
        })
        if not p.flagged:
            continue
        for me, other, team in ((p.a, p.b, p.team_b), (p.b, p.a, p.team_a)):
            message = (f"{p.score:.0%} of the pairs' own code matches submission {other} "
                       f"({'; '.join(team) or 'no team'}); cells: {cells}")
            if p.same_students:
                message += f"; the same student(s) in both: {', '.join(p.same_students)}"
            if p.page:
                message += f"; side by side: {p.page}"
            stale = [s for s in (me, other)
                     if s in hashes and s in report.content_hashes
                     and hashes[s] != report.content_hashes[s]]
            if stale:
                message += (f"; {', '.join(stale)} changed since the report was made: run "
                            f"`autograder similarity {report.assignment}` again")
            flags.setdefault(me, []).append(Flag(FLAG_CODE, message))
    return rows, flags


# ---------------------------------------------------------------- the entry point

@dataclass
class _Code:
    submission_id: str
    content_hash: str
    team: list[str]
    cells: list[OwnCell]
    prints: Prints


_WORKER: dict = {}


def _start_worker(source: NotebookNode, units: list[str]) -> None:
    _WORKER.update(source=source, units=units, handout=Handout.of(source))


def _read(path: Path) -> tuple[list[OwnCell] | None, Prints | None, str]:
    """Own cells and fingerprints of one notebook, or the reason it cannot be compared."""
    try:
        cells = [replace(c, source=c.source[:MAX_CELL_CHARS])
                 for c in own_cells(_WORKER["source"], read_notebook(path))]
        return cells, fingerprint(cells, _WORKER["handout"], _WORKER["units"]), ""
    except SubmissionError as exc:
        return None, None, exc.message
    except (RecursionError, MemoryError, ValueError, TypeError, AttributeError) as exc:
        # Hostile nesting, an odd shape nbformat let through: this one is listed, the class goes on.
        return None, None, f"cannot read the notebook ({exc.__class__.__name__})"


def _read_all(paths: list[Path], source: NotebookNode, units: list[str],
              workers: int) -> list[tuple[list[OwnCell] | None, Prints | None, str]]:
    if workers <= 1 or len(paths) < POOL_FROM:
        _start_worker(source, units)
        return [_read(p) for p in paths]
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=(source, units)) as pool:
        return list(pool.map(_read, paths, chunksize=16))


def _teams(folders: list[Path], assignment: str) -> dict[str, list[str]]:
    """Teams as grading recorded them (the notebook's team cell), by submission id."""
    return {r.submission_id: list(r.team) for r in collect_results(folders, assignment)
            if r.team}


def _names(team: list[str], roster: Roster | None) -> list[str]:
    out = []
    for sid in team:
        student = roster.get(sid) if roster else None
        out.append(f"{student.name} ({sid})" if student else sid)
    return out


def similarity_report(*, course: Course, assignment: str, submissions: Path,
                      results: list[Path], pages: Path,
                      workers: int | None = None) -> SimilarityReport:
    """Compare every two submissions of `assignment`; write the report where the gradebook reads
    it (`<results[0]>/<assignment>/similarity/report.json`) and one HTML page per flagged pair
    plus an index into `pages`. A notebook that cannot be read is listed as skipped."""
    from .similarity_page import render_index, render_pair, write_pages
    from .submissions import discover

    spec = course.assignment(assignment)
    threshold = course.similarity.threshold
    source = read_notebook(spec.notebook)
    units = units_of(source)
    handout = Handout.of(source)
    try:
        roster: Roster | None = load_roster(course.roster)
    except ConfigError:
        roster = None  # names are a convenience here: ids still say who
    recorded = _teams(results, assignment)
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        found = discover(Path(submissions), notebook_name=spec.notebook.name,
                         timezone_name=course.timezone, unpack_to=Path(tmp) / "unpacked")
        if not found:
            raise ConfigError("no submission found", path=submissions,
                              hint="pass the folder (or Moodle zip) given to `autograder grade`")
        readable = [s for s in found if s.notebook is not None and s.content_hash]
        skipped = {s.submission_id: s.problem or "no notebook" for s in found
                   if s not in readable}
        read = _read_all([s.notebook for s in readable if s.notebook is not None], source, units,
                         workers or min(2, os.cpu_count() or 1))
    codes = []
    for s, (cells, prints, problem) in zip(readable, read, strict=True):
        if cells is None or prints is None:  # read together, or neither
            skipped[s.submission_id] = problem
            continue
        team = (recorded.get(s.submission_id) or list(s.team)
                or (ids_in_name(s.name + " " + s.submission_id, roster) if roster else []))
        codes.append(_Code(s.submission_id, s.content_hash, team, cells, prints))

    scores = score_pairs([c.prints for c in codes], units, threshold=threshold)
    report = SimilarityReport(
        assignment=assignment, threshold=threshold,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), submissions=len(codes),
        compared_pairs=scores.compared, pairs=[], histogram=scores.histogram,
        common_fingerprints=len(scores.common), skipped=skipped,
        content_hashes={c.submission_id: c.content_hash for c in codes},
        pages=_rel(pages, course.root))
    rendered = {}
    for rank, ps in enumerate(scores.pairs, start=1):
        a, b = codes[ps.a], codes[ps.b]
        pair = Pair(a.submission_id, b.submission_id, _names(a.team, roster),
                    _names(b.team, roster), ps.score, ps.shared, ps.cells, ps.flagged,
                    same_students=sorted(set(a.team) & set(b.team)))
        if pair.flagged:
            name = f"pair-{rank:03d}.html"
            pair.page = _rel(Path(pages) / name, course.root)
            regions = matching_regions(a.cells, b.cells, handout, scores.common)
            rendered[name] = render_pair(pair, a.cells, b.cells, regions, course_name=course.name,
                                         assignment=assignment, threshold=threshold)
        report.pairs.append(pair)
    rendered["index.html"] = render_index(report, course_name=course.name)
    write_pages(Path(pages), rendered)
    write_report(report, report_path(results[0], assignment))
    return report


def write_report(report: SimilarityReport, path: Path) -> None:
    with atomic_open(path) as fh:
        json.dump(report.to_dict(), fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)
