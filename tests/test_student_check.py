"""Students' own check: which cells are tests, statuses, team cell, altered instructor cells."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import cli
from autograder.errors import AutograderError
from autograder.notebook import nbgrader_checksum
from autograder.student import (
    CheckSummary,
    Outcome,
    QuestionRow,
    RowStatus,
    check,
    check_here,
    find_test_cells,
    manifest_of,
    notebook_holding,
    notebook_path_from,
    render_html,
    render_summary,
    run_in_namespace,
    summarise,
    team_problems,
)

GOLDEN = Path(__file__).parent / "data" / "release"
RELEASE = GOLDEN / "release" / "demo" / "demo.ipynb"
SOLUTIONS = GOLDEN / "solutions" / "demo" / "demo.ipynb"
# Cells of the demo release (0-based): 0 team, 4 q1 answer, 5 q1 tests, 7 q2 answer, 8 q2 tests.
Q1_ANSWER, Q1_TESTS, Q2_ANSWER, Q2_TESTS = 4, 5, 7, 8


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def filled() -> nbformat.NotebookNode:
    nb = load(SOLUTIONS)
    nb.cells[0].source = 'TEAM = ["21900001", "21900002"]'
    return nb


def stripped(nb: nbformat.NotebookNode, *, notebook_metadata: bool = False):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = {}
    if notebook_metadata:
        nb.metadata = {}
    return nb


def all_ran(nb) -> dict[int, Outcome]:
    return {i: Outcome() for i, c in enumerate(nb.cells) if c.cell_type == "code"}


def statuses(summary: CheckSummary) -> dict[str, str]:
    return {q.grade_id: q.status for q in summary.questions}


# --- pure logic -------------------------------------------------------------------------------


def test_test_cells_and_the_answers_before_them():
    nb = load(RELEASE)
    tests, missing = find_test_cells(nb, manifest_of(nb))
    assert [(t.grade_id, t.index) for t in tests] == [("q1_tests", Q1_TESTS), ("q2_tests", Q2_TESTS)]
    assert Q1_ANSWER in tests[0].block and Q2_ANSWER in tests[1].block
    assert Q1_ANSWER not in tests[1].block
    assert missing == []


def test_filled_notebook_all_passed():
    nb = filled()
    summary = summarise(nb, all_ran(nb), notebook="demo.ipynb")
    assert statuses(summary) == {"q1_tests": RowStatus.PASSED, "q2_tests": RowStatus.PASSED}
    assert summary.team == ["21900001", "21900002"]
    assert summary.problems == [] and summary.ok


def test_failed_test_reports_the_assertion_message():
    nb = filled()
    outcomes = all_ran(nb)
    outcomes[Q1_TESTS] = Outcome(error=("AssertionError", "each column must have mean 0"))
    outcomes[Q2_TESTS] = Outcome(error=("AssertionError", ""))
    summary = summarise(nb, outcomes, notebook="demo.ipynb")
    rows = {q.grade_id: q for q in summary.questions}
    assert rows["q1_tests"].status == RowStatus.FAILED
    assert rows["q1_tests"].message == "each column must have mean 0"
    assert rows["q1_tests"].cell == Q1_TESTS + 1
    assert rows["q2_tests"].message == "an assertion failed"
    assert not summary.passed and not summary.ok


def test_bare_release_not_attempted():
    nb = load(RELEASE)
    outcomes = all_ran(nb)
    # whole-cell stub: the answer cell raises, the test cell then misses the name
    outcomes[Q2_ANSWER] = Outcome(error=("NotImplementedError", ""))
    outcomes[Q2_TESTS] = Outcome(error=("NameError", "name 'relu' is not defined"))
    # stub inside a function: the test cell's call raises it
    outcomes[Q1_TESTS] = Outcome(error=("NotImplementedError", ""))
    summary = summarise(nb, outcomes, notebook="demo.ipynb")
    assert statuses(summary) == {"q1_tests": RowStatus.NOT_ATTEMPTED,
                                 "q2_tests": RowStatus.NOT_ATTEMPTED}
    assert "NotImplementedError" in summary.questions[1].message
    assert any("TEAM is empty" in p for p in summary.problems)


def test_error_in_answer_cell_is_pointed_at():
    nb = filled()
    outcomes = all_ran(nb)
    outcomes[Q2_ANSWER] = Outcome(error=("SyntaxError", "invalid syntax"))
    outcomes[Q2_TESTS] = Outcome(error=("NameError", "name 'relu' is not defined"))
    row = summarise(nb, outcomes, notebook="x").questions[1]
    assert row.status == RowStatus.FAILED
    assert row.message == (f"NameError: name 'relu' is not defined (cell {Q2_ANSWER + 1} above "
                           "failed: SyntaxError)")


def test_timeout_and_dead_kernel():
    nb = filled()
    outcomes = all_ran(nb)
    outcomes[Q1_TESTS] = Outcome(error=("CellTimeout", "over 1 s"), timed_out=True)
    outcomes[Q2_TESTS] = Outcome(ran=False)
    assert statuses(summarise(nb, outcomes, notebook="x")) == {
        "q1_tests": RowStatus.TIMEOUT, "q2_tests": RowStatus.NOT_RUN}


def test_cell_metadata_stripped_tests_found_by_fingerprint():
    nb = stripped(filled())
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert statuses(summary) == {"q1_tests": RowStatus.PASSED, "q2_tests": RowStatus.PASSED}
    assert [q.cell for q in summary.questions] == [Q1_TESTS + 1, Q2_TESTS + 1]
    assert summary.problems == [] and summary.team == ["21900001", "21900002"]


def test_all_metadata_stripped_tests_guessed_or_taken_from_the_release():
    nb = stripped(filled(), notebook_metadata=True)
    outcomes = all_ran(nb)
    outcomes[Q2_TESTS] = Outcome(error=("AssertionError", "relu([-1, 2]) should be [0, 2]"))
    guessed = summarise(nb, outcomes, notebook="x")
    assert statuses(guessed) == {f"cell {Q1_TESTS + 1}": RowStatus.PASSED,
                                 f"cell {Q2_TESTS + 1}": RowStatus.FAILED}
    assert any("--release" in n for n in guessed.notes) and guessed.problems == []
    summary = summarise(nb, outcomes, notebook="x", manifest=manifest_of(load(RELEASE)))
    assert statuses(summary) == {"q1_tests": RowStatus.PASSED, "q2_tests": RowStatus.FAILED}


def test_no_tests_at_all_is_a_problem():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    summary = summarise(nb, {0: Outcome()}, notebook="x")
    assert summary.questions == [] and any("no test cells" in p for p in summary.problems)
    assert not summary.ok


def test_moved_cells_keep_their_questions():
    nb = filled()
    nb.cells.append(nb.cells.pop(Q1_TESTS))  # q1 tests now last
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert [q.grade_id for q in summary.questions] == ["q1_tests", "q2_tests"]
    assert summary.questions[0].cell == len(nb.cells)


def test_deleted_test_cell_is_missing():
    nb = filled()
    del nb.cells[Q2_TESTS]
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert statuses(summary)["q2_tests"] == RowStatus.MISSING
    assert any("'q2_tests' was deleted" in p for p in summary.problems)
    assert not summary.ok


def test_altered_test_cell_is_a_problem():
    nb = filled()
    nb.cells[Q1_TESTS].source = "assert True"
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert any(p.startswith(f"cell {Q1_TESTS + 1} (q1_tests) was changed") for p in summary.problems)


def test_altered_test_cell_without_metadata_is_a_problem():
    nb = stripped(filled())
    nb.cells[Q1_TESTS].source = "assert True"
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert statuses(summary)["q1_tests"] == RowStatus.MISSING
    assert any("'q1_tests' was deleted or changed" in p for p in summary.problems)


def test_comment_only_change_is_not_a_change_without_metadata():
    nb = stripped(filled())
    nb.cells[Q1_TESTS].source += "\n# my note\n"
    assert summarise(nb, all_ran(nb), notebook="x").problems == []


def test_altered_prose_is_a_note_not_a_problem():
    nb = filled()
    nb.cells[1].source += "\nmy own notes"
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert summary.ok
    assert any("(title) was changed" in n for n in summary.notes)


@pytest.mark.parametrize("source, team, problem", [
    ('TEAM = ["21900001", "21900002"]', ["21900001", "21900002"], None),
    ('TEAM = ["<student id>", "<student id>"]', [], "TEAM is empty"),
    ('TEAM = ["1", "2", "3"]', ["1", "2", "3"], "teams have at most 2"),
    ('TEAM = ["1", "1"]', ["1", "1"], "appears twice"),
    ("TEAM = [who]", None, "list of student ids in quotes"),
])
def test_team_cell(source, team, problem):
    nb = load(RELEASE)
    nb.cells[0].source = source
    got, problems, _ = team_problems(nb, 2)
    assert got == team
    assert (problems == []) if problem is None else (problem in problems[0])


def test_team_of_one_is_a_note_and_no_team_cell_a_problem():
    nb = load(RELEASE)
    nb.cells[0].source = 'TEAM = ["21900001"]'
    _, problems, notes = team_problems(nb, 2)
    assert problems == [] and "partner" in notes[0]
    del nb.cells[0]
    assert "no team cell" in team_problems(nb, 2)[1][0]


def test_source_notebook_without_manifest_still_checks():
    nb = load(GOLDEN / "source" / "demo" / "demo.ipynb")
    summary = summarise(nb, all_ran(nb), notebook="x")
    assert [q.grade_id for q in summary.questions] == ["q1_tests", "q2_tests"]
    assert any("no release manifest" in n for n in summary.notes)


def test_run_in_namespace_catches_each_cell():
    nb = load(RELEASE)
    tests, _ = find_test_cells(nb, manifest_of(nb))
    namespace: dict = {}
    exec("import numpy as np\nrng = np.random.default_rng(0)\n"
         "def standardize(X):\n    raise NotImplementedError()\n"
         "def relu(x):\n    return x", namespace)
    outcomes = run_in_namespace(tests, namespace)
    assert outcomes[Q1_TESTS].error[0] == "NotImplementedError"
    assert outcomes[Q2_TESTS].error == ("AssertionError", "relu([-1, 2]) should be [0, 2]")


def test_notebook_path_from_editor_variables(tmp_path):
    (tmp_path / "hw.ipynb").write_text("{}")
    assert notebook_path_from({"__vsc_ipynb_file__": str(tmp_path / "hw.ipynb")}, {},
                              tmp_path) == tmp_path / "hw.ipynb"
    # JupyterLab: a path relative to the server root, the kernel runs in the notebook's folder
    assert notebook_path_from({"__session__": "course/hw.ipynb"}, {}, tmp_path) == \
        tmp_path / "hw.ipynb"
    assert notebook_path_from({}, {"JPY_SESSION_NAME": "hw.ipynb"}, tmp_path) == \
        tmp_path / "hw.ipynb"
    assert notebook_path_from({"__session__": "other.ipynb"}, {}, tmp_path) is None
    assert notebook_path_from({}, {}, tmp_path) is None


class FakeShell:
    """The two things check() uses of IPython's shell."""

    def __init__(self, user_ns):
        self.user_ns = user_ns

    def transform_cell(self, source):
        return source


