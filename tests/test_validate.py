"""`autograder validate`: the verdicts (pure), the order of gradings, the CLI; real runs marked kernel."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import cli
from autograder.config import load_course
from autograder.errors import AuthoringError
from autograder.results import CheckResult, QuestionResult, SubmissionResult
from autograder.validate import (
    ValidationReport,
    ValidationRow,
    Verdict,
    gradable_points,
    render_table,
    validate_assignment,
    verdict_mutant,
    verdict_rerun,
    verdict_solution,
    verdict_stub,
)

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "tests" / "data" / "mutants"


def result(points_by_question: dict[str, float], *, status: str = "graded",
           gpu_check: str | None = None, reason: str = "") -> SubmissionResult:
    """A graded submission of a 20-point homework: q1 (8), q2 (6 + a 1-point GPU check), written (2)."""
    q2_checks = [CheckResult("values", min(points_by_question.get("q2", 0), 5), 5, "passed")]
    if gpu_check is not None:
        q2_checks.append(CheckResult("used the GPU", 1.0 if gpu_check == "passed" else 0.0, 1,
                                     gpu_check, needs_gpu=True))
    questions = [
        QuestionResult("q1", points_by_question.get("q1", 0), 8, "passed"),
        QuestionResult("q2", points_by_question.get("q2", 0), 6, "partial", checks=q2_checks),
        QuestionResult("q3", points_by_question.get("q3", 0), 4, "passed"),
        QuestionResult("written", 0.0, 2, "manual", manual=True),
    ]
    total = sum(q.points for q in questions if not q.manual)
    return SubmissionResult(assignment="hw", submission_id="s", status=status, reason=reason,
                            questions=questions if status == "graded" else [], points=total,
                            max_points=20)


FULL_ON_CPU = {"q1": 8, "q2": 5, "q3": 4}  # 17: the GPU check and the written answer do not count


def test_gradable_points_leave_out_written_answers_and_gpu_checks_not_graded():
    assert gradable_points(result(FULL_ON_CPU, gpu_check="not_graded")) == 17
    assert gradable_points(result({"q1": 8, "q2": 6, "q3": 4}, gpu_check="passed")) == 18


def test_solution_with_every_gradable_point_is_ok_and_says_gpu_checks_were_skipped():
    row = verdict_solution(result(FULL_ON_CPU, gpu_check="not_graded"))
    assert row.verdict == Verdict.OK and row.points == 17 and row.expected == "17"
    assert "GPU" in row.message


def test_solution_losing_points_is_a_miss_that_names_the_question():
    row = verdict_solution(result({"q1": 8, "q2": 5, "q3": 3.5}, gpu_check="not_graded"))
    assert row.verdict == Verdict.MISS and "q3 3.5/4" in row.message


def test_solution_that_was_not_graded_is_a_miss_with_the_reason():
    row = verdict_solution(result({}, status="error", reason="grading failed: boom\ntrace"))
    assert row.verdict == Verdict.MISS and row.points is None and "boom" in row.message


def test_stub_must_score_zero():
    assert verdict_stub(result({})).verdict == Verdict.OK
    row = verdict_stub(result({"q3": 1}))
    assert row.verdict == Verdict.MISS and "q3" in row.message


def test_mutant_must_lose_points():
    row = verdict_mutant(result({"q1": 8, "q2": 5, "q3": 3}), name="off_by_one", full=17,
                         mistake="stops one step early")
    assert row.verdict == Verdict.OK
    assert row.expected == "< 17" and row.message == "stops one step early"
    row = verdict_mutant(result(FULL_ON_CPU), name="harmless", full=17, mistake="renames a variable")
    assert row.verdict == Verdict.MISS and "do not catch" in row.message


def test_mutant_that_only_a_gpu_shows_is_skipped_on_a_cpu_and_judged_on_a_gpu():
    cpu = verdict_mutant(result(FULL_ON_CPU, gpu_check="not_graded"), name="cpu_only", full=17,
                         mistake="never uses the GPU", needs_gpu=True, have_gpu=False)
    assert cpu.verdict == Verdict.SKIPPED and cpu.ok
    gpu = verdict_mutant(result({"q1": 8, "q2": 5, "q3": 4}, gpu_check="failed"), name="cpu_only",
                         full=18, mistake="never uses the GPU", needs_gpu=True, have_gpu=True)
    assert gpu.verdict == Verdict.OK


def test_mutant_that_breaks_the_grader_is_a_miss():
    row = verdict_mutant(result({}, status="error", reason="grading failed"), name="m", full=17)
    assert row.verdict == Verdict.MISS and "error" in row.message


def test_rerun_must_give_the_same_score():
    assert verdict_rerun(result(FULL_ON_CPU), first=17).verdict == Verdict.OK
    assert verdict_rerun(result({"q1": 8, "q2": 5, "q3": 3}), first=17).verdict == Verdict.MISS
    assert verdict_rerun(result(FULL_ON_CPU), first=None).verdict == Verdict.MISS


def test_report_is_ok_only_without_misses_and_the_table_shows_every_row():
    report = ValidationReport("hw1_features", [
        ValidationRow("solution", "solution", 18, "18", Verdict.OK),
        ValidationRow("mutant cpu_only", "mutant", 18, "< 18", Verdict.SKIPPED, "needs a GPU"),
    ])
    assert report.ok
    report.rows.append(ValidationRow("mutant harmless", "mutant", 18, "< 18", Verdict.MISS,
                                     "not caught"))
    assert not report.ok and [r.submission for r in report.misses] == ["mutant harmless"]
    table = render_table([report])
    assert table.splitlines()[0].split() == ["assignment", "submission", "score", "expected",
                                             "verdict"]
    assert "mutant harmless" in table and "MISS  not caught" in table
    assert ValidationReport("hw").ok is False  # nothing validated is not a success


# validate_assignment with a stand-in grader: the order and the files graded --------------------


def fake_mutants(folder: Path, names_and_gpu: list[tuple[str, bool]]) -> None:
    folder.mkdir(parents=True)
    for name, needs_gpu in names_and_gpu:
        nb = nbformat.v4.new_notebook()
        nb.metadata["autograder"] = {"mutant": {"name": name, "mistake": f"{name} mistake",
                                                "needs_gpu": needs_gpu}}
        (folder / f"{name}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")


def test_validate_grades_solution_stub_mutants_then_solution_again(tmp_path):
    course = load_course(ROOT / "course.toml")
    fake_mutants(tmp_path / "m", [("caught", False), ("gpu_only", True), ("missed", False)])
    calls = []
    scores = {"solution": FULL_ON_CPU, "stub": {}, "mutant-caught": {"q1": 4, "q2": 5, "q3": 4},
              "mutant-gpu_only": FULL_ON_CPU, "mutant-missed": FULL_ON_CPU}

    def grader(path, *, course, assignment, submission_id, require_sandbox):
        calls.append((submission_id, Path(path).name, require_sandbox))
        if submission_id == "stub":  # the derived students' notebook: answers stubbed
            text = Path(path).read_text(encoding="utf-8")
            assert "NotImplementedError" in text and "BEGIN HIDDEN TESTS" not in text
        return result(scores[submission_id], gpu_check="not_graded")

    seen = []
    report = validate_assignment(course=course, assignment="hw1_features", require_sandbox=False,
                                 mutants_dir=tmp_path / "m", grader=grader, on_row=seen.append)
    assert [c[0] for c in calls] == ["solution", "stub", "mutant-caught", "mutant-gpu_only",
                                     "mutant-missed", "solution"]
    assert all(c[2] is False for c in calls)
    assert [r.verdict for r in report.rows] == [Verdict.OK, Verdict.OK, Verdict.OK,
                                                Verdict.SKIPPED, Verdict.MISS, Verdict.OK]
    assert seen == report.rows and report.full == 17 and not report.ok


def test_validate_without_mutants_is_an_authoring_error(tmp_path):
    course = load_course(ROOT / "course.toml")
    with pytest.raises(AuthoringError, match="no mutants"):
        validate_assignment(course=course, assignment="hw1_features", mutants_dir=tmp_path,
                            grader=lambda *a, **k: pytest.fail("nothing should be graded"))


# the CLI: parses, calls, prints, exit code ------------------------------------------------------


def test_cli_validate_prints_the_table_and_fails_on_a_miss(monkeypatch, capsys):
    import autograder.validate as validate

    def fake(*, course, assignment, require_sandbox, on_row):
        verdict = Verdict.MISS if assignment == "hw2_mlp" else Verdict.OK
        row = ValidationRow("solution", "solution", 18, "18", verdict)
        on_row(row)
        return ValidationReport(assignment, [row])

    monkeypatch.setattr(validate, "validate_assignment", fake)
    course = str(ROOT / "course.toml")
    assert cli.main(["--course", course, "validate", "hw1_features", "--no-require-sandbox"]) == 0
    assert "hw1_features  solution" in capsys.readouterr().out
    assert cli.main(["--course", course, "validate", "hw1_features", "hw2_mlp"]) == 1
    out = capsys.readouterr()
    assert "MISS" in out.out and "1 miss" in out.err


def test_cli_validate_unknown_homework_fails_before_grading(capsys):
    assert cli.main(["--course", str(ROOT / "course.toml"), "validate", "hw9"]) == 2
    assert "no assignment named 'hw9'" in capsys.readouterr().err


# real gradings ----------------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("assignment", ["hw1_features", "hw2_mlp"])
def test_homework_validates_with_the_real_grader(assignment):
    """Solution full, stub 0, every mutant loses points, solution stable (a few minutes)."""
    course = load_course(ROOT / "course.toml")
    report = validate_assignment(course=course, assignment=assignment, require_sandbox=False)
    assert report.ok, "\n" + render_table([report])
    assert sum(row.kind == "mutant" for row in report.rows) >= 8


@pytest.mark.kernel
def test_hw3_validates_on_a_sample_of_its_mutants(tmp_path):
    """hw3's full validation takes minutes: the solution, the stub and three CPU mutants here;
    `autograder validate hw3_training` runs them all."""
    sample = ["best_weights_not_copied", "no_eval_mode", "unseeded_split"]
    (tmp_path / "m").mkdir()
    for name in sample:
        shutil.copy(MUTANTS / "hw3_training" / f"{name}.ipynb", tmp_path / "m")
    course = load_course(ROOT / "course.toml")
    report = validate_assignment(course=course, assignment="hw3_training", require_sandbox=False,
                                 mutants_dir=tmp_path / "m")
    assert report.ok, "\n" + render_table([report])
    assert [row.verdict for row in report.rows] == [Verdict.OK] * (len(sample) + 3)
