import html
import re

import nbformat

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