def test_check_in_a_running_notebook(tmp_path):
    path = tmp_path / "hw.ipynb"
    nbformat.write(filled(), path)
    namespace = {"__session__": str(path)}
    exec("import numpy as np\nrng = np.random.default_rng(0)\n"
         "def standardize(X):\n    return (X - X.mean(0)) / X.std(0)\n"
         "def relu(x):\n    raise NotImplementedError()", namespace)
    summary = check_here(FakeShell(namespace), None, None)
    assert statuses(summary) == {"q1_tests": RowStatus.PASSED, "q2_tests": RowStatus.NOT_ATTEMPTED}
    assert any("as last saved" in n for n in summary.notes)
    assert "Z" in namespace  # the tests ran in the student's namespace


def test_check_in_a_notebook_without_a_known_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(AutograderError, match="cannot tell which file"):
        check_here(FakeShell({}), None, None)


def test_check_outside_a_notebook_needs_a_path(capsys):
    assert check() is None
    err = capsys.readouterr().err
    assert "which notebook" in err and "Traceback" not in err


def test_render_plain_and_rich():
    summary = CheckSummary("hw.ipynb", "demo", [
        QuestionRow("q1_tests", RowStatus.PASSED, "", 6, 2.0),
        QuestionRow("q2_tests", RowStatus.FAILED, "relu([-1, 2]) should be [0, 2]", 9, 1.5),
    ], ["21900001"], problems=["cell 1: TEAM is empty"], notes=["a note"])
    plain = render_summary(summary)
    assert "question  points  status  cell  message" in plain
    assert "q2_tests  1.5     failed  9     relu([-1, 2]) should be [0, 2]" in plain
    assert "problem: cell 1: TEAM is empty" in plain
    assert "1/2 visible tests pass (questions worth 2 of 3.5 points)." in plain
    fancy = render_summary(summary, rich=True)
    assert "\x1b[" in fancy and "q2_tests" in fancy and "should be [0, 2]" in fancy


