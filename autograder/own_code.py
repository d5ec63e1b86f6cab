"""The pairs' own code: a submission's answers and added cells, less what every pair was given.

Each notebook is matched to the source as grading matches it (rebuild.py); instructor cells, the
team cell and untouched stubs are set aside. What every pair received — the released stubs, the
instructor's code as released, code quoted in the instructions — is then removed from what is
left, as k-grams and, for the stubs' signatures and docstrings, line by line, so two honest pairs
who kept the skeleton share nothing. What remains is fingerprinted (fingerprints.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from nbformat import NotebookNode

from .fingerprints import (
    BUILTINS,
    K,
    Names,
    Token,
    kgram_hashes,
    lex,
    names_of,
    normalise,
    winnow,
)
from .notebook import Role, cells_of, split_hidden
from .rebuild import rebuild, release_stub

OWN_CELLS = "own cells"  # code cells the pair added: compared too, under this name


@dataclass(frozen=True)
class OwnCell:
    unit: str  # the answer's grade_id, or OWN_CELLS
    number: int  # 1-based position in the submitted notebook
    source: str


def own_cells(source: NotebookNode, submission: NotebookNode) -> list[OwnCell]:
    """The pair's own code cells: attempted answers (matched to the source as grading matches
    them) and code cells they added; instructor cells, the team cell and untouched stubs are out."""
    out = []
    for c in rebuild(source, submission).cells:
        if c.cell_type != "code" or c.submission_index is None:
            continue
        if c.role is Role.ANSWER and c.attempted:
            out.append(OwnCell(_unit(c.grade_id, c.source_index), c.submission_index + 1, c.code))
        elif c.role is Role.FREE:
            out.append(OwnCell(OWN_CELLS, c.submission_index + 1, c.code))
    return out


def _unit(grade_id: str | None, source_index: int | None) -> str:
    return grade_id or f"cell {(source_index or 0) + 1}"


def units_of(source: NotebookNode) -> list[str]:
    """The units scores are given for: the answer cells in notebook order, then OWN_CELLS."""
    return [_unit(c.grade_id, c.index) for c in cells_of(source)
            if c.role is Role.ANSWER and c.cell_type == "code"] + [OWN_CELLS]


def code_spans(markdown: str) -> list[str]:
    """Code quoted in instructions, which students copy: each fenced block, and the inline spans
    one line each (a numbered list of `statements` reads as the code it describes)."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", markdown, flags=re.DOTALL)
    rest = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    inline = [m[1].strip() for m in re.findall(r"(`+)(.+?)\1", rest, flags=re.DOTALL)]
    return fenced + (["\n".join(inline)] if inline else [])


def handout_texts(source: NotebookNode) -> list[str]:
    """Everything every pair received, as they received it."""
    texts = []
    for cell in cells_of(source):
        if cell.cell_type == "code":
            if cell.role is Role.ANSWER:
                texts.append(release_stub(cell))
            elif cell.role is Role.TESTS:
                texts.append(split_hidden(cell.source)[0])
            else:  # setup, demos, the team cell, the source's free cells: all released as is
                texts.append(cell.source)
        elif cell.role is not Role.WRITTEN:  # a written answer's source is the solution
            texts.extend(code_spans(cell.source))
    return texts


class Handout:
    """What every pair received, to be removed from each pair's code: its k-grams (normalised as
    that pair's own code is) and the lines of the answer stubs (signatures, docstrings, the
    `super().__init__()` a stub keeps), which are too short to be k-grams on their own."""

    def __init__(self, texts: list[str], stub_lines: set[str], imported: set[str]) -> None:
        self.lexed = [lex(t) for t in texts]  # once: each pair's names only change the mapping
        self.stub_lines = stub_lines  # stripped, non-empty
        self.imported = imported  # names the instructor's imports bind: np, torch, nn...
        self.words = set().union(*(re.findall(r"\w+", t) for t in texts))
        self._cache: dict[Names, np.ndarray] = {}

    @classmethod
    def of(cls, source: NotebookNode) -> Handout:
        cells = cells_of(source)
        instructor = [c.source for c in cells if c.cell_type == "code" and c.role is not Role.ANSWER]
        stubs = [release_stub(c) for c in cells if c.role is Role.ANSWER and c.cell_type == "code"]
        lines = {line.strip() for stub in stubs for line in stub.splitlines()} - {""}
        return cls(handout_texts(source), lines, set(names_of(instructor).kept - BUILTINS))

    def names(self, cells: list[OwnCell]) -> Names:
        """How a pair's names are normalised: from what its own cells bind."""
        return names_of([c.source for c in cells], imported=self.imported)

    def hashes(self, names: Names) -> np.ndarray:
        # Normalisation depends on a pair's names only through the handout's own: most pairs
        # bind the same ones (the stubs' signatures) and share one entry.
        key = names.within(self.words)
        if key not in self._cache:
            parts = [kgram_hashes(normalise(raw, key)) for raw in self.lexed]
            self._cache[key] = np.unique(np.concatenate(parts or [np.zeros(0, np.uint64)]))
        return self._cache[key]

    def own_kgrams(self, source: str, names: Names,
                   handed: np.ndarray) -> tuple[list[Token], np.ndarray, np.ndarray]:
        """(tokens, k-gram hashes, which k-grams are the pair's own) of one cell: a k-gram is not
        when any of its tokens is the handout's — on a stub's line, or in a k-gram the handout
        has — so the seams between a stub and the pair's first line count for nothing either."""
        toks = normalise(lex(source), names)
        hashes = kgram_hashes(toks)
        handout = np.zeros(len(toks) + 1, dtype=np.int64)
        at = np.flatnonzero(np.isin(hashes, handed))
        np.add.at(handout, at, 1)
        np.add.at(handout, at + K, -1)
        covered = np.cumsum(handout)[:len(toks)] > 0
        lines = source.splitlines(keepends=True)
        stub = np.array([line.strip() in self.stub_lines for line in lines] + [False])
        if stub.any() and toks:
            starts = np.cumsum([0] + [len(line) for line in lines])
            rows = np.searchsorted(starts, [t.start for t in toks], side="right") - 1
            covered |= stub[np.minimum(rows, len(lines))]
        inside = np.concatenate([[0], np.cumsum(covered)])
        own = (inside[K:] - inside[:-K]) == 0 if len(toks) >= K else np.zeros(0, bool)
        return toks, hashes, own


@dataclass
class Prints:
    """One submission's fingerprints: winnowed, the handout's removed, unique within a unit."""

    hashes: np.ndarray  # uint64
    units: np.ndarray  # index into the unit names, one per fingerprint


def fingerprint(cells: list[OwnCell], handout: Handout, units: list[str]) -> Prints:
    names = handout.names(cells)
    handed = handout.hashes(names)
    index = {u: i for i, u in enumerate(units)}
    by_unit: dict[int, list[np.ndarray]] = {}
    for c in cells:
        _, h, own = handout.own_kgrams(c.source, names, handed)
        kept = winnow(h)
        by_unit.setdefault(index[c.unit], []).append(h[kept[own[kept]]])
    hashes, which = [np.zeros(0, np.uint64)], [np.zeros(0, np.int32)]
    for u, parts in by_unit.items():
        h = np.unique(np.concatenate(parts))
        hashes.append(h)
        which.append(np.full(len(h), u, dtype=np.int32))
    return Prints(np.concatenate(hashes), np.concatenate(which))


