"""Release: golden files, what the students' notebook may and may not hold, committed release/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from autograder import cli
from autograder.config import load_course
from autograder.errors import AuthoringError, ConfigError
from autograder.notebook import Role, cells_of, fingerprint, read_team
from autograder.release import release_assignment, stale_files

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "data" / "release"


@pytest.fixture
def course(tmp_path):
    """A copy of the golden course with only its source, so releasing writes everything anew."""
    shutil.copytree(GOLDEN / "source", tmp_path / "source")
    shutil.copy(GOLDEN / "course.toml", tmp_path / "course.toml")
    return load_course(tmp_path / "course.toml")


def released(course, name="demo"):
    release_assignment(course=course, assignment=name)
    spec = course.assignment(name)
    return (nbformat.read(spec.release_path, as_version=4),
            nbformat.read(spec.solution_path, as_version=4))


def test_goldens(update_goldens):
    golden = load_course(GOLDEN / "course.toml")
    if update_goldens:
        release_assignment(course=golden, assignment="demo")
    stale = stale_files(course=golden, assignment="demo")
    assert not stale, f"{stale} differ from a release of the source: pytest --update-goldens"


def test_second_run_is_byte_identical_and_writes_nothing(course):
    first = release_assignment(course=course, assignment="demo")
    before = {p: p.read_bytes() for p in first.written}
    second = release_assignment(course=course, assignment="demo")
    assert second.written == []
    assert sorted(second.unchanged) == sorted(before)
    assert all(p.read_bytes() == content for p, content in before.items())
    assert stale_files(course=course, assignment="demo") == []


def test_release_hides_solutions_and_hidden_tests(course):
    release, _ = released(course)
    text = json.dumps(release)
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "X.std(axis=0)", "np.maximum",
                   "similar curvature", "np.float64(-3.0)", "np.eye(2)"):
        assert secret not in text
    answers = [c for c in cells_of(release) if c.role is Role.ANSWER]
    assert all("raise NotImplementedError()" in c.source for c in answers)
    written = [c for c in cells_of(release) if c.role is Role.WRITTEN]
    assert written and all("YOUR ANSWER HERE" in c.source for c in written)


def test_solutions_keep_answers_but_not_hidden_tests(course):
    _, solutions = released(course)
    text = json.dumps(solutions)
    assert "np.maximum" in text and "similar curvature" in text
    assert "HIDDEN TESTS" not in text and "np.eye(2)" not in text


def test_outputs_counts_and_volatile_metadata_are_gone(course):
    for nb in released(course):
        assert set(nb.metadata) == {"kernelspec", "language_info", "autograder"}
        assert "version" not in nb.metadata.language_info
        for cell in nb.cells:
            assert set(cell.metadata) <= {"nbgrader", "autograder", "deletable", "editable"}
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_instructor_cells_locked_and_checksummed(course):
    release, _ = released(course)
    for cell, node in zip(cells_of(release), release.cells, strict=True):
        if cell.role in (Role.TESTS, Role.LOCKED):
            assert node.metadata.editable is False and node.metadata.deletable is False
        if cell.role is not Role.TEAM and cell.role is not Role.FREE:
            assert node.metadata.nbgrader.checksum == compute_checksum(node)


def test_manifest_lists_instructor_cells(course):
    release, _ = released(course)
    manifest = release.metadata.autograder
    assert manifest.assignment == "demo" and manifest.team_size == 2
    tests = [c for c in cells_of(release) if c.role is Role.TESTS]
    entries = {e.grade_id: e for e in manifest.cells}
    for cell in tests:
        assert entries[cell.grade_id].fingerprint == fingerprint(cell.source)
        assert entries[cell.grade_id].role == "tests"
    assert "q1_answer" not in entries


def test_team_cell_inserted_first(course):
    release, solutions = released(course)
    for nb in (release, solutions):
        first = cells_of(nb)[0]
        assert first.role is Role.TEAM and read_team(first.source) == []
        assert nb.cells[0].id == "team"


def test_team_cell_moved_first_not_duplicated(course):
    path = course.assignment("demo").notebook
    nb = nbformat.read(path, as_version=4)
    team = nbformat.v4.new_code_cell('TEAM = ["<id>"]', metadata={"autograder": {"team": True}})
    team.id = "pair"
    nb.cells.insert(3, team)
    nbformat.write(nb, path)
    release, _ = released(course)
    roles = [c.role for c in cells_of(release)]
    assert roles[0] is Role.TEAM and roles.count(Role.TEAM) == 1
    assert release.cells[0].id == "pair"


def test_data_files_copied_but_not_private_ones(course):
    release_assignment(course=course, assignment="demo")
    spec = course.assignment("demo")
    for folder in (spec.release_path.parent, spec.solution_path.parent):
        assert (folder / "points.csv").read_text() == "x,y\n1.0,2.0\n-1.0,0.5\n"
        assert not (folder / "_hidden_points.csv").exists()


def test_old_notebook_format_without_ids_is_deterministic(course):
    path = course.assignment("demo").notebook
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        del cell["id"]
    nb.nbformat_minor = 4
    path.write_text(json.dumps(nb))
    first = released(course)[0]
    assert all("id" not in cell for cell in first.cells)
    assert stale_files(course=course, assignment="demo") == []


def test_stale_release_is_detected(course):
    release_assignment(course=course, assignment="demo")
    path = course.assignment("demo").release_path
    path.write_text(path.read_text().replace("Demo homework", "Old homework"))
    assert stale_files(course=course, assignment="demo") == [path]


def test_invalid_source_is_refused_before_writing(course):
    path = course.assignment("demo").notebook
    nb = nbformat.read(path, as_version=4)
    nb.cells[4].metadata.nbgrader.pop("points")
    nbformat.write(nb, path)
    with pytest.raises(AuthoringError, match="no points"):
        release_assignment(course=course, assignment="demo")
    assert not course.assignment("demo").release_path.exists()


def test_cli_release_prints_what_it_wrote(course, capsys):
    assert cli.main(["--course", str(course.path), "release"]) == 0
    out = capsys.readouterr().out
    assert "demo: wrote release/demo/demo.ipynb" in out
    assert "demo: wrote solutions/demo/points.csv" in out
    assert cli.main(["--course", str(course.path), "release", "demo"]) == 0
    assert "demo: up to date" in capsys.readouterr().out


def test_cli_release_unknown_assignment_is_an_error(course, capsys):
    assert cli.main(["--course", str(course.path), "release", "hw9"]) == 2
    assert "no assignment named 'hw9'" in capsys.readouterr().err


COURSE = load_course(ROOT / "course.toml")
WITH_SOURCE = [name for name, spec in COURSE.assignments.items() if spec.notebook.is_file()]


@pytest.mark.parametrize("assignment", WITH_SOURCE)
def test_committed_release_matches_source(assignment):
    """release/ and solutions/ are committed: they must be what releasing source/ gives now."""
    stale = [str(p.relative_to(COURSE.root)) for p in
             stale_files(course=COURSE, assignment=assignment)]
    assert not stale, f"out of date: {', '.join(stale)}; run `autograder release {assignment}`"


def test_files_beside_the_notebook_are_released_with_their_folders(course):
    folder = course.assignment("demo").notebook.parent
    for rel, text in {"data/train.csv": "a\n1\n", "data/more/test.csv": "b\n", "notes.txt": "n",
                      ".ipynb_checkpoints/demo-checkpoint.ipynb": "{}", "__pycache__/x.pyc": "",
                      ".secret": "s", "data/.DS_Store": "", "other.ipynb": "{}",
                      "autotests.yml": "python3: {}\n"}.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    release_assignment(course=course, assignment="demo")
    spec = course.assignment("demo")
    for out in (spec.release_path.parent, spec.solution_path.parent):
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        assert files == ["data/more/test.csv", "data/train.csv", "demo.ipynb", "notes.txt",
                         "points.csv"]
        assert (out / "data" / "train.csv").read_text() == "a\n1\n"


def test_a_file_the_source_no_longer_gives_is_stale_and_removed(course, capsys):
    release_assignment(course=course, assignment="demo")
    spec = course.assignment("demo")
    (spec.notebook.parent / "points.csv").unlink()
    old = spec.release_path.parent / "points.csv"
    assert stale_files(course=course, assignment="demo") == [
        old, spec.solution_path.parent / "points.csv"]
    assert cli.main(["--course", str(course.path), "release", "demo"]) == 0
    assert "demo: removed release/demo/points.csv (no longer in the source)" in \
        capsys.readouterr().out
    assert not old.exists() and stale_files(course=course, assignment="demo") == []


def test_points_that_do_not_add_up_stop_the_release_before_writing(course):
    path = course.path
    path.write_text(path.read_text().replace("points = 5", "points = 20"))
    course = load_course(path)
    with pytest.raises(AuthoringError) as info:
        release_assignment(course=course, assignment="demo")
    assert "demo.ipynb is worth 5 points" in str(info.value)
    assert "says points = 20" in str(info.value) and "notebook_points = 5" in info.value.hint
    assert not course.assignment("demo").release_path.exists()
    path.write_text(path.read_text().replace("points = 20", "points = 20\nnotebook_points = 5"))
    release_assignment(course=load_course(path), assignment="demo")


@pytest.mark.parametrize("value", ["0", "-5", '"five"', "true"])
def test_notebook_points_must_be_a_positive_number(course, value):
    path = course.path
    path.write_text(path.read_text() + f"notebook_points = {value}\n")
    with pytest.raises(ConfigError, match="notebook_points must be a positive number"):
        load_course(path)


def _with_rubric(course, where: str):
    """The demo's written answer (cell 9) with a mark scheme inside or outside its solution."""
    path = course.assignment("demo").notebook
    nb = nbformat.read(path, as_version=4)
    scheme = "=== BEGIN MARK SCHEME ===\nRUBRIC-curvature: 1 point\n=== END MARK SCHEME ===\n"
    cell = nb.cells[9]
    if where == "inside":
        cell.source = cell.source.replace("### END SOLUTION", scheme + "### END SOLUTION")
    else:
        cell.source = scheme + cell.source
    nbformat.write(nb, path)


