"""The similarity report: planted copies found, independent solutions not, the stub worth nothing.

The class is tests/data/similarity/submissions/ (made by make.py there): three independent
correct solutions of hw2_mlp (alpha, beta, gamma), alpha renamed with its functions reordered,
beta with other comments and hostile HTML, half of gamma saved without cell metadata, the
release with only the team filled in, and a file that is not a notebook.
"""

from __future__ import annotations

import json
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest
from openpyxl import load_workbook

from autograder import pair_scores, similarity
from autograder.cli import main
from autograder.config import load_course
from autograder.errors import ConfigError
from autograder.fingerprints import names_of, tokens
from autograder.gradebook import build_gradebook
from autograder.notebook import read_notebook
from autograder.own_code import Handout, OwnCell, Prints, fingerprint, own_cells, units_of
from autograder.pair_scores import PairScore, common_limit, score_pairs
from autograder.results import QuestionResult, SubmissionResult, SubmissionStatus, write_result
from autograder.similarity import (
    Pair,
    SimilarityReport,
    gradebook_similarity,
    read_report,
    similarity_report,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "similarity"
SUBMISSIONS = DATA / "submissions"
HW = "hw2_mlp"
SOURCE = ROOT / "source" / HW / f"{HW}.ipynb"
PLANTED = {frozenset(p) for p in [("alpha", "copy_renamed_reordered"),
                                  ("beta", "copy_other_comments"), ("gamma", "half_copied")]}
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
ROSTER = "student_id,last_name,first_name,email\n" + "".join(
    f"2190{n:04d},{HOSTILE_NAME if n == 111 else f'Last{n}'},First{n},s{n}@example.edu\n"
    for n in range(101, 115))


def _course(folder: Path, write_course, **similarity: object):
    return load_course(write_course(
        folder, roster=ROSTER, course={"name": "Deep Learning (M2)", "timezone": "Europe/Paris"},
        assignments={HW: {"notebook": SOURCE, "due": "2026-11-02T23:59"}},
        **({"similarity": similarity} if similarity else {})))


@pytest.fixture(scope="module")
def course(tmp_path_factory, write_course):
    return _course(tmp_path_factory.mktemp("course"), write_course)


@pytest.fixture(scope="module")
def report(course) -> SimilarityReport:
    return similarity_report(course=course, assignment=HW, submissions=SUBMISSIONS,
                             results=[course.root / "results"],
                             pages=course.root / "similarity" / HW, workers=1)


@pytest.fixture(scope="module")
def scores() -> dict[frozenset[str], PairScore]:
    """Every pair's scores (not only those the report lists), by the pair of names."""
    source = read_notebook(SOURCE)
    units = units_of(source)
    handout = Handout.of(source)
    names, prints = [], []
    for path in sorted(SUBMISSIONS.glob("*.ipynb")):
        if path.stem != "not_a_notebook":
            names.append(path.stem)
            prints.append(fingerprint(own_cells(source, read_notebook(path)), handout, units))
    found = score_pairs(prints, units, threshold=2.0, below=1000)  # none flagged: all listed
    return {frozenset((names[p.a], names[p.b])): p for p in found.pairs}


def test_planted_copies_are_flagged_above_the_threshold(report):
    flagged = {frozenset((p.a, p.b)): p for p in report.flagged}
    assert set(flagged) == PLANTED
    assert report.threshold == 0.4  # the default of course.toml's [similarity] threshold
    assert flagged[frozenset(("alpha", "copy_renamed_reordered"))].score >= 0.9
    assert flagged[frozenset(("beta", "copy_other_comments"))].score >= 0.9
    assert flagged[frozenset(("gamma", "half_copied"))].score >= report.threshold


def test_independent_correct_solutions_stay_below_the_threshold(scores, report):
    honest = {pair: p.score for pair, p in scores.items() if pair not in PLANTED}
    assert honest, "the honest pairs were compared"
    worst = max(honest, key=honest.get)
    assert honest[worst] < report.threshold, (sorted(worst), honest[worst])


def test_the_half_copied_notebook_matches_in_the_copied_cells_only(scores):
    cells = scores[frozenset(("gamma", "half_copied"))].cells
    copied = ("init_params", "forward", "softmax_cross_entropy", "numerical_gradient")
    assert all(cells[c] >= 0.9 for c in copied), cells
    # its own half (written independently) shares no more than honest pairs share
    assert all(cells[c] < 0.5 for c in ("backward", "train_mlp", "torch_mlp", "train_torch")), cells


def test_the_stub_alone_scores_zero(scores):
    source = read_notebook(SOURCE)
    stub = read_notebook(SUBMISSIONS / "stub_only.ipynb")
    assert own_cells(source, stub) == []  # the team filled in, no answer: nothing of its own
    prints = fingerprint([], Handout.of(source), units_of(source))
    assert len(prints.hashes) == 0
    assert not [pair for pair in scores if "stub_only" in pair]  # 0 against every notebook


def test_kept_skeleton_counts_for_nothing():
    """Two pairs who kept the signatures and docstrings and wrote one different line each."""
    source = read_notebook(SOURCE)
    handout = Handout.of(source)
    units = units_of(source)
    skeleton = ('def init_params(sizes, seed=0):\n    """He-initialised weights W1, W2, ... and '
                'zero biases b1, b2, ... for layer sizes `sizes`."""\n')
    a = OwnCell("init_params", 5, skeleton + "    return {}\n")
    b = OwnCell("init_params", 5, skeleton + "    print(sizes)\n    return None\n")
    found = score_pairs([fingerprint([a], handout, units), fingerprint([b], handout, units)],
                        units, threshold=2.0, below=10)
    assert found.pairs == []


def test_fingerprints_survive_renames_comments_whitespace_and_docstrings():
    a = ("def total(x, n):\n    s = 0  # running sum\n    for i in range(n):\n"
         "        s += np.abs(x[i]) ** 2\n    return s\n")
    b = ('def total(values, count):\n    """Sum of squares."""\n    acc=0\n\n'
         "    for k in range( count ):\n        # square it\n        acc += np.abs(values[k])**2\n"
         "    return acc\n")
    assert ([t.text for t in tokens(a, names_of([a]))]
            == [t.text for t in tokens(b, names_of([b]))])
    # what a copier cannot rename is kept: another library call is other code
    c = a.replace("np.abs", "np.sqrt")
    assert [t.text for t in tokens(a, names_of([a]))] != [t.text for t in tokens(c, names_of([c]))]


def test_reordered_functions_keep_their_fingerprints():
    source = read_notebook(SOURCE)
    forward = next(c.source for c in nbformat.read(SUBMISSIONS / "alpha.ipynb", 4).cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "forward")
    reordered = "\n\n\n".join(reversed(forward.split("\n\n\n")))
    assert reordered != forward

    handout, units = Handout.of(source), units_of(source)

    def prints(code: str) -> set[int]:
        return set(fingerprint([OwnCell("forward", 8, code)], handout, units)
                   .hashes.tolist())

    first, second = prints(forward), prints(reordered)
    # what changes is only where one function ends and the other starts
    assert len(first & second) / len(first | second) >= 0.9


def _brute_force(prints: list[Prints], n_units: int, limit: int) -> dict:
    df: dict[int, int] = {}
    for p in prints:
        for h in set(p.hashes.tolist()):
            df[h] = df.get(h, 0) + 1
    keep = [{h for h in p.hashes.tolist() if df[h] <= limit} for p in prints]
    units = [[{h for h in p.hashes[p.units == u].tolist() if df[h] <= limit}
              for u in range(n_units)] for p in prints]
    out = {}
    for a in range(len(prints)):
        for b in range(a + 1, len(prints)):
            shared = sum(len(units[a][u] & keep[b]) + len(units[b][u] & keep[a])
                         for u in range(n_units))
            size = sum(len(units[a][u]) + len(units[b][u]) for u in range(n_units))
            cells = {u: (len(units[a][u] & keep[b]) + len(units[b][u] & keep[a]))
                     / (len(units[a][u]) + len(units[b][u]))
                     for u in range(n_units) if units[a][u] or units[b][u]}
            out[(a, b)] = (shared / size if size else 0.0, cells)
    return out


def test_the_index_scores_every_pair_as_pair_by_pair_sets_would(monkeypatch):
    monkeypatch.setattr(pair_scores, "BLOCK", 5)  # several blocks of submissions
    rng = np.random.default_rng(3)
    everywhere = range(10_000, 10_005)  # in every submission: the class's idiom
    prints = []
    for _ in range(23):
        found = {(int(h), int(rng.integers(3)))
                 for h in [*rng.choice(400, size=rng.integers(20, 60), replace=False), *everywhere]}
        h, u = next(iter(found))
        found.add((h, (u + 1) % 3))  # one fingerprint in two cells: it counts in both
        hashes, units = zip(*sorted(found), strict=True)
        prints.append(Prints(np.array(hashes, dtype=np.uint64), np.array(units, dtype=np.int32)))
    units = ["q1", "q2", "q3"]
    found = score_pairs(prints, units, threshold=2.0, below=10_000)
    expected = _brute_force(prints, 3, common_limit(len(prints)))
    listed = {(p.a, p.b): p for p in found.pairs}
    assert found.compared == 23 * 22 // 2 == sum(found.histogram)
    assert set(everywhere) <= found.common
    for pair, (score, cells) in expected.items():
        if score == 0:
            assert pair not in listed
            continue
        assert listed[pair].score == pytest.approx(score, abs=1e-4)
        assert listed[pair].cells == pytest.approx({units[u]: s for u, s in cells.items()},
                                                   abs=1e-4)


def test_fingerprints_of_the_whole_class_are_its_idiom_not_a_copy():
    idiom = list(range(50))  # in every notebook: the class's idiom
    prints = []
    for i in range(12):
        own = [1000 + 100 * i + k for k in range(30)]
        prints.append(Prints(np.array(idiom + own, dtype=np.uint64),
                             np.zeros(80, dtype=np.int32)))
    copied = prints[3].hashes[50:]  # submission 11 copies 3's own code as well
    prints[11] = Prints(np.concatenate([prints[11].hashes, copied]), np.zeros(110, np.int32))
    found = score_pairs(prints, ["q"], threshold=0.4, below=5)
    assert [(p.a, p.b, round(p.score, 3)) for p in found.pairs] == [(3, 11, 0.667)]
    assert found.common == set(idiom)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}