def test_summary_repr_is_one_short_line():
    nb = filled()
    text = repr(summarise(nb, all_ran(nb), notebook="hw.ipynb"))
    assert text == "<CheckSummary hw.ipynb: 2/2 visible tests pass, 0 problem(s)>"


def test_html_report_escapes_what_the_student_wrote():
    summary = CheckSummary("hw.ipynb", "demo", [
        QuestionRow("q1_tests", RowStatus.FAILED, "<script>alert(1)</script>", 6, 2.0)],
        ["<b>x</b>"])
    page = render_html(summary)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;x" in page
    assert "failed" in page and "0/1 visible tests pass" in page


# --- what a NameError means, a changed test cell ----------------------------------------------


def test_live_check_before_the_cells_ran_says_run_all_cells_first():
    nb = filled()
    outcomes = {Q1_TESTS: Outcome(error=("NameError", "name 'rng' is not defined")),
                Q2_TESTS: Outcome(error=("NameError", "name 'np' is not defined"))}
    summary = summarise(nb, outcomes, notebook="x", live=True)
    assert statuses(summary) == {"q1_tests": RowStatus.RUN_FIRST, "q2_tests": RowStatus.RUN_FIRST}
    assert summary.questions[0].message == "'rng' is not defined in this kernel yet (cell 3 " \
                                           "defines it)"
    assert summary.problems[0].startswith("this kernel has not run every cell ('rng' is not "
                                          "defined in this kernel yet (cell 3 defines it)): "
                                          "run all cells first")
    text = render_summary(summary)
    assert "run cells first" in text and "NameError" not in text
    assert "Not checked yet: run all cells first" in text and not summary.ok


