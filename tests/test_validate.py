"""`autograder validate`: the verdicts (pure), the order of gradings, the CLI; real runs marked kernel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import cli
from autograder.config import load_course
from autograder.errors import AuthoringError
from autograder.kills import kill_matrix, render_matrix
from autograder.mutate import Mutation
from autograder.results import CheckResult, QuestionResult, SubmissionResult
from autograder.validate import (
    Recorded,
    Trial,
    ValidationReport,
    ValidationRow,
    Verdict,
    equivalents,
    gradable_points,
    render_survivors,
    render_table,
    validate_assignment,
    verdict_generated,
    verdict_mutant,
    verdict_rerun,
    verdict_solution,
    verdict_stub,
    verdict_variant,
)

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "tests" / "data" / "mutants"
VARIANTS = ROOT / "tests" / "data" / "variants"
HOMEWORKS = ["hw1_features", "hw2_mlp", "hw3_training"]


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
MUTATION = Mutation("fit", "compare", 3, "if val_loss < best_loss:", 40, 41, "<", "<=")


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


def test_solution_losing_a_check_names_the_check_and_what_it_said():
    lost = result({"q1": 8, "q2": 3, "q3": 4}, gpu_check="not_graded")
    lost.questions[1].checks[0] = CheckResult("values", 3, 5, "failed",
                                              "AssertionError: rtol=1e-07 mismatch 2/7")
    row = verdict_solution(lost)
    assert row.verdict == Verdict.MISS
    assert "values: AssertionError: rtol=1e-07 mismatch 2/7" in row.message


def test_a_miss_always_says_why():
    """Check points worth more than their cell (an authoring slip): the total exceeds what the
    questions allow, and the row still explains itself."""
    over = result(FULL_ON_CPU, gpu_check="not_graded")
    over.questions[2].points = 5  # 5 of 4
    over.points = 18
    rows = [verdict_solution(over), verdict_stub(result({"q1": 1})),
            verdict_variant(over, name="v", full=17), verdict_rerun(over, first=17),
            verdict_mutant(result(FULL_ON_CPU), name="m", full=17),
            verdict_solution(result({}, status="error")),
            verdict_generated(result(FULL_ON_CPU), mutation=MUTATION, full=17)]
    for row in rows:
        assert row.verdict == Verdict.MISS and row.message.strip(), row
    assert "q3 gives 5 of 4 points" in rows[0].message


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
    assert row.verdict == Verdict.OK and row.expected == "< 17" and row.message == "stops one step early"
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


def test_variant_must_score_exactly_the_solution():
    assert verdict_variant(result(FULL_ON_CPU), name="loops", full=17, how="loops").verdict == Verdict.OK
    row = verdict_variant(result({"q1": 8, "q2": 5, "q3": 3}), name="tanh", full=17,
                          how="sigmoid from tanh")
    assert row.verdict == Verdict.MISS and "a correct answer loses points (sigmoid from tanh)" in row.message
    assert "q3 3/4" in row.message


def test_generated_mutant_verdicts():
    full = 17
    caught = verdict_generated(result({"q1": 4, "q2": 5, "q3": 4}), mutation=MUTATION, full=full)
    assert caught.verdict == Verdict.OK
    survivor = verdict_generated(result(FULL_ON_CPU), mutation=MUTATION, full=full, diff="-a\n+b")
    assert survivor.verdict == Verdict.MISS and "survives" in survivor.message and survivor.diff == "-a\n+b"
    same = verdict_generated(result(FULL_ON_CPU), mutation=MUTATION, full=full,
                             recorded=Recorded("ties never happen"))
    assert same.verdict == Verdict.EQUIVALENT and same.ok and same.message == "ties never happen"
    wrong_record = verdict_generated(result({"q1": 4, "q2": 5, "q3": 4}), mutation=MUTATION,
                                     full=full, recorded=Recorded("ties never happen"))
    assert wrong_record.verdict == Verdict.MISS and "recorded as equivalent" in wrong_record.message


def test_a_generated_mutant_only_a_gpu_shows_is_skipped_on_a_cpu_and_required_on_a_gpu():
    gpu_only = Recorded("the batches stay on the CPU", needs_gpu=True)
    cpu = verdict_generated(result(FULL_ON_CPU), mutation=MUTATION, full=17, recorded=gpu_only)
    assert cpu.verdict == Verdict.SKIPPED and cpu.ok and "only a GPU grading" in cpu.message
    gpu = verdict_generated(result(FULL_ON_CPU), mutation=MUTATION, full=17, recorded=gpu_only,
                            have_gpu=True)
    assert gpu.verdict == Verdict.MISS and "survives on a GPU" in gpu.message
    caught = verdict_generated(result({"q1": 1}), mutation=MUTATION, full=17, recorded=gpu_only,
                               have_gpu=True)
    assert caught.verdict == Verdict.OK
    assert caught.submission == f"generated {MUTATION.key}"


def test_a_mutant_stopped_by_the_time_limit_with_fewer_points_is_caught():
    slow = result({"q1": 8, "q2": 0, "q3": 0}, status="timeout")
    slow.questions = result({"q1": 8}).questions
    slow.points = 8
    assert verdict_mutant(slow, name="slow", full=17).verdict == Verdict.OK


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
    report.rows.append(ValidationRow("mutant harmless", "mutant", 18, "< 18", Verdict.MISS, "not caught"))
    assert not report.ok and [r.submission for r in report.misses] == ["mutant harmless"]
    table = render_table([report])
    assert table.splitlines()[0].split() == ["assignment", "submission", "score", "expected",
                                             "verdict"]
    assert "mutant harmless" in table and "MISS  not caught" in table
    assert ValidationReport("hw").ok is False  # nothing validated is not a success


def test_kill_matrix_marks_failed_checks_and_cells_that_stopped():
    solution = result(FULL_ON_CPU, gpu_check="not_graded")
    check_failed = result({"q1": 8, "q2": 0, "q3": 4}, gpu_check="not_graded")
    check_failed.questions[1].checks[0].status = "failed"
    stopped = result({"q1": 8, "q2": 0, "q3": 4}, gpu_check="not_graded")
    stopped.questions[1].checks = []  # a visible assert failed before the check ran
    cell_lost = result({"q1": 0, "q2": 5, "q3": 4}, gpu_check="not_graded")
    matrix = kill_matrix(solution, [("m1", check_failed), ("m2", stopped), ("m3", cell_lost),
                                    ("m4", result(FULL_ON_CPU, gpu_check="not_graded"))])
    assert matrix.checks == ["q1: visible asserts, code outside checks", "q2: values",
                             "q2: visible asserts, code outside checks",
                             "q3: visible asserts, code outside checks"]
    assert [sorted(marks) for _, marks in matrix.rows] == [[1], [2], [0], []]
    assert matrix.idle == ["q3: visible asserts, code outside checks"]
    text = render_matrix(matrix)
    assert "m1  .x.." in text and "m4  ...." in text
    assert "checks that catch no mutant: q3: visible asserts, code outside checks" in text


def test_equivalent_records_need_a_key_and_a_reason():
    nb = nbformat.v4.new_notebook()
    nb.metadata["autograder"] = {"equivalent_mutants": [
        {"mutant": "k", "reason": " same "}, {"mutant": "g", "reason": "CPU", "needs_gpu": True}]}
    assert equivalents(nb) == {"k": Recorded("same"), "g": Recorded("CPU", needs_gpu=True)}
    nb.metadata["autograder"]["equivalent_mutants"].append({"mutant": "j", "reason": ""})
    with pytest.raises(AuthoringError, match=r"equivalent_mutants\[2\] needs a mutant key and a reason"):
        equivalents(nb)


def test_the_release_never_carries_the_equivalent_mutants():
    """They quote solution lines: the students' notebook (and the solutions) must not hold them."""
    for hw in HOMEWORKS:
        source = nbformat.read(ROOT / "source" / hw / f"{hw}.ipynb", as_version=4)
        assert source.metadata["autograder"]["equivalent_mutants"], hw
        for folder in ("release", "solutions"):
            text = (ROOT / folder / hw / f"{hw}.ipynb").read_text(encoding="utf-8")
            assert "equivalent_mutants" not in text, f"{folder}/{hw}"


