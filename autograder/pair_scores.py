"""Every pair of a class scored from an index of fingerprints, and where two of them match.

The index is a sparse submissions × fingerprints matrix, scored a block of submissions at a time
against the whole class: memory grows with the class, never with the number of pairs. A pair's
score is the share of both pairs' own fingerprints that the other one has; each answer cell gets
the same measure (its fingerprints found anywhere in the other notebook, so code moved to
another cell still counts). Fingerprints in a large part of the class are its idiom, not a copy.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import numpy as np

from .fingerprints import K, Token
from .own_code import Handout, OwnCell, Prints

# A pair is flagged only when this many fingerprints (about 3 lines) are shared: two pairs who
# each wrote one line, the same natural line, are not a case.
MIN_SHARED = 6
# Fingerprints found in more submissions than this are the idiom of the class, not a copy
# (MOSS's -m): in more than COMMON_SHARE of the submissions, and at least COMMON_MIN of them.
COMMON_SHARE = 0.10
COMMON_MIN = 10
BELOW = 10  # pairs under the threshold listed for comparison (the next most similar)
BLOCK = 128  # submissions scored at once against the whole class
BINS = 10  # histogram of every pair's score


@dataclass
class PairScore:
    a: int  # indices into the list of prints, a < b
    b: int
    score: float
    shared: float  # fingerprints the two have in common (mean of both directions)
    flagged: bool  # score >= threshold, with MIN_SHARED fingerprints in common
    cells: dict[str, float] = field(default_factory=dict)  # unit -> score, where either wrote it


@dataclass
class Scores:
    pairs: list[PairScore]  # flagged (score >= threshold), then the next BELOW, best first
    compared: int  # pairs compared
    histogram: list[int]  # pairs per tenth of the score, 0–0.1 … 0.9–1
    common: set[int]  # fingerprints set aside as the class's idiom


def common_limit(n: int) -> int:
    return max(COMMON_MIN, int(COMMON_SHARE * n))


def score_pairs(prints: list[Prints], units: list[str], *, threshold: float,
                below: int = BELOW) -> Scores:
    """Every pair's score from a fingerprint index; the pairs at or above `threshold` (and with
    MIN_SHARED fingerprints in common) and the `below` next ones, with their per-cell scores."""
    from scipy import sparse

    n, nu = len(prints), len(units)
    sub = np.concatenate([np.full(len(p.hashes), i, np.int64) for i, p in enumerate(prints)]
                         + [np.zeros(0, np.int64)])
    unit = np.concatenate([p.units for p in prints] + [np.zeros(0, np.int32)])
    vocab, col = np.unique(np.concatenate([p.hashes for p in prints] + [np.zeros(0, np.uint64)]),
                           return_inverse=True)
    ones = np.ones(len(col), dtype=np.int32)
    present = sparse.csr_matrix((ones, (sub, col)), shape=(n, len(vocab)))
    present.data[:] = 1  # a submission has a fingerprint or not (several cells may hold it)
    frequent = np.asarray(present.sum(axis=0)).ravel() > common_limit(n)
    keep = ~frequent[col]
    sub, unit, col, ones = sub[keep], unit[keep], col[keep], ones[keep]
    present = sparse.csr_matrix((ones, (sub, col)), shape=(n, len(vocab)))
    present.data[:] = 1
    # Per unit: which fingerprints each (submission, unit) holds. A fingerprint in two cells of
    # one submission counts in both, in `counted` as in the units' sizes, consistently.
    cells = sparse.csr_matrix((ones, (sub * nu + unit, col)), shape=(n * nu, len(vocab)))
    counted = sparse.csr_matrix((ones, (sub, col)), shape=(n, len(vocab)))
    size = np.asarray(counted.sum(axis=1)).ravel().astype(float)

    histogram = np.zeros(BINS, dtype=np.int64)
    flagged: list[tuple[float, int, int, float]] = []
    near: list[tuple[float, int, int, float]] = []  # a min-heap of the best pairs not flagged
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        # mine[a, b]: a's fingerprints that b has; theirs[a, b]: b's fingerprints that a has.
        mine = (counted[lo:hi] @ present.T).toarray()
        theirs = (present[lo:hi] @ counted.T).toarray()
        shared = mine + theirs
        total = size[lo:hi, None] + size[None, :]
        score = np.divide(shared, total, out=np.zeros_like(total), where=total > 0)
        later = np.arange(n)[None, :] > np.arange(lo, hi)[:, None]  # each pair once
        histogram += np.histogram(np.minimum(score[later], 1.0), bins=BINS, range=(0, 1))[0]
        hit = later & (score >= threshold) & (shared / 2 >= MIN_SHARED)
        for i, j in zip(*np.nonzero(hit), strict=True):
            flagged.append((float(score[i, j]), lo + int(i), int(j), float(shared[i, j]) / 2))
        rest = np.where(later & ~hit, score, -1.0)
        for i, j in zip(*np.unravel_index(np.argsort(rest, axis=None)[::-1][:below], rest.shape),
                        strict=True):
            if rest[i, j] > 0:
                item = (float(rest[i, j]), lo + int(i), int(j), float(shared[i, j]) / 2)
                (heapq.heappush if len(near) < below else heapq.heappushpop)(near, item)

    def order(t: tuple[float, int, int, float]) -> tuple[float, int, int]:
        return -t[0], t[1], t[2]

    chosen = [(t, True) for t in sorted(flagged, key=order)]
    chosen += [(t, False) for t in sorted(near, key=order)]
    pairs = [PairScore(a, b, round(s, 4), round(sh, 1), hit,
                       _cell_scores(cells, present, nu, a, b, units))
             for (s, a, b, sh), hit in chosen]
    common = {int(h) for h in vocab[frequent]}
    return Scores(pairs, n * (n - 1) // 2, [int(c) for c in histogram], common)


def _cell_scores(cells, present, nu: int, a: int, b: int, units: list[str]) -> dict[str, float]:
    rows_a, rows_b = cells[a * nu:(a + 1) * nu], cells[b * nu:(b + 1) * nu]
    found_a = (rows_a @ present[b].T).toarray().ravel()  # a's unit q fingerprints b has
    found_b = (rows_b @ present[a].T).toarray().ravel()
    size_a = np.asarray(rows_a.sum(axis=1)).ravel()
    size_b = np.asarray(rows_b.sum(axis=1)).ravel()
    return {units[q]: round(float(found_a[q] + found_b[q]) / float(size_a[q] + size_b[q]), 4)
            for q in range(nu) if size_a[q] + size_b[q] > 0}


# ---------------------------------------------------------------- where two pairs match (pure)

@dataclass(frozen=True)
class Region:
    """One stretch of code found in both submissions: cell positions in their lists of own
    cells, character offsets in those cells."""

    number: int
    a_cell: int
    a_start: int
    a_end: int
    b_cell: int
    b_start: int
    b_end: int
    tokens: int


def _kgrams(cells: list[OwnCell], handout: Handout, common: Collection[int]) -> tuple[
        list[list[Token]], dict[int, list[tuple[int, int]]]]:
    """Every k-gram (not only the winnowed ones) of one submission, by hash: (cell, position)."""
    names = handout.names(cells)
    handed = handout.hashes(names)
    toks: list[list[Token]] = []
    where: dict[int, list[tuple[int, int]]] = {}
    for ci, c in enumerate(cells):
        t, hashes, own = handout.own_kgrams(c.source, names, handed)
        toks.append(t)
        for pos, h in enumerate(hashes.tolist()):
            if own[pos] and h not in common:
                where.setdefault(h, []).append((ci, pos))
    return toks, where


def matching_regions(a: list[OwnCell], b: list[OwnCell], handout: Handout,
                     common: Collection[int] = frozenset()) -> list[Region]:
    """The stretches of code two submissions share, longest first, none overlapping another on
    either side (greedy tiling of the runs of consecutive matching k-grams)."""
    toks_a, where_a = _kgrams(a, handout, common)
    toks_b, where_b = _kgrams(b, handout, common)
    matches = {(ca, i, cb, j) for h, places in where_a.items() if h in where_b
               for ca, i in places[:20] for cb, j in where_b[h][:20]}
    runs = []
    for ca, i, cb, j in matches:
        if (ca, i - 1, cb, j - 1) in matches:
            continue  # not the start of a run
        length = 1
        while (ca, i + length, cb, j + length) in matches:
            length += 1
        runs.append((length, ca, i, cb, j))
    taken_a = [np.zeros(len(t), bool) for t in toks_a]
    taken_b = [np.zeros(len(t), bool) for t in toks_b]
    regions: list[Region] = []
    for length, ca, i, cb, j in sorted(runs, key=lambda r: (-r[0], r[1], r[2], r[3], r[4])):
        span = length + K - 1  # tokens covered by `length` consecutive k-grams
        if taken_a[ca][i:i + span].any() or taken_b[cb][j:j + span].any():
            continue
        taken_a[ca][i:i + span] = taken_b[cb][j:j + span] = True
        ta, tb = toks_a[ca], toks_b[cb]
        regions.append(Region(0, ca, ta[i].start, ta[i + span - 1].end,
                              cb, tb[j].start, tb[j + span - 1].end, span))
    regions.sort(key=lambda r: (r.a_cell, r.a_start))
    return [replace(r, number=n) for n, r in enumerate(regions, start=1)]