def test_name_defined_nowhere_is_a_failure_that_says_so():
    nb = filled()
    nb.cells[Q2_ANSWER].source = "def rectify(x):\n    return np.maximum(x, 0)"
    outcomes = all_ran(nb)
    outcomes[Q2_TESTS] = Outcome(error=("NameError", "name 'relu' is not defined"))
    for live in (True, False):
        row = summarise(nb, outcomes, notebook="x", live=live).questions[1]
        assert row.status == RowStatus.FAILED
        assert row.message == ("NameError: name 'relu' is not defined: no cell of this notebook "
                               "defines 'relu' (renamed?)")


def test_definition_below_the_test_must_move_above():
    nb = filled()
    nb.cells.append(nb.cells.pop(Q2_ANSWER))  # relu now defined in the last cell
    outcomes = all_ran(nb)
    tests_index = Q2_TESTS - 1
    outcomes[tests_index] = Outcome(error=("NameError", "name 'relu' is not defined"))
    row = summarise(nb, outcomes, notebook="x").questions[1]
    assert row.status == RowStatus.FAILED
    assert row.message.endswith(f"cell {len(nb.cells)} defines it, after this test: move it above")


def test_fresh_run_points_at_the_failed_cell_that_defines_the_name():
    nb = filled()
    outcomes = all_ran(nb)
    outcomes[2] = Outcome(error=("ModuleNotFoundError", "No module named 'numpy'"))
    outcomes[Q1_TESTS] = Outcome(error=("NameError", "name 'rng' is not defined"))
    outcomes[Q2_TESTS] = Outcome(error=("NameError", "name 'np' is not defined"))
    q1, q2 = summarise(nb, outcomes, notebook="x").questions
    assert q1.status == q2.status == RowStatus.FAILED
    assert q1.message == ("NameError: name 'rng' is not defined (cell 3 above failed: "
                          "ModuleNotFoundError)")
    assert q2.message == ("NameError: name 'np' is not defined (cell 3, which defines 'np', "
                          "failed: ModuleNotFoundError)")