# validate_assignment with a stand-in grader: the order and the files graded --------------------


def fake_mutants(folder: Path, names_and_gpu: list[tuple[str, bool]], key: str = "mutant") -> None:
    folder.mkdir(parents=True)
    for name, needs_gpu in names_and_gpu:
        nb = nbformat.v4.new_notebook()
        nb.metadata["autograder"] = {key: {"name": name, "mistake": f"{name} mistake",
                                           "how": f"{name} way", "needs_gpu": needs_gpu}}
        (folder / f"{name}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")


def test_validate_grades_solution_stub_mutants_variants_then_solution_again(tmp_path):
    course = load_course(ROOT / "course.toml")
    fake_mutants(tmp_path / "m", [("caught", False), ("gpu_only", True), ("missed", False)])
    fake_mutants(tmp_path / "v", [("loops", False), ("strict", False)], key="variant")
    calls = []
    scores = {"solution": FULL_ON_CPU, "stub": {}, "mutant-caught": {"q1": 4, "q2": 5, "q3": 4},
              "mutant-gpu_only": FULL_ON_CPU, "mutant-missed": FULL_ON_CPU,
              "variant-loops": FULL_ON_CPU, "variant-strict": {"q1": 8, "q2": 5, "q3": 2}}

    def grader(path, *, course, assignment, submission_id, require_sandbox):
        calls.append((submission_id, Path(path).name, require_sandbox))
        if submission_id == "stub":  # the derived students' notebook: answers stubbed
            text = Path(path).read_text(encoding="utf-8")
            assert "NotImplementedError" in text and "BEGIN HIDDEN TESTS" not in text
        return result(scores[submission_id], gpu_check="not_graded")

    seen = []
    report = validate_assignment(course=course, assignment="hw1_features", require_sandbox=False,
                                 mutants_dir=tmp_path / "m", variants_dir=tmp_path / "v",
                                 grader=grader, on_row=seen.append)
    assert [c[0] for c in calls] == ["solution", "stub", "mutant-caught", "mutant-gpu_only",
                                     "mutant-missed", "variant-loops", "variant-strict",
                                     "solution"]
    assert all(c[2] is False for c in calls)
    assert [r.verdict for r in report.rows] == [Verdict.OK, Verdict.OK, Verdict.OK, Verdict.SKIPPED, Verdict.MISS, Verdict.OK, Verdict.MISS, Verdict.OK]
    assert sorted(map(id, seen)) == sorted(map(id, report.rows)) and report.full == 17
    assert not report.ok and report.workers == 1
    assert "q3 2/4" in report.rows[6].message
    assert report.matrix is not None and [label for label, _ in report.matrix.rows] == [
        "mutant caught", "mutant gpu_only", "mutant missed"]


