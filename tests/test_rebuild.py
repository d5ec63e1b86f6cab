"""Rebuilding a submission against its source: the forms in tests/data/forms/, then edge cases."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder.errors import AuthoringError
from autograder.notebook import Role, cells_of, read_notebook
from autograder.rebuild import (
    Match,
    answer_names,
    rebuild,
    release_stub,
)

ROOT = Path(__file__).parents[1]
FORMS = ROOT / "tests" / "data" / "forms"
# form set -> (its source, the folder make_forms.py wrote its forms to)
SETS = {
    "hw0": (FORMS / "source.ipynb", FORMS),
    "hw1_features": (ROOT / "source" / "hw1_features" / "hw1_features.ipynb", FORMS / "hw1_features"),
}
EXPECTED = {name: json.loads((folder / "expected.json").read_text()) for name, (_, folder) in SETS.items()}
REGENERATE = "python tests/data/forms/make_forms.py {source} {folder}"


@pytest.fixture(scope="module")
def source() -> nbformat.NotebookNode:
    return read_notebook(SETS["hw0"][0])


def submission(form: str, form_set: str = "hw0") -> nbformat.NotebookNode:
    return read_notebook(SETS[form_set][1] / f"{form}.ipynb")


def solution(code: str) -> str:
    return "\n".join(line for line in code.split("\n") if "SOLUTION" not in line)


def codes(rebuilt) -> dict[str | None, str]:
    return {c.grade_id: c.code.replace("\r\n", "\n") for c in rebuilt.cells if c.grade_id}


def flags(rebuilt) -> list[str]:
    return sorted({f.code for f in rebuilt.flags})


@pytest.mark.parametrize(("form_set", "form"), [(s, f) for s in SETS for f in sorted(EXPECTED[s])])
def test_form_rebuilds_like_the_solution_it_carries(form_set, form):
    source = read_notebook(SETS[form_set][0])
    expect = EXPECTED[form_set][form]
    rebuilt = rebuild(source, submission(form, form_set), source_path="source.ipynb",
                      submission_path=f"{form}.ipynb")
    assert flags(rebuilt) == expect["flags"], [f.message for f in rebuilt.flags]
    assert rebuilt.team == expect["team"]
    assert rebuilt.matches == expect["matches"]
    src = [c for c in cells_of(source) if c.role is not Role.FREE]
    assert [c.source_index for c in rebuilt.cells if c.source_index is not None] == [
        c.index for c in src]
    by_index = {c.source_index: c for c in rebuilt.cells if c.source_index is not None}
    for s in src:
        r = by_index[s.index]
        assert (r.role, r.grade_id, r.points, r.cell_type) == (s.role, s.grade_id, s.points,
                                                               s.cell_type)
        if s.is_instructor:  # always the source's, hidden tests included, however it was changed
            assert (r.code, r.submission_index) == (s.source, None)
        elif s.role in (Role.ANSWER, Role.WRITTEN):
            holds = expect["answers"][s.grade_id]
            want = {"solution": solution(s.source), "stub": release_stub(s), "missing": ""}[holds]
            assert r.code.replace("\r\n", "\n") == want, s.grade_id
            assert r.attempted is (holds == "solution")
            assert (r.submission_index is None) is (holds == "missing")


def test_only_the_extra_code_cell_is_added_after_the_answer_before_it(source):
    rebuilt = rebuild(source, submission("extra_helper_cell"))
    free = [(i, c) for i, c in enumerate(rebuilt.cells) if c.role is Role.FREE]
    assert len(free) == 1  # the markdown note is irrelevant
    i, helper = free[0]
    assert rebuilt.cells[i - 1].grade_id == "q1_square"
    assert helper.code.startswith("def _our_helper") and helper.submission_index is not None
    # The judge reaches the source's answer names only: the pair's helper stays in the kernel.
    assert answer_names(source) == {"square", "SCALE", "scale", "mean_square"}


def test_duplicated_answer_takes_the_last_copy_and_drops_the_other(source):
    sub = submission("answer_duplicated")
    rebuilt = rebuild(source, sub)
    q1 = next(c for c in rebuilt.cells if c.grade_id == "q1_square")
    assert q1.submission_index == 5 and "_first_try" in sub.cells[4].source
    assert not any("_first_try" in c.code for c in rebuilt.cells)
    assert "cells 5, 6" in rebuilt.flags[0].message


def test_duplicated_answer_prefers_the_copy_that_holds_work(source):
    sub = submission("complete")
    stub = copy.deepcopy(sub.cells[4])
    stub.source, stub.id = release_stub(cells_of(source)[4]), "kept-stub"
    sub.cells.insert(5, stub)
    rebuilt = rebuild(source, sub)
    assert codes(rebuilt)["q1_square"] == solution(source.cells[4].source)
    assert flags(rebuilt) == ["answer_duplicated"]


def test_changed_instructor_cells_are_named(source):
    edited = rebuild(source, submission("test_cell_edited")).flags[0].message
    deleted = rebuild(source, submission("test_cell_deleted")).flags[0].message
    assert "'q1_tests'" in edited and "edited (cell 6 of the submission)" in edited
    assert "'q1_tests'" in deleted and "deleted" in deleted


def test_edited_test_cell_without_metadata_does_not_run_as_student_code(source):
    rebuilt = rebuild(source, submission("colab_test_cell_edited"))
    assert not any("True or" in c.code for c in rebuilt.cells)
    assert "edited (cell 6 of the submission)" in rebuilt.flags[0].message


def test_forged_metadata_does_not_make_student_code_an_instructor_cell(source):
    sub = submission("complete")
    sub.cells[5].source = "pass  # a test that always passes"  # q1_tests, metadata kept
    sub.cells[4].metadata.nbgrader.update(locked=True, solution=False)  # answer posing as locked
    rebuilt = rebuild(source, sub)
    assert codes(rebuilt)["q1_tests"] == source.cells[5].source
    assert rebuilt.matches["q1_square"] == Match.BY_ID
    assert flags(rebuilt) == ["cells_changed"]


def test_empty_submission_is_all_missing_not_a_crash(source):
    rebuilt = rebuild(source, nbformat.v4.new_notebook())
    assert set(rebuilt.matches.values()) == {Match.MISSING}
    assert rebuilt.team is None
    assert flags(rebuilt) == ["cells_changed", "no_team_cell"]
    assert not any(c.attempted for c in rebuilt.cells if c.role is Role.ANSWER)


def test_stub_that_binds_nothing_is_found_alone_between_its_anchors(source):
    rebuilt = rebuild(source, submission("colab_untouched"))
    q2 = next(c for c in rebuilt.cells if c.grade_id == "q2_scale")
    assert rebuilt.matches["q2_scale"] == Match.BY_ANCHOR and q2.submission_index is not None
    assert not q2.attempted


def test_student_cells_before_any_match_run_first(source):
    sub = submission("metadata_stripped")
    sub.cells.insert(0, new_code_cell("import numpy as np\ndef check(*a):\n    pass"))
    sub.cells.insert(0, new_markdown_cell("Our notes"))
    rebuilt = rebuild(source, sub)
    assert rebuilt.cells[0].role is Role.FREE and rebuilt.cells[0].submission_index == 1
    # Rebinding the judge's own names (setup imports, helpers) makes no proxy of them.
    assert not {"np", "check"} & answer_names(source)


def test_answer_names_come_from_the_source_never_from_the_pairs_cells(source):
    sub = submission("complete")
    sub.cells[4].source += "\n\n\ndef cube(x):\n    return x ** 3\n\nlen = cube"
    rebuild(source, sub)
    assert not {"cube", "len"} & answer_names(source)


def test_duplicate_grade_id_in_the_source_is_an_authoring_error(source):
    bad = copy.deepcopy(source)
    bad.cells[8].metadata.nbgrader.grade_id = "q1_tests"
    with pytest.raises(AuthoringError) as info:
        rebuild(bad, submission("complete"), source_path="hw0.ipynb")
    assert info.value.cell == 9 and info.value.path == "hw0.ipynb"


@pytest.mark.parametrize("form_set", SETS)
def test_forms_on_disk_are_what_make_forms_writes(form_set):
    """The forms follow their source: a changed source needs its forms written again."""
    spec = importlib.util.spec_from_file_location("make_forms", FORMS / "make_forms.py")
    make_forms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_forms)
    source_path, folder = SETS[form_set]
    forms = make_forms.make_forms(read_notebook(source_path))
    stale = REGENERATE.format(source=source_path.relative_to(ROOT), folder=folder.relative_to(ROOT))
    assert sorted(forms) == sorted(EXPECTED[form_set]), stale
    for name, (nb, expect) in forms.items():
        assert expect == EXPECTED[form_set][name], stale
        assert what_rebuild_reads(nb) == what_rebuild_reads(submission(name, form_set)), stale


def what_rebuild_reads(nb: nbformat.NotebookNode) -> list[tuple]:
    return [(c.cell_type, c.source, c.metadata.get("nbgrader"), c.metadata.get("autograder"))
            for c in nb.cells]


def test_unreadable_metadata_is_dropped_not_a_crash(source):
    sub = submission("complete")
    sub.cells[4].metadata.nbgrader.grade_id = ["q1_square"]  # unhashable
    sub.cells[5].metadata.nbgrader = "tests"
    sub.cells[6].metadata = None
    sub.cells[0].metadata.autograder = 3  # the team cell: found by its text instead
    sub.cells.append("not a cell")
    rebuilt = rebuild(source, sub)
    assert codes(rebuilt)["q1_square"] == solution(source.cells[4].source)
    assert rebuilt.matches["q1_square"] == Match.BY_ANCHOR
    assert flags(rebuilt) == ["metadata_stripped"]
    assert rebuilt.team == ["21900101", "21900102"]


def stripped(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def test_tests_cell_with_only_hidden_tests_is_found_empty_in_a_stripped_notebook(source):
    source = copy.deepcopy(source)
    source.cells[8].source = "### BEGIN HIDDEN TESTS\nassert scale(1) == 2.0\n### END HIDDEN TESTS"
    sub = stripped(submission("colab_untouched"))
    sub.cells[8].source = ""  # what the release makes of it
    sub.cells.insert(9, new_code_cell(""))  # and an empty cell of the pair's own
    rebuilt = rebuild(source, sub)
    assert flags(rebuilt) == ["metadata_stripped", "no_team_cell"]
    assert rebuilt.matches["q2_scale"] == Match.BY_ANCHOR


def test_a_helper_near_a_deleted_test_cell_still_runs(source):
    sub = submission("test_cell_deleted")  # q1_tests was cell 6
    sub.cells.insert(5, new_code_cell('def check_square():\n    assert square(3) == 9, "square"'))
    rebuilt = rebuild(source, stripped(sub))
    assert any(c.role is Role.FREE and "check_square" in c.code for c in rebuilt.cells)
    assert "deleted" in next(f.message for f in rebuilt.flags if f.code == "cells_changed")
