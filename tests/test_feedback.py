import html
import re

import nbformat
import pytest

from autograder.feedback import hidden_test_lines, render, safe_message, write_feedback
from autograder.notebook import split_hidden
from autograder.results import CheckResult, Flag, QuestionResult, SubmissionResult

TEST_CELL = """\
X = np.array([[1.0, 2.0], [0.5, -1.0]])
assert polynomial_features(X, degree=2).shape == (2, 6), "degree 2 of 2 inputs has 6 features"
### BEGIN HIDDEN TESTS
X_hidden = np.random.default_rng(7).normal(size=(50, 2))
with check("degree 3 matches the reference", points=1):
    np.testing.assert_allclose(polynomial_features(X_hidden, 3), reference.polynomial_features(X_hidden, 3))
with check("accuracy on hidden data", points=1):
    assert accuracy(model, X_hidden) >= 0.8734, "accuracy too low"
### END HIDDEN TESTS
"""


def source_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell("def polynomial_features(X, degree):\n    ### BEGIN SOLUTION\n"
                                       "    pass\n    ### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                   "grade_id": "poly_answer", "schema_version": 3}
    tests = nbformat.v4.new_code_cell(TEST_CELL)
    tests.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2,
                                  "grade_id": "poly", "schema_version": 3}
    nb.cells = [answer, tests]
    path = tmp_path / "hw1_features.ipynb"
    nbformat.write(nb, path)
    return path


def leaky_result():
    hidden_line = ("np.testing.assert_allclose(polynomial_features(X_hidden, 3), "
                   "reference.polynomial_features(X_hidden, 3))")
    return SubmissionResult(
        assignment="hw1_features", submission_id="pair01", status="graded",
        team=["21900101", "21900102"], points=1.0, max_points=2.0,
        questions=[QuestionResult("poly", 1.0, 2.0, "partial", checks=[
            CheckResult("degree 3 matches the reference", 0.0, 1.0, "failed",
                        f"Traceback:\n    {hidden_line}\nNot equal to tolerance\n"
                        " x: array([0.1234, 0.5])\n DESIRED: array([0.99, 0.42])"),
            CheckResult("accuracy on hidden data", 1.0, 1.0, "passed"),
            CheckResult("uses the GPU <script>alert(1)</script>", 0.0, 1.0, "not_graded",
                        "not graded (no GPU)", needs_gpu=True),
        ]), QuestionResult("discussion", 0.0, 2.0, "manual", manual=True)],
        flags=[Flag("late", "1 day late: -10%"),
               Flag("student_in_two_teams", "21900101 is also in submission pair07"),
               Flag("sandbox_reduced", "graded WITHOUT a sandbox")],
    )


def test_hidden_lines_come_from_the_source(tmp_path):
    lines = hidden_test_lines(source_notebook(tmp_path))
    assert 'assert accuracy(model, X_hidden) >= 0.8734, "accuracy too low"' in lines
    assert not any("degree=2" in line for line in lines)  # visible tests may be shown


def test_the_page_never_shows_hidden_tests_or_expected_values(tmp_path):
    source = source_notebook(tmp_path)
    page = render(leaky_result(), hidden=hidden_test_lines(source))
    flat = re.sub(r"\s+", " ", page)
    unescaped = re.sub(r"\s+", " ", html.unescape(page))
    _, hidden = split_hidden(TEST_CELL)
    for line in hidden.splitlines():
        if len(line.strip()) >= 8:
            assert line.strip() not in flat
            assert line.strip() not in unescaped
    assert "0.99" not in page and "0.1234" not in page
    assert "[detail withheld: hidden test]" in page
    assert "degree 3 matches the reference" in page and "not graded (no GPU)" in page


def test_escaping_and_flags_for_students(tmp_path):
    page = render(leaky_result(), hidden=set())
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "1 day late: -10%" in page
    assert "pair07" not in page and "WITHOUT a sandbox" not in page
    assert "by hand" in page and "1 / 2" in page


