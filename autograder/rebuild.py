"""Rebuild a submission against its source: instructor cells from the source, answers from the pair."""

from __future__ import annotations

import ast
import builtins
import copy
import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from .errors import AuthoringError
from .notebook import (
    JUDGE_HELPERS,
    TEAM_NAME,
    Cell,
    Role,
    bound_names,
    cells_of,
    grade_id_clashes,
    normalise,
    read_team,
    split_hidden,
    strip_magics,
)
from .results import Flag
from .strenum import StrEnum


class Match(StrEnum):
    """How an answer of the source was found in a submission, or that it was not."""

    BY_ID = "matched_by_id"  # its grade_id
    BY_ANCHOR = "matched_by_anchor"  # the instructor's cells around it
    BY_NAMES = "matched_by_names"  # the names it defines, anywhere in the notebook
    MISSING = "missing"


# What nbgrader's ClearSolutions writes in place of a solution (its defaults for Python).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
# An instructor cell that was edited *and* lost its metadata is still recognised at this
# similarity, so the edited copy is dropped instead of running as the students' own code.
EDITED_SIMILARITY = 0.6
# ...looked for among this many cells at most: a real notebook has a few between two anchors,
# and comparing texts pairwise must not let a notebook of 10,000 cells stall the grader.
EDITED_CANDIDATES = 50
ANSWERS = (Role.ANSWER, Role.WRITTEN)


@dataclass
class RebuiltCell:
    role: Role  # from the source (FREE for cells the students added)
    code: str  # what runs: the full source for instructor cells, hidden tests included
    source_index: int | None  # 0-based in the source; None for the students' own cells
    submission_index: int | None  # 0-based in the submission; None when taken from the source
    grade_id: str | None
    points: float
    attempted: bool  # answers: found and not the untouched release stub; True for other cells
    cell_type: str  # "code" | "markdown"


@dataclass
class Rebuilt:
    cells: list[RebuiltCell]
    team: list[str] | None  # None: no team cell; []: the release's placeholders still there
    flags: list[Flag] = field(default_factory=list)
    matches: dict[str, Match] = field(default_factory=dict)  # by answer grade_id
    # submission cell -> the source cell it stands for (0-based); the pair's own cells are absent
    placed: dict[int, int] = field(default_factory=dict)


def release_stub(cell: Cell) -> str:
    """The answer as students received it: what nbgrader's ClearSolutions makes of the source."""
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    lines, inside, replaced = [], False, False
    for line in cell.source.split("\n"):
        if "BEGIN SOLUTION" in line:  # nbgrader's test: the words anywhere in the line
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + s for s in stub.split("\n")]
            inside = replaced = True
        elif "END SOLUTION" in line:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines) if replaced else stub


@functools.lru_cache(maxsize=4096)  # the source's cells come back for every submission
def _text(cell_type: str, source: str) -> str:
    """What two versions of a cell are compared by: code as fingerprints see it, prose by words."""
    return normalise(source) if cell_type == "code" else " ".join(source.split())


def _visible(cell: Cell) -> str:
    """An instructor cell as released: the submission never had the hidden tests."""
    return split_hidden(cell.source)[0] if cell.role is Role.TESTS else cell.source


def _attempted(answer: Cell, code: str) -> bool:
    text = _text(answer.cell_type, code)
    return bool(text) and text != _text(answer.cell_type, release_stub(answer))


def _is_team(cell: Cell) -> bool:
    # An editor may drop our metadata, and the release's team cell opens with a comment.
    return cell.role is Role.TEAM or (
        cell.cell_type == "code" and normalise(cell.source).startswith(f"{TEAM_NAME} ="))


def _label(cell: Cell) -> str:
    name = f" '{cell.grade_id}'" if cell.grade_id else ""
    return f"{cell.role.value} cell{name} (cell {cell.number} of the source)"


def _instructor_names(src: list[Cell]) -> frozenset[str]:
    return _names_bound_by(tuple(src))


@functools.lru_cache(maxsize=16)  # one source, many submissions: parsed once
def _names_bound_by(src: tuple[Cell, ...]) -> frozenset[str]:
    return frozenset().union(*(bound_names(c.source) for c in src
                               if c.is_instructor and c.cell_type == "code"))