def test_changed_test_cell_row_says_cell_changed_not_passed():
    nb = filled()
    nb.cells[Q1_TESTS].source = "assert True"
    summary = summarise(nb, all_ran(nb), notebook="x")  # the edited cell itself "passed"
    row = summary.questions[0]
    assert row.status == RowStatus.CHANGED and "released" in row.message
    assert "cell changed" in render_summary(summary)
    assert not summary.passed and not summary.ok


@pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader not installed")
@pytest.mark.parametrize("release", sorted(Path(__file__).resolve().parents[1]
                                           .glob("release/*/*.ipynb")) + [RELEASE])
def test_checksum_is_nbgraders(release):
    from nbgrader.utils import compute_checksum

    nb = load(release)
    cells = [c for c in nb.cells if "nbgrader" in c.metadata and "grade_id" in c.metadata.nbgrader]
    assert cells
    for cell in cells:
        assert nbgrader_checksum(cell) == compute_checksum(cell)
        assert nbgrader_checksum(cell) == cell.metadata.nbgrader.get("checksum",
                                                                      compute_checksum(cell))
    odd = copy.deepcopy(cells[0])
    odd.metadata.nbgrader.update(grade=1, solution=0, locked="yes", points="3")
    assert nbgrader_checksum(odd) == compute_checksum(odd)


# --- check() in a notebook: the display, the progress, which file -----------------------------


class FakeDisplay:
    """IPython.display.display as the notebook front end sees it: bundles and their updates."""

    def __init__(self):
        self.shown, self.updates = [], []

    def __call__(self, bundle, raw=False, display_id=None):
        self.shown.append(bundle)
        if display_id:
            outer = self

            class Handle:
                def update(self, bundle, raw=False):
                    outer.updates.append(bundle["text/plain"])

            return Handle()
        return None


def test_check_in_a_notebook_shows_the_table_once_with_progress(tmp_path, monkeypatch):
    import IPython.display

    import autograder.student as student

    path = tmp_path / "hw.ipynb"
    nbformat.write(filled(), path)
    namespace = {"__session__": str(path)}
    exec("import numpy as np\nrng = np.random.default_rng(0)\n"
         "def standardize(X):\n    return (X - X.mean(0)) / X.std(0)\n"
         "def relu(x):\n    return np.maximum(x, 0)", namespace)
    shown = FakeDisplay()
    monkeypatch.setattr(IPython.display, "display", shown)
    monkeypatch.setattr(student, "_shell", lambda: FakeShell(namespace))
    assert check() is None  # nothing for the notebook to print after the table
    assert shown.updates == ["checking q1_tests (cell 6), 1 of 2...",
                             "checking q2_tests (cell 9), 2 of 2...", ""]
    report = shown.shown[-1]
    assert "<table>" in report["text/html"] and "2/2 visible tests pass" in report["text/plain"]