def test_validate_without_mutants_says_how_to_add_some(tmp_path):
    course = load_course(ROOT / "course.toml")
    report = validate_assignment(
        course=course, assignment="hw1_features", mutants_dir=tmp_path / "none",
        variants_dir=tmp_path / "none",
        grader=lambda path, **k: result({} if k["submission_id"] == "stub" else FULL_ON_CPU))
    row = next(r for r in report.rows if r.submission == "mutants")
    assert row.verdict == Verdict.MISS and not report.ok
    assert "make_mutants.py" in row.message and 'MUTANTS["hw1_features"]' in row.message
    assert "--mutate" in row.message


def test_make_mutants_for_a_homework_without_a_list_says_what_to_write():
    run = subprocess.run([sys.executable, str(MUTANTS / "make_mutants.py"), "hw9"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "no mutants are listed for 'hw9'" in run.stderr and "Mutant(" in run.stderr


# the CLI: parses, calls, prints, exit code ------------------------------------------------------


def test_cli_validate_prints_the_table_and_fails_on_a_miss(monkeypatch, capsys):
    import autograder.validate as validate

    passed = []

    def fake(*, course, assignment, require_sandbox, on_row, mutate, workers):
        passed.append((mutate, workers))
        verdict = Verdict.MISS if assignment == "hw2_mlp" else Verdict.OK
        row = ValidationRow("solution", "solution", 18, "18", verdict)
        on_row(row)
        return ValidationReport(assignment, [row])

    monkeypatch.setattr(validate, "validate_assignment", fake)
    course = str(ROOT / "course.toml")
    assert cli.main(["--course", course, "validate", "hw1_features", "--no-require-sandbox"]) == 0
    assert "hw1_features  solution" in capsys.readouterr().out
    assert cli.main(["--course", course, "validate", "hw1_features", "hw2_mlp", "--mutate",
                     "--workers", "3"]) == 1
    out = capsys.readouterr()
    assert "MISS" in out.out and "1 miss" in out.err
    assert passed == [(False, None), (True, 3), (True, 3)]
    assert cli.main(["--course", course, "validate", "hw1_features", "--workers", "0"]) == 2


def test_cli_validate_prints_survivors_with_their_diff_and_the_matrix(monkeypatch, capsys):
    import autograder.validate as validate

    def fake(*, course, assignment, on_row, **kwargs):
        rows = [ValidationRow("solution", "solution", 17, "17", Verdict.OK),
                verdict_generated(result(FULL_ON_CPU), mutation=MUTATION, full=17,
                                  diff="-        if val_loss < best_loss:\n"
                                       "+        if val_loss <= best_loss:"),
                verdict_generated(result({"q1": 1}), mutation=MUTATION, full=17)]
        report = ValidationReport(assignment, rows)
        report.matrix = kill_matrix(result(FULL_ON_CPU), [("g0000 fit", result({"q1": 1}))])
        return report

    monkeypatch.setattr(validate, "validate_assignment", fake)
    assert cli.main(["--course", str(ROOT / "course.toml"), "validate", "hw3_training",
                     "--mutate"]) == 1
    out = capsys.readouterr().out
    assert "generated mutants: 2" in out and "1 caught, 0 recorded as equivalent, 1 missed" in out
    assert f"key: {MUTATION.key}" in out and "+        if val_loss <= best_loss:" in out
    assert "mutant x check matrix" in out and "g0000 fit  x" in out
    assert render_survivors(ValidationReport("hw", [])) == ""


def test_cli_validate_unknown_homework_fails_before_grading(capsys):
    assert cli.main(["--course", str(ROOT / "course.toml"), "validate", "hw9"]) == 2
    assert "no assignment named 'hw9'" in capsys.readouterr().err


# real gradings ----------------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("assignment", HOMEWORKS)
def test_homework_validates_with_the_real_grader(assignment):
    """Solution full, stub 0, every hand-written mutant loses points, every correct variant
    scores full, the solution stable (minutes: gradings in two workers)."""
    course = load_course(ROOT / "course.toml")
    report = validate_assignment(course=course, assignment=assignment, require_sandbox=False,
                                 workers=2)
    assert report.ok, "\n" + render_table([report])
    assert report.count("mutant") >= 20 and report.count("variant") >= 6
    assert report.count("variant", Verdict.OK) == report.count("variant")


@pytest.mark.kernel
def test_mutate_grades_generated_mutants_for_real(tmp_path):
    """`validate --mutate` on a small assignment: eight generated mutants graded in the real
    grader; six caught, the two recorded as equivalent reported so. Then, without one record and
    with a stale one: the survivor is a miss with its diff, the stale record a miss too."""
    small = ROOT / "tests" / "data" / "validate"
    course = load_course(small / "course.toml")
    report = validate_assignment(course=course, assignment="small", require_sandbox=False,
                                 mutate=True, workers=2)
    assert report.ok, "\n" + render_table([report])
    assert (report.count(Trial.GENERATED), report.count(Trial.GENERATED, Verdict.OK),
            report.count(Trial.GENERATED, Verdict.EQUIVALENT)) == (8, 6, 2)
    assert report.matrix is not None and len(report.matrix.rows) == 8
    assert report.matrix.idle == ["test_rescale: values for another factor"]

    shutil.copytree(small, tmp_path / "course")
    path = tmp_path / "course" / "source" / "small" / "small.ipynb"
    nb = nbformat.read(path, as_version=4)
    records = nb.metadata["autograder"]["equivalent_mutants"]
    survivor = records.pop(1)["mutant"]
    records.append({"mutant": "count: gone :: a -> b", "reason": "a line since deleted"})
    nbformat.write(nb, path)
    report = validate_assignment(course=load_course(tmp_path / "course" / "course.toml"),
                                 assignment="small", require_sandbox=False, mutate=True, workers=2)
    misses = {row.submission: row for row in report.misses}
    assert set(misses) == {f"generated {survivor}", "generated count: gone :: a -> b"}
    assert "-    return int(np.sum(np.asarray(values) > 0))" in misses[f"generated {survivor}"].diff
    assert "+    return np.sum(np.asarray(values) > 0)" in misses[f"generated {survivor}"].diff
    assert "no such mutant is generated any more" in misses["generated count: gone :: a -> b"].message
    assert survivor in render_survivors(report)


@pytest.mark.kernel
def test_each_grading_starts_from_the_prepared_judge_not_from_the_last_grading(tmp_path):
    """A test cell that changes the judge's state (here an attribute of numpy, as a test that
    sets numpy's global generator or print options would) must find it as prepared in every
    grading, as in a batch: graded one after the other in one process, the solution's second
    grading would lose the points."""
    shutil.copytree(ROOT / "tests" / "data" / "validate", tmp_path / "course")
    path = tmp_path / "course" / "source" / "small" / "small.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[4].source = ("np.gradings = getattr(np, 'gradings', 0) + 1\n"
                          "assert np.gradings == 1, 'the judge kept state from another grading'\n"
                          ) + nb.cells[4].source
    nbformat.write(nb, path)
    report = validate_assignment(course=load_course(tmp_path / "course" / "course.toml"),
                                 assignment="small", require_sandbox=False, workers=1)
    solution, rerun = report.rows[0], report.rows[-1]
    assert solution.verdict == Verdict.OK and rerun.verdict == Verdict.OK, render_table([report])
    assert solution.points == rerun.points == 4