class _Matching:
    """Which submission cell stands for which source cell, decided in passes of falling certainty."""

    def __init__(self, src: list[Cell], sub: list[Cell]):
        self.src, self.sub = src, sub
        self.owner: dict[int, int] = {}  # submission cell -> the source cell it stands for
        self.found: dict[int, int] = {}  # source answer or team cell -> the submission cell that runs
        self.how: dict[int, Match] = {}  # source answer -> how it was found
        self.copies: dict[int, list[int]] = {}  # source instructor cell -> its submission copies
        self.by_content: set[int] = set()  # source cells found without their grade_id
        self.flags: list[Flag] = []
        self.bound: dict[int, set[str]] = {}  # submission cell -> the names it binds, parsed once

    def binds(self, c: Cell) -> set[str]:
        if c.index not in self.bound:
            self.bound[c.index] = bound_names(c.source)
        return self.bound[c.index]

    def flag(self, code: str, message: str) -> None:
        self.flags.append(Flag(code, message))

    def free(self, cell_type: str, lo: int = -1, hi: int | None = None) -> list[Cell]:
        """Submission cells not yet matched, strictly between positions lo and hi."""
        hi = len(self.sub) if hi is None else hi
        return [c for c in self.sub[lo + 1:max(hi, lo + 1)] if c.index not in self.owner
                and c.cell_type == cell_type and not _is_team(c)]

    def window(self, s: int) -> tuple[int, int]:
        """Where a source cell belongs in the submission: between the copies of its neighbours."""
        before = [i for i in self.copies if i < s]
        after = [i for i in self.copies if i > s]
        lo = self.copies[max(before)][0] if before else -1
        hi = self.copies[min(after)][0] if after else len(self.sub)
        return lo, hi

    def take_copy(self, s: Cell, c: Cell, *, by_content: bool) -> None:
        self.owner[c.index] = s.index
        if s.role is not Role.FREE:  # the source's own markdown is matched only to be set aside
            self.copies.setdefault(s.index, []).append(c.index)
            if by_content:
                self.by_content.add(s.index)

    def take_answer(self, a: Cell, cells: list[Cell], how: Match) -> None:
        # A copy kept "to be safe" is usually the stub: prefer the last cell that holds work.
        chosen = ([c for c in cells if _attempted(a, c.source)] or cells)[-1]
        for c in cells:
            self.owner[c.index] = a.index  # the other copies do not run
        self.found[a.index], self.how[a.index] = chosen.index, how
        if how != Match.BY_ID:
            self.by_content.add(a.index)
        if len(cells) > 1:
            numbers = ", ".join(str(c.number) for c in cells)
            self.flag("answer_duplicated", f"{_label(a)} appears in cells {numbers} of the "
                      f"submission; cell {chosen.number} is graded, the others do not run")

    def by_grade_id(self) -> None:
        ids = {c.grade_id: c for c in self.src if c.grade_id and (c.is_instructor or c.role in ANSWERS)}
        hits: dict[int, list[Cell]] = {}
        for c in self.sub:  # a code cell turned into markdown no longer counts as the cell
            if c.grade_id in ids and c.cell_type == ids[c.grade_id].cell_type:
                hits.setdefault(ids[c.grade_id].index, []).append(c)
        for s, cells in hits.items():
            if self.src[s].role in ANSWERS:
                self.take_answer(self.src[s], cells, Match.BY_ID)
            else:
                for c in cells:
                    self.take_copy(self.src[s], c, by_content=False)

    def by_anchors(self) -> None:
        """Unchanged instructor cells (and the source's own markdown) found by their text."""
        queues: dict[tuple[str, str], list[Cell]] = {}
        for c in self.sub:
            if c.index not in self.owner and not _is_team(c) and (t := _text(c.cell_type, c.source)):
                queues.setdefault((c.cell_type, t), []).append(c)
        for s in self.src:
            # Source FREE code cells are the students' to edit; they run from the submission.
            wanted = s.is_instructor or (s.role is Role.FREE and s.cell_type == "markdown")
            if wanted and s.index not in self.copies:
                queue = queues.get((s.cell_type, _text(s.cell_type, _visible(s))))
                if queue:
                    self.take_copy(s, queue.pop(0), by_content=True)

    def by_names(self) -> None:
        """Answers found by the names they define: near their place first, then anywhere."""
        taken = _instructor_names(self.src)  # `import numpy as np` in an answer proves nothing
        answers = [a for a in self.src if a.role in ANSWERS and a.cell_type == "code"]
        for anywhere in (False, True):
            for a in answers:
                names = bound_names(a.source) - taken
                if a.index in self.found or not names:
                    continue
                lo, hi = (-1, len(self.sub)) if anywhere else self.window(a.index)
                hits = [c for c in self.free("code", lo, hi) if names & self.binds(c)]
                if hits:
                    self.take_answer(a, hits, Match.BY_NAMES if anywhere else Match.BY_ANCHOR)

    def edited_instructor_cells(self) -> None:
        """Instructor cells edited without their metadata, found by likeness near their place."""
        for s in self.src:
            if s.is_instructor and s.cell_type == "code" and s.index not in self.copies:
                want, may_bind = _text("code", _visible(s)), bound_names(s.source)

                def similarity(c: Cell, want: str = want) -> float:
                    return difflib.SequenceMatcher(None, want, _text("code", c.source)).ratio()

                # A cell that defines more than the instructor's is the pair's own: it must run.
                cells = [c for c in self.free("code", *self.window(s.index))[:EDITED_CANDIDATES]
                         if self.binds(c) <= may_bind]
                best = max(cells, key=similarity, default=None)
                if best is not None and similarity(best) >= EDITED_SIMILARITY:
                    self.take_copy(s, best, by_content=True)

    def lone_answers(self) -> None:
        """An answer alone between its anchors takes the one unmatched cell there (e.g. a stub)."""
        for a in self.src:
            if a.role in ANSWERS and a.index not in self.found:
                where = self.window(a.index)
                rivals = [b for b in self.src if b.role in ANSWERS and b.index not in self.found
                          and b.cell_type == a.cell_type and self.window(b.index) == where]
                cells = [c for c in self.free(a.cell_type, *where) if _text(c.cell_type, c.source)]
                if len(rivals) == 1 and len(cells) == 1:
                    self.take_answer(a, cells, Match.BY_ANCHOR)

    def team(self) -> list[str] | None:
        home = next((s for s in self.src if s.role is Role.TEAM), None)
        cells = [c for c in self.sub if _is_team(c) and c.index not in self.owner]
        if not cells:
            self.flag("no_team_cell", "no team cell (TEAM = [...]) in the submission")
            return None
        chosen = next((c for c in reversed(cells) if read_team(c.source)), cells[-1])
        team = read_team(chosen.source)
        if not team:
            self.flag("no_team_cell", f"the team cell (cell {chosen.number}) names no student")
        if home is not None:  # without a place in the source, team cells run as the pair's own
            for c in cells:
                self.owner[c.index] = home.index
            self.found[home.index] = chosen.index
        return team

    def check(self) -> None:
        """Flags for what the pair changed; the rebuilt notebook is right either way."""
        for s in self.src:
            if s.is_instructor and s.cell_type == "code":
                copies = self.copies.get(s.index, [])
                want = _text("code", _visible(s))
                if not copies:
                    self.flag("cells_changed", f"{_label(s)} was deleted; the source version runs")
                for j in copies:
                    if _text("code", self.sub[j].source) != want:
                        self.flag("cells_changed", f"{_label(s)} was edited (cell {j + 1} of the "
                                  "submission); the source version runs")
            elif s.index in self.how and self.how[s.index] != Match.BY_ANCHOR:
                lo, hi = self.window(s.index)
                j = self.found[s.index]
                if not lo < j < hi:
                    self.flag("answer_moved", f"{_label(s)} was found at cell {j + 1} of the "
                              "submission, away from its place; it runs at its place")
        if self.by_content:
            answers = [self.src[s].grade_id or f"cell {s + 1}" for s in sorted(self.by_content)
                       if self.src[s].role in ANSWERS]
            self.flag("metadata_stripped", f"{len(self.by_content)} cells were matched by their "
                      "content, not their grade_id (an editor such as Colab or VS Code drops cell "
                      f"metadata); answers: {', '.join(answers) or 'none'}")

    def cells(self) -> list[RebuiltCell]:
        # The pair's own code cells run after the nearest matched cell that precedes them.
        after: dict[int | None, list[RebuiltCell]] = {}
        at: int | None = None
        for c in self.sub:
            owner = self.owner.get(c.index)
            if owner is not None and self.src[owner].role is not Role.FREE:
                at = owner
            elif owner is None and c.cell_type == "code":
                after.setdefault(at, []).append(
                    RebuiltCell(Role.FREE, c.source, None, c.index, None, 0.0, True, "code"))
        out = list(after.get(None, []))
        for s in self.src:
            if s.role is Role.FREE:
                continue
            j = None if s.is_instructor else self.found.get(s.index)
            code = s.source if s.is_instructor else (self.sub[j].source if j is not None else "")
            attempted = (j is not None and _attempted(s, code)) if s.role in ANSWERS else True
            out.append(RebuiltCell(s.role, code, s.index, j, s.grade_id, s.points, attempted,
                                   s.cell_type))
            out += after.get(s.index, [])
        return out