def test_pages_show_student_text_as_text(report, course):
    pages = sorted((course.root / "similarity" / HW).glob("*.html"))
    assert [p.name for p in pages] == ["index.html", "pair-001.html", "pair-002.html",
                                       "pair-003.html"]
    text = "".join(p.read_text(encoding="utf-8") for p in pages)
    parser = _Tags()
    parser.feed(text)
    assert parser.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
                           "p", "b", "code", "table", "tr", "th", "td", "a", "mark", "pre",
                           "div", "ul", "li"}, parser.tags
    assert parser.attributes <= {"lang", "charset", "http-equiv", "content", "href", "id",
                                 "class", "title"}, parser.attributes
    assert "&lt;/pre&gt;&lt;script&gt;alert" in text  # the comment in copy_other_comments
    assert "21900110&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text  # its team id
    assert "&lt;img src=x onerror=alert(1)&gt;" in text  # a roster name
    assert all("Content-Security-Policy" in p.read_text(encoding="utf-8") for p in pages)


def test_a_pair_page_highlights_the_matching_regions_side_by_side(report, course):
    pair = next(p for p in report.flagged if {p.a, p.b} == {"gamma", "half_copied"})
    page = (course.root / pair.page).read_text(encoding="utf-8")
    assert '<mark id="a1"' in page and '<mark id="b1"' in page and 'href="#b1"' in page
    marked = " ".join(part.split("</mark>")[0] for part in page.split("<mark ")[1:])
    assert "for i, W in enumerate(Ws, start=1):" in marked  # gamma's, copied
    # ...but not the call the instructions quote: what every pair was given is no evidence
    assert "rng.normal(0.0, np.sqrt(2.0 / a)" in page and "rng.normal(0.0" not in marked
    assert "np.heaviside" in page and "np.heaviside" not in marked  # the copier's own half
    regions = page.split("<h2>Matching regions</h2>")[1].split("</table>")[0].count("<tr>") - 1
    assert regions >= 4  # at least one per copied cell