def test_safe_message_keeps_the_instructors_words():
    assert safe_message("degree 2 of 2 inputs has 6 features", set()) == (
        "degree 2 of 2 inputs has 6 features")


def test_write_feedback(tmp_path):
    rejected = SubmissionResult(assignment="hw1_features", submission_id="broken",
                                status="rejected", reason="not a valid notebook")
    paths = write_feedback([leaky_result(), rejected], out=tmp_path / "fb",
                           source_notebook=source_notebook(tmp_path), course_name="DL")
    assert [p.name for p in paths] == ["pair01.html", "broken.html"]
    text = paths[1].read_text(encoding="utf-8")
    assert "could not be graded" in text and "not a valid notebook" in text
    assert not list((tmp_path / "fb").glob(".tmp-*"))


# ---------------------------------------------------------------- grade, marks, titles, pages

@pytest.fixture
def course(tmp_path, write_course):
    from autograder.config import load_course

    nb = source_notebook(tmp_path)
    target = tmp_path / "source" / "hw1_features" / "hw1_features.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nb.rename(target)
    return load_course(write_course(
        tmp_path, roster="student_id,last_name,first_name,email\n"
                         "21900101,Martin,Léa,lea@example.edu\n",
        course={"name": "DL", "timezone": "Europe/Paris"},
        assignments={"hw1_features": {"notebook": "source/hw1_features/hw1_features.ipynb",
                                      "due": "2026-10-12T23:59"}}))


def graded(*, at="2026-10-12T20:00:00+02:00", written=True, written_status="manual"):
    questions = [QuestionResult("poly", 16.0, 18.0, "partial")]
    if written:
        questions.append(QuestionResult("discussion", 0.0, 2.0, written_status, manual=True))
    return SubmissionResult(assignment="hw1_features", submission_id="pair01", status="graded",
                            team=["21900101"], points=16.0, max_points=20.0, submitted_at=at,
                            submitted_at_source="manifest",
                            questions=questions)


def page_of(course, result, marks=None):
    (path,) = write_feedback([result], out=course.root / "fb", source_notebook=course.assignment(
        "hw1_features").notebook, course=course, marks=marks)
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def test_a_late_page_shows_the_penalty_and_the_resulting_grade(course):
    from autograder.marks import make_mark

    mark = make_mark("discussion", 2, max_points=2, origin="review", comment="<b>well argued</b>")
    page = page_of(course, graded(at="2026-10-14T10:00:00+02:00"),
                   {"pair01": {"discussion": mark}})
    assert "2 days late: penalty −20% of 18 / 20" in page
    assert "Grade: <b>14.4 / 20</b>" in page
    assert "Written answers (graded by hand): <b>2 / 2</b>" in page
    assert "not included" not in page
    assert "&lt;b&gt;well argued&lt;/b&gt;" in page and "<b>well argued</b>" not in page
    assert "2 / 2</td>" in page and "marked by hand" in page


def test_written_answers_are_mentioned_only_when_there_are_some(course):
    page = page_of(course, graded(written=False))
    assert "written answers" not in page.lower()
    assert "Automatic points: <b>16 / 18</b>" in page and "Grade: <b>16 / 20</b>" in page
    page = page_of(course, graded())
    assert "Written answers: graded by hand, not included yet" in page
    assert "Grade so far: <b>16 / 20</b> (written answers not included yet)" in page
    assert "to be marked by hand" in page


def test_an_unanswered_written_question_reads_no_response(course):
    page = page_of(course, graded(written_status="not_attempted"))
    assert "No response" in page and "0 / 2" in page
    assert "not included" not in page and "Grade: <b>16 / 20</b>" in page


def test_questions_are_named_by_their_titles(tmp_path):
    nb = nbformat.v4.new_notebook()
    heading = nbformat.v4.new_markdown_cell("## 1. Polynomial features (2 points)")
    heading.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                    "grade_id": "md", "schema_version": 3}
    nb.cells = [heading] + nbformat.read(source_notebook(tmp_path), 4).cells
    path = tmp_path / "titled.ipynb"
    nbformat.write(nb, path)
    (page,) = write_feedback([leaky_result()], out=tmp_path / "fb", source_notebook=path)
    assert "<b>1. Polynomial features</b>" in page.read_text(encoding="utf-8")