def _readable(nb: NotebookNode) -> NotebookNode:
    """What matching reads of the submission, with metadata that is not nbgrader's shape dropped
    (as an editor would drop it); outputs are left out, they can be large."""
    cells = []
    for cell in nb.get("cells", []):
        if not (isinstance(cell, dict) and isinstance(cell.get("source", ""), str)):
            continue
        meta = cell.get("metadata")
        meta = {k: copy.deepcopy(v) for k, v in meta.items()
                if isinstance(v, dict)} if isinstance(meta, dict) else {}
        if not isinstance(meta.get("nbgrader", {}).get("grade_id", ""), str):
            del meta["nbgrader"]["grade_id"]
        cells.append(NotebookNode(cell_type=cell.get("cell_type"), source=cell.get("source", ""),
                                  metadata=NotebookNode(meta)))
    return NotebookNode(cells=cells)


def _check_source(src: list[Cell], path: Path | str | None) -> None:
    clashes = grade_id_clashes(src)
    if clashes:
        index, first = min(clashes.items())
        raise AuthoringError(
            f"grade_id {src[index].grade_id!r} is also used by cell {first.number}",
            path=path, cell=index + 1, hint="give each cell its own grade_id")


def rebuild(source: NotebookNode, submission: NotebookNode, *,
            source_path: Path | str | None = None,
            submission_path: Path | str | None = None) -> Rebuilt:
    """The notebook that runs: the source's instructor cells with the pair's answers in place.

    Never raises for a bad submission: missing, moved or duplicated cells become flags and
    "not attempted" answers, unreadable metadata is dropped. Raises AuthoringError for a source
    that cannot be matched against. `submission_path` is accepted for symmetry with the other
    stages; nothing here names it.
    """
    src, sub = cells_of(source), cells_of(_readable(submission))
    _check_source(src, source_path)
    m = _Matching(src, sub)
    m.by_grade_id()
    m.by_anchors()
    team = m.team()
    m.by_names()
    m.edited_instructor_cells()
    m.lone_answers()
    m.check()
    matches = {a.grade_id or f"cell {a.number}": m.how.get(a.index, Match.MISSING)
               for a in src if a.role in ANSWERS}
    return Rebuilt(cells=m.cells(), team=team, flags=m.flags, matches=matches,
                   placed=dict(m.owner))