def test_a_notebook_that_cannot_be_read_is_listed_and_the_class_compared(report):
    assert report.submissions == 7
    assert "not_a_notebook" in report.skipped
    assert "not a valid notebook" in report.skipped["not_a_notebook"]


def test_hostile_code_is_compared_or_listed_never_fatal(tmp_path, course):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "alpha.ipynb", folder / "alpha.ipynb")
    nb = nbformat.read(SUBMISSIONS / "beta.ipynb", 4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "forward":
            cell.source = "x = " + "(" * 3000 + ")" * 3000 + '\n"""unfinished\n' + "[" * 500
    nbformat.write(nb, folder / "nested.ipynb")
    found = similarity_report(course=course, assignment=HW, submissions=folder,
                              results=[tmp_path / "results"], pages=tmp_path / "pages",
                              workers=1)
    assert found.submissions + len(found.skipped) == 2  # compared, or listed with the reason


def test_notebooks_read_in_worker_processes_score_as_in_one(monkeypatch, tmp_path, course,
                                                            report):
    monkeypatch.setattr(similarity, "POOL_FROM", 1)
    found = similarity_report(course=course, assignment=HW, submissions=SUBMISSIONS,
                              results=[tmp_path / "results"], pages=tmp_path / "pages",
                              workers=2)
    assert [(p.a, p.b, p.score, p.cells) for p in found.pairs] == [
        (p.a, p.b, p.score, p.cells) for p in report.pairs]


def test_the_report_is_stored_for_the_gradebook(report, course):
    stored = read_report([course.root / "results"], HW)
    assert stored is not None and stored.to_dict() == report.to_dict()
    assert json.loads((course.root / "results" / HW / "similarity" / "report.json")
                      .read_text(encoding="utf-8"))["assignment"] == HW
    assert read_report([course.root / "results"], "hw1_features") is None


def test_gradebook_rows_and_flags_are_pure_and_safe():
    pair = Pair("s1", "s2", ["=HYPERLINK(\"http://x\")"], ["Léa Martin (1001)"], 0.8, 40.0,
                {"forward": 0.95, "backward": 0.2}, True, page="similarity/hw/pair-001.html")
    below = Pair("s3", "s4", ["a"], ["b"], 0.2, 9.0, {"forward": 0.2}, False)
    report = SimilarityReport(HW, 0.4, "2026-11-03T10:00:00+00:00", 4, 6, [pair, below],
                              [0] * 10, 0, content_hashes={"s1": "aaa", "s2": "bbb"})
    rows, flags = gradebook_similarity(report, content_hashes={"s1": "aaa", "s2": "new"})
    assert [r["flagged"] for r in rows] == ["yes", "no"]
    # As the students wrote it: the gradebook writes every string as text, never as a formula.
    assert rows[0]["team A"] == '=HYPERLINK("http://x")'
    assert rows[0]["cells"] == "forward 95%"
    assert set(flags) == {"s1", "s2"}  # the pair under the threshold is no flag
    message = flags["s1"][0].message
    assert flags["s1"][0].code == "similar_code"
    assert "80%" in message and "s2" in message and "pair-001.html" in message
    assert "s2 changed since the report was made" in message
    assert gradebook_similarity(None) == ([], {})


def _result(sid: str, team: list[str], points: float) -> SubmissionResult:
    return SubmissionResult(assignment=HW, submission_id=sid, status=SubmissionStatus.GRADED,
                            team=team,
                            submitted_at="2026-11-02T20:00:00+01:00", points=points,
                            max_points=20.0, graded_at="2026-11-03T10:00:00+00:00",
                            source=f"{sid}.ipynb",
                            questions=[QuestionResult("forward", points, 20.0, "partial")])


def test_the_gradebook_shows_the_flags_and_changes_no_grade(report, course, tmp_path):
    results = tmp_path / "results"
    for path in sorted(SUBMISSIONS.glob("*.ipynb")):
        if path.stem == "not_a_notebook":
            continue
        team = next(c.source for c in nbformat.read(path, 4).cells if "TEAM = " in c.source)
        ids = json.loads(team.split("TEAM = ")[1])
        write_result(_result(path.stem, ids, 12.0), results / HW / f"{path.stem}.json")
    before = build_gradebook(course=course, assignments=[HW], results=[results],
                             out=tmp_path / "before.xlsx")
    shutil.copytree(course.root / "results" / HW / "similarity", results / HW / "similarity")
    after = build_gradebook(course=course, assignments=[HW], results=[results],
                            out=tmp_path / "after.xlsx")
    grades = [(r["student_id"], r[f"{HW} grade"], r["final /20"]) for r in before.rows]
    assert grades == [(r["student_id"], r[f"{HW} grade"], r["final /20"]) for r in after.rows]
    flagged = {s for p in report.flagged for s in (p.a, p.b)}
    problems = [p for p in after.problems if p["problem"] == "similar_code"]
    assert {p["submission"] for p in problems} == flagged
    assert not [p for p in before.problems if p["problem"] == "similar_code"]
    book = load_workbook(tmp_path / "after.xlsx")
    assert "similarity" in book.sheetnames and "similarity" not in load_workbook(
        tmp_path / "before.xlsx").sheetnames
    sheet = list(book["similarity"].iter_rows(values_only=True))
    assert sheet[0][:4] == ("assignment", "rank", "score", "flagged")
    assert sum(row[3] == "yes" for row in sheet[1:]) == 3
    marked = {r["student_id"] for r in after.rows if "similar_code" in r["flags"]}
    assert marked == {r["student_id"] for r in after.rows
                      if r.get(f"{HW} submission") in flagged}
    assert len(marked) == 12  # both students of the six flagged submissions


def test_the_threshold_is_course_toml_s(tmp_path, write_course):
    assert _course(tmp_path / "a", write_course, threshold=0.9).similarity.threshold == 0.9
    for n, (bad, words) in enumerate((({"threshold": 0}, "above 0"),
                                      ({"threshold": 1.5}, "at most 1"),
                                      ({"threshold": "high"}, "should be a number"),
                                      ({"limit": 0.3}, "unknown key similarity.limit"))):
        with pytest.raises(ConfigError, match=words):
            _course(tmp_path / str(n), write_course, **bad)


def test_the_command(course, tmp_path, capsys):
    code = main(["--course", str(course.path), "similarity", HW, str(SUBMISSIONS),
                 "--results", str(tmp_path / "results"), "--out", str(tmp_path / "pages")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{HW}: 7 submissions, 21 pairs compared; 3 at or above 40%; 1 not compared" in out
    assert "gamma (First105 Last105 (21900105); First106 Last106 (21900106))" in out
    assert "not compared: not_a_notebook" in err
    assert (tmp_path / "pages" / "index.html").is_file()
    assert (tmp_path / "results" / HW / "similarity" / "report.json").is_file()
    code = main(["--course", str(course.path), "similarity", HW, str(tmp_path / "nowhere")])
    assert code == 2
    assert "no such folder of submissions" in capsys.readouterr().err


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