def test_a_rubric_inside_the_solution_reaches_neither_students_nor_solutions(course):
    _with_rubric(course, "inside")
    release, solutions = released(course)
    assert "RUBRIC-curvature" not in json.dumps(release)
    assert "RUBRIC-curvature" not in json.dumps(solutions)
    assert "MARK SCHEME" not in json.dumps(solutions)


def test_a_rubric_outside_a_solution_stops_the_release(course):
    # nbgrader's rule: outside a solution region, a mark scheme belongs in a task cell; anywhere
    # else it would be handed to the students with the question.
    _with_rubric(course, "outside")
    with pytest.raises(AuthoringError, match="ClearMarkScheme"):
        release_assignment(course=course, assignment="demo")
    assert not course.assignment("demo").release_path.exists()


def test_a_task_cells_rubric_is_removed_from_the_release(course):
    path = course.assignment("demo").notebook
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "Plot the boundary.\n=== BEGIN MARK SCHEME ===\nRUBRIC-task\n=== END MARK SCHEME ===",
        metadata={"nbgrader": {"task": True, "grade": False, "solution": False, "locked": True,
                               "points": 1, "grade_id": "q4_task", "schema_version": 3}}))
    nbformat.write(nb, path)
    course.path.write_text(course.path.read_text().replace("points = 5", "points = 6"))
    release, solutions = released(load_course(course.path))
    assert "RUBRIC-task" not in json.dumps(release) and "RUBRIC-task" not in json.dumps(solutions)
    assert "Plot the boundary." in json.dumps(release)