def _imported(code: str) -> set[str]:
    """Top-level names an answer cell binds by importing: modules stay the judge's own."""
    try:
        tree = ast.parse(strip_magics(code))
    except SyntaxError:
        return set()
    return {(alias.asname or alias.name).split(".")[0] for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom) for alias in node.names}


def declared_names(meta: object, *, path: Path | str | None, cell: int | None) -> list[str]:
    """The names an instructor declares in metadata `autograder.names` (a list of identifiers)."""
    names = meta.get("autograder", {}).get("names", []) if isinstance(meta, dict) else []
    where = "the notebook's" if cell is None else "the cell's"
    if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier()
                                              for n in names):
        raise AuthoringError(f"{where} metadata autograder.names is not a list of names",
                             path=path, cell=cell,
                             hint='write e.g. "autograder": {"names": ["phi", "Encoder"]}')
    return names


def answer_names(source: NotebookNode, *, judge_names: Iterable[str] = (),
                 path: Path | str | None = None) -> frozenset[str]:
    """The names a test cell reaches in the student's kernel, decided by the source alone.

    Those the source's answer cells define (def, class, assignment; not imports), plus those an
    instructor declares in metadata `autograder.names` (the notebook's, or an answer cell's: a
    student helper a test calls). Builtins, the judge's helpers, the team cell and `judge_names`
    (what the setup cells bind in the judge: imports, data) never are: a student's cell that binds
    `list`, `len` or `np` changes nothing in the judge, and a name only a student's own cell
    defines is never reached.
    """
    reserved = set(dir(builtins)) | set(JUDGE_HELPERS) | {TEAM_NAME} | set(judge_names)
    names: set[str] = set()
    for c, raw in zip(cells_of(source), source.cells, strict=True):
        if c.role in ANSWERS and c.cell_type == "code":
            names |= (bound_names(c.source) - _imported(c.source)) - reserved
        for name in declared_names(raw.get("metadata", {}), path=path, cell=c.number):
            if c.role not in ANSWERS:
                raise AuthoringError("autograder.names is declared on a cell that is not an "
                                     "answer", path=path, cell=c.number,
                                     hint="declare it on the answer cell or the notebook")
            names.add(_declarable(name, reserved, path=path, cell=c.number))
    for name in declared_names(source.get("metadata", {}), path=path, cell=None):
        names.add(_declarable(name, reserved, path=path, cell=None))
    return frozenset(names)


def _declarable(name: str, reserved: set[str], *, path: Path | str | None,
                cell: int | None) -> str:
    if name in reserved:
        raise AuthoringError(f"autograder.names declares {name!r}, a name the judge owns (a "
                             "builtin, a helper or a setup cell's name)", path=path, cell=cell,
                             hint="test cells always see the judge's own value of it; remove it")
    return name