def test_check_finds_the_notebook_holding_the_running_cell(tmp_path, monkeypatch):
    """`jupyter nbconvert --execute` and the classic notebook name no file: the notebook is the
    one in the kernel's folder that holds the cell now running."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    nb = filled()
    nb.cells.append(nbformat.v4.new_code_cell("from autograder.student import check\ncheck()"))
    nbformat.write(nb, tmp_path / "hw.ipynb")
    nbformat.write(load(RELEASE), tmp_path / "other.ipynb")
    assert notebook_holding("from autograder.student import check\ncheck()\n", tmp_path) == [
        tmp_path / "hw.ipynb"]
    namespace = {"In": ["", "from autograder.student import check\ncheck()"]}
    exec("import numpy as np\nrng = np.random.default_rng(0)\n"
         "def standardize(X):\n    return (X - X.mean(0)) / X.std(0)\n"
         "def relu(x):\n    return np.maximum(x, 0)", namespace)
    summary = check_here(FakeShell(namespace))
    assert summary.notebook == "hw.ipynb" and summary.passed
    nbformat.write(nb, tmp_path / "copy.ipynb")  # two notebooks hold it: ask which
    with pytest.raises(AutograderError, match="it could be copy.ipynb, hw.ipynb"):
        check_here(FakeShell(namespace))


def test_cli_bad_input_exit_code_2(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.ipynb")]) == 2
    (tmp_path / "bad.ipynb").write_text("{not json")
    assert cli.main(["check", str(tmp_path / "bad.ipynb")]) == 2
    assert "not a valid notebook" in capsys.readouterr().err


# --- real kernels -----------------------------------------------------------------------------


def write(nb, folder: Path, name: str) -> Path:
    (folder / "points.csv").write_text((GOLDEN / "release" / "demo" / "points.csv").read_text())
    path = folder / name
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.kernel
def test_cli_filled_solution_all_passed(tmp_path, capsys):
    assert cli.main(["check", str(write(filled(), tmp_path, "hw.ipynb"))]) == 0
    captured = capsys.readouterr()
    assert "2/2 visible tests pass (questions worth 4 of 4 points). Ready to submit." \
        in captured.out
    # progress, question by question, on stderr while the notebook runs
    progress = [line for line in captured.err.splitlines() if line.startswith("hw.ipynb: [")]
    assert progress == ["hw.ipynb: [1/2] q1_tests (cell 6) ran",
                        "hw.ipynb: [2/2] q2_tests (cell 9) ran"]


@pytest.mark.kernel
def test_cli_bare_release_not_attempted(tmp_path, capsys):
    assert cli.main(["check", str(write(load(RELEASE), tmp_path, "hw.ipynb"))]) == 1
    out = capsys.readouterr().out
    assert "0/2 visible tests pass, 2 not attempted (questions worth 0 of 4 points)." in out
    assert "TEAM is empty" in out


@pytest.mark.kernel
def test_cli_stripped_editor_notebook_reports_per_question(tmp_path, capsys):
    nb = stripped(filled())
    nb.cells[Q2_ANSWER].source = "def relu(x):\n    return x"  # wrong answer
    assert cli.main(["check", str(write(nb, tmp_path, "hw.ipynb")), "--timeout", "60"]) == 1
    out = capsys.readouterr().out
    assert "q1_tests  2       passed" in out
    assert "q2_tests  2       failed  9     relu([-1, 2]) should be [0, 2]" in out


@pytest.mark.kernel
def test_check_under_nbconvert_execute_prints_the_report(tmp_path):
    """`jupyter nbconvert --execute` runs check() in a kernel that names no file: the report is
    the cell's output, with no traceback, and the notebook is found from the cell running."""
    nb = filled()
    nb.cells.append(nbformat.v4.new_code_cell("from autograder.student import check\ncheck()"))
    path = write(nb, tmp_path, "hw.ipynb")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("JPY_SESSION_NAME", None)
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                           "--output", "ran.ipynb", str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    outputs = load(tmp_path / "ran.ipynb").cells[-1].outputs
    text = json.dumps(outputs)
    assert not [o for o in outputs if o.output_type == "error"]
    assert "Traceback" not in text
    report = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(report) == 1
    plain = report[0].data["text/plain"]
    assert "2/2 visible tests pass (questions worth 4 of 4 points). Ready to submit." in plain
    assert "CheckSummary" not in text  # check() returns nothing for the notebook to print