def test_stale_pages_are_removed_only_when_the_grader_wrote_them(tmp_path):
    from autograder.feedback import remove_stale_pages

    out = tmp_path / "fb"
    keep, gone, other_shard = (SubmissionResult(assignment="hw1_features", submission_id=s,
                                                status="rejected") for s in ("keep", "gone", "x"))
    write_feedback([keep, gone, other_shard], out=out)
    (out / "notes.html").write_text("<html>the TA's own page</html>", encoding="utf-8")
    removed = remove_stale_pages(out, {"keep"}, mine=lambda sid: sid != "x")
    assert [p.name for p in removed] == ["gone.html"]
    assert sorted(p.name for p in out.iterdir()) == ["keep.html", "notes.html", "x.html"]


def test_grade_writes_feedback_beside_its_results_and_prunes_it(tmp_path, capsys, course):
    from autograder.cli import main

    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "pair01.pdf").write_bytes(b"%PDF-1.4 not a notebook")
    (subs / "pair02.pdf").write_bytes(b"%PDF-1.4 not a notebook")
    out = tmp_path / "elsewhere" / "results"
    args = ["--course", str(course.path), "grade", "hw1_features", str(subs), "--out", str(out),
            "--no-require-sandbox"]
    assert main(args) == 3  # both are rejected: the batch ran, some not graded
    pages = tmp_path / "elsewhere" / "feedback" / "hw1_features"
    assert sorted(p.name for p in pages.iterdir()) == ["pair01.pdf.html", "pair02.pdf.html"]
    assert not (tmp_path / "feedback").exists()  # not next to course.toml
    (subs / "pair02.pdf").unlink()
    assert main(args) == 3  # both are rejected: the batch ran, some not graded
    assert sorted(p.name for p in pages.iterdir()) == ["pair01.pdf.html"]
    assert "1 of submissions no longer there removed" in capsys.readouterr().out


def test_hidden_checks_show_one_line_and_staff_fields_never_show():
    numpy_failure = ("Not equal to tolerance rtol=1e-07, atol=0\nHIDDEN-ERRMSG\n"
                     "Mismatched elements: 3 / 3 (100%)\n x: array([1.234567, 2.345678,\n"
                     "       3.456789])\n y: array([9.876543, 8.765432,\n       7.654321])")
    result = SubmissionResult(
        assignment="hw", submission_id="s" * 5000, status="graded", team=["t" * 5000, "2"],
        questions=[QuestionResult(
            "q", 0.0, 2.0, "failed", message="x" * 5000, detail="STAFF-DETAIL " + numpy_failure,
            output="printed by the visible part\n" + "o" * 10_000,
            hidden_output="HIDDEN-OUTPUT",
            checks=[CheckResult("hidden check", 0.0, 1.0, "failed", numpy_failure, hidden=True,
                                detail="STAFF-DETAIL"),
                    CheckResult("visible check", 0.0, 1.0, "failed",
                                numpy_failure.replace("HIDDEN-ERRMSG", "visible words"))])])
    page = render(result, hidden=set())
    for secret in ("STAFF-DETAIL", "HIDDEN-OUTPUT", "HIDDEN-ERRMSG", "9.876", "1.234", "7.654"):
        assert secret not in page
    assert "Not equal to tolerance" in page and "printed by the visible part" in page
    assert "visible words" in page  # a visible check keeps its text, not its values
    # student-controlled text is capped wherever it is echoed
    assert "s" * 101 not in page and "t" * 101 not in page and "x" * 801 not in page
    assert "o" * 4001 not in page


def test_wrapped_value_lines_are_cut_with_the_values():
    text = ("Arrays are not equal\n x: array([0.111111, 0.222222, 0.333333,\n"
            "        0.444444, 0.555555])\n y: array([1.])")
    message = safe_message(text, set())
    assert message.startswith("Arrays are not equal") and "0.444444" not in message
