"""Validate a homework with the real grader: the solution full, the stub 0, every mistake less.

An instructor runs this after editing a source notebook, CI runs it on every push: hidden tests
that a correct answer fails, or that a blank or a realistically wrong notebook passes, are bugs
in the homework, found here before students find them. What is graded:

1. the solutions notebook: every automatically graded point, apart from written answers (graded
   by hand) and checks that need a GPU on a machine without one;
2. the students' notebook as released (answers stubbed): 0 points;
3. each hand-written mutant (tests/data/mutants/<hw>/*.ipynb, the solution with one realistic
   mistake): fewer points than the solution;
4. each correct variant (tests/data/variants/<hw>/*.ipynb, the answers written another way):
   exactly the solution's points;
5. with `mutate=True`, every mutant `autograder.mutate` generates from the solution's answer
   cells: fewer points, unless the source notebook records it as equivalent (below);
6. the solutions notebook again, after all the others: exactly the first score (tests that depend
   on chance, or on state left by earlier gradings, show up here).

Gradings run in parallel worker processes, each reusing its kernel template and its `reference`.
A mutant × check matrix says which check caught which mutant, and which checks caught none.

A generated mutant that cannot lose points (it computes the same thing) is recorded in the source
notebook's metadata, with a one-line reason, under `autograder.equivalent_mutants`:
`[{"mutant": "<key printed by validate>", "reason": "..."}]`. The release never copies it (the
released notebook's `autograder` metadata is the manifest). A recorded mutant that loses points
after all is a miss too: either it is not equivalent, or a test fails a correct answer. A mutant
only a GPU can show (a forgotten `.to(device)`) is recorded with `"needs_gpu": true`: skipped on a
machine without one, and required to lose points on a GPU.

The solution and the stub are derived from the source as `autograder release` writes them, so
validation never trusts a stale release/ folder. Deciding a verdict is pure (`verdict_*`,
`kill_matrix`).
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from .config import Course
from .errors import AuthoringError
from .kills import KillMatrix, kill_matrix
from .mutate import Mutation, mutations
from .notebook import Role, cells_of, read_notebook, write_notebook
from .results import QuestionStatus, SubmissionResult, SubmissionStatus
from .strenum import StrEnum

TOLERANCE = 1e-6  # points are sums of floats like 0.5 and 1.5


class Trial(StrEnum):
    """What is graded, in the fixed order of a validation."""

    SOLUTION = "solution"
    STUB = "stub"
    MUTANT = "mutant"  # hand-written, in tests/data/mutants/
    VARIANT = "variant"  # a correct answer written another way, in tests/data/variants/
    GENERATED = "generated"  # made from the solution's syntax tree (--mutate)
    RERUN = "solution again"


class Verdict(StrEnum):
    OK = "ok"
    MISS = "MISS"  # in capitals: the word an instructor looks for in the table
    SKIPPED = "skipped"  # a mistake only a GPU grading shows, on a machine without one
    EQUIVALENT = "equivalent"  # a generated mutant the source records as changing nothing


EQUIVALENTS_KEY = "equivalent_mutants"  # in the source notebook's metadata["autograder"]


@dataclass
class ValidationRow:
    submission: str  # "solution", "stub", "mutant <name>", "variant <name>", "generated <key>"
    kind: Trial
    points: float | None  # what the grader gave; None when not graded
    expected: str  # what it should give, in words: "18", "0", "< 18", "= 18"
    verdict: Verdict
    message: str = ""  # why a MISS or a skip; the mistake otherwise
    diff: str = ""  # generated mutants: the change, as a unified diff of the cell

    @property
    def ok(self) -> bool:
        return self.verdict != Verdict.MISS


@dataclass
class ValidationReport:
    assignment: str
    rows: list[ValidationRow] = field(default_factory=list)
    full: float | None = None  # the solution's gradable points on this machine
    matrix: KillMatrix | None = None
    workers: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    @property
    def misses(self) -> list[ValidationRow]:
        return [row for row in self.rows if not row.ok]

    def count(self, kind: str, verdict: str | None = None) -> int:
        return sum(r.kind == kind and (verdict is None or r.verdict == verdict)
                   for r in self.rows)


# Deciding (pure) --------------------------------------------------------------------------


def gradable_points(result: SubmissionResult) -> float:
    """Points the grader can give here: no written answers, no GPU checks on a CPU machine."""
    total = 0.0
    for question in result.questions:
        if question.manual:
            continue
        total += question.max_points
        total -= sum(c.max_points for c in question.checks if c.status == QuestionStatus.NOT_GRADED)
    return total


def _fmt(points: float) -> str:
    return f"{points:g}"


def _not_graded(result: SubmissionResult) -> str:
    reason = result.reason.splitlines()[0][:200] if result.reason else "no reason given"
    return f"status {result.status}: {reason}"


def _graded_max(question) -> float:
    return question.max_points - sum(c.max_points for c in question.checks
                                     if c.status == QuestionStatus.NOT_GRADED)


def _lost(result: SubmissionResult) -> str:
    """Where points went: each question short of its maximum, with its failed checks and what
    they said (the assertion's message or the exception), so the fix is in sight."""
    parts = []
    for q in result.questions:
        if q.manual:
            continue
        graded_max = _graded_max(q)
        if q.points < graded_max - TOLERANCE:
            failed = [f"{c.name}: {c.message or c.status}" for c in q.checks
                      if c.status not in (QuestionStatus.PASSED, QuestionStatus.NOT_GRADED)]
            detail = "; ".join(failed) if failed else (q.message or q.status)
            parts.append(f"{q.grade_id} {_fmt(q.points)}/{_fmt(graded_max)} ({detail[:300]})")
        elif q.points > graded_max + TOLERANCE:
            parts.append(f"{q.grade_id} gives {_fmt(q.points)} of {_fmt(graded_max)} points "
                         "(its checks are worth more than the cell: fix their points)")
    return ", ".join(parts)


def _score_gap(result: SubmissionResult, expected: float) -> str:
    """Never blank: what `_lost` finds, else the two totals."""
    return _lost(result) or (f"scores {_fmt(result.points)} where {_fmt(expected)} was expected "
                             "(question points and check points disagree)")


def verdict_solution(result: SubmissionResult) -> ValidationRow:
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(Trial.SOLUTION, Trial.SOLUTION, None, "full", Verdict.MISS, _not_graded(result))
    full = gradable_points(result)
    row = ValidationRow(Trial.SOLUTION, Trial.SOLUTION, result.points, _fmt(full), Verdict.OK)
    gap = _lost(result)
    if abs(result.points - full) > TOLERANCE or gap:
        row.verdict = Verdict.MISS
        row.message = f"the solution loses points: {_score_gap(result, full)}"
    elif any(c.status == QuestionStatus.NOT_GRADED for q in result.questions for c in q.checks):
        row.message = "checks that need a GPU not graded here"
    return row


def verdict_stub(result: SubmissionResult) -> ValidationRow:
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(Trial.STUB, Trial.STUB, None, "0", Verdict.MISS, _not_graded(result))
    row = ValidationRow(Trial.STUB, Trial.STUB, result.points, "0", Verdict.OK)
    if result.points > TOLERANCE:
        passed = [q.grade_id for q in result.questions if q.points > TOLERANCE]
        row.verdict = Verdict.MISS
        row.message = f"the unanswered notebook scores in: {', '.join(passed) or 'some question'}"
    return row


def _scored(result: SubmissionResult) -> bool:
    """Graded, or stopped by the notebook's time limit with the questions scored so far."""
    return result.status == SubmissionStatus.GRADED or (result.status == SubmissionStatus.TIMEOUT and bool(result.questions))


def verdict_mutant(result: SubmissionResult, *, name: str, full: float, mistake: str = "",
                   needs_gpu: bool = False, have_gpu: bool = False) -> ValidationRow:
    label = f"mutant {name}"
    expected = f"< {_fmt(full)}"
    mistake = mistake or name
    if needs_gpu and not have_gpu:
        return ValidationRow(label, Trial.MUTANT, result.points if result.status == SubmissionStatus.GRADED else None,
                             expected, Verdict.SKIPPED, f"{mistake}: only a GPU grading shows it")
    if not _scored(result):
        return ValidationRow(label, Trial.MUTANT, None, expected, Verdict.MISS, _not_graded(result))
    if result.points < full - TOLERANCE:
        return ValidationRow(label, Trial.MUTANT, result.points, expected, Verdict.OK, mistake)
    return ValidationRow(label, Trial.MUTANT, result.points, expected, Verdict.MISS,
                         f"the tests do not catch it: {mistake}")


def verdict_variant(result: SubmissionResult, *, name: str, full: float,
                    how: str = "") -> ValidationRow:
    label = f"variant {name}"
    expected = f"= {_fmt(full)}"
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(label, Trial.VARIANT, None, expected, Verdict.MISS, _not_graded(result))
    if abs(result.points - full) <= TOLERANCE:
        return ValidationRow(label, Trial.VARIANT, result.points, expected, Verdict.OK, how or name)
    return ValidationRow(label, Trial.VARIANT, result.points, expected, Verdict.MISS,
                         f"a correct answer loses points ({how or name}): "
                         f"{_score_gap(result, full)}")


@dataclass(frozen=True)
class Recorded:
    """What the source notebook says of a generated mutant that keeps its points here."""

    reason: str
    needs_gpu: bool = False  # only a GPU grading can catch it (a forgotten .to(device))


def verdict_generated(result: SubmissionResult, *, mutation: Mutation, full: float,
                      recorded: Recorded | None = None, have_gpu: bool = False,
                      diff: str = "") -> ValidationRow:
    label = f"generated {mutation.key}"
    expected = f"< {_fmt(full)}"
    what = mutation.describe()
    if not _scored(result):
        return ValidationRow(label, Trial.GENERATED, None, expected, Verdict.MISS,
                             f"{what}: {_not_graded(result)}", diff)
    killed = result.points < full - TOLERANCE
    if recorded is not None and recorded.needs_gpu:
        if killed or not have_gpu:
            verdict = Verdict.OK if killed else Verdict.SKIPPED
            return ValidationRow(label, Trial.GENERATED, result.points, expected, verdict,
                                 what if killed else f"only a GPU grading shows it: "
                                                     f"{recorded.reason}")
        return ValidationRow(label, Trial.GENERATED, result.points, expected, Verdict.MISS,
                             f"survives on a GPU, where the record says it should be caught "
                             f"({recorded.reason}): {what}", diff)
    if killed and recorded is not None:
        return ValidationRow(label, Trial.GENERATED, result.points, expected, Verdict.MISS,
                             f"recorded as equivalent ({recorded.reason}) but loses points: "
                             f"either it is not (remove the record) or a test fails a correct "
                             f"answer: {_score_gap(result, full)}", diff)
    if killed:
        return ValidationRow(label, Trial.GENERATED, result.points, expected, Verdict.OK, what)
    if recorded is not None:
        return ValidationRow(label, Trial.GENERATED, result.points, "= (equivalent)", Verdict.EQUIVALENT,
                             recorded.reason)
    return ValidationRow(label, Trial.GENERATED, result.points, expected, Verdict.MISS,
                         f"survives: {what}", diff)


def verdict_rerun(result: SubmissionResult, *, first: float | None) -> ValidationRow:
    expected = "= first" if first is None else f"= {_fmt(first)}"
    if result.status != SubmissionStatus.GRADED:
        return ValidationRow(Trial.RERUN, Trial.RERUN, None, expected, Verdict.MISS, _not_graded(result))
    row = ValidationRow(Trial.RERUN, Trial.RERUN, result.points, expected, Verdict.OK)
    if first is None or abs(result.points - first) > TOLERANCE:
        row.verdict = Verdict.MISS
        moved = _lost(result) or f"{_fmt(result.points)} now"
        row.message = f"the score moved between two gradings: {moved}"
    return row


def no_mutants_row(assignment: str, folder: Path) -> ValidationRow:
    """What validate says where a homework has no hand-written mutant yet: how to add some."""
    return ValidationRow(
        "mutants", Trial.MUTANT, None, ">= 1", Verdict.MISS,
        f"no hand-written mutant in {folder}: a homework is validated by wrong answers as well "
        f"as by its solution. List realistic mistakes for {assignment} in "
        f"tests/data/mutants/make_mutants.py (MUTANTS[\"{assignment}\"] = [Mutant(name, cell "
        f"grade_id, text of the solution, wrong text, one-line mistake), ...]), run "
        f"`python tests/data/mutants/make_mutants.py {assignment}`, or let "
        f"`autograder validate {assignment} --mutate` generate mutants")


# Equivalent mutants recorded in the source -----------------------------------------------------


def equivalents(source, path: Path | None = None) -> dict[str, Recorded]:
    """mutant key → what the source notebook records of it. A record without a reason is an
    authoring error (an equivalence nobody explained is a survivor)."""
    records = source.metadata.get("autograder", {}).get(EQUIVALENTS_KEY, [])
    out = {}
    for i, record in enumerate(records if isinstance(records, list) else [None]):
        key = record.get("mutant") if isinstance(record, dict) else None
        reason = record.get("reason") if isinstance(record, dict) else None
        if not isinstance(key, str) or not isinstance(reason, str) or not reason.strip():
            raise AuthoringError(
                f"metadata autograder.{EQUIVALENTS_KEY}[{i}] needs a mutant key and a reason",
                path=path, hint='write {"mutant": "<key printed by validate --mutate>", "reason": '
                                '"<why it computes the same thing>"}, and "needs_gpu": true '
                                "where only a GPU grading can catch it")
        out[key] = Recorded(reason.strip(), bool(record.get("needs_gpu", False)))
    return out


def generated_mutants(solution) -> list[tuple[Mutation, int]]:
    """Every generated mutation of the solution notebook's answer cells, with the cell index."""
    out = []
    for cell in cells_of(solution):
        if cell.role == Role.ANSWER and cell.cell_type == "code" and cell.grade_id:
            out += [(m, cell.index) for m in mutations(cell.source, cell.grade_id)]
    return out


# Running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MutantFile:
    path: Path
    name: str
    mistake: str = ""
    needs_gpu: bool = False


def find_mutants(folder: Path, key: str = "mutant") -> list[MutantFile]:
    """Notebooks in a folder, with what their metadata (`autograder.<key>`) says about them."""
    out = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        meta = read_notebook(path).metadata.get("autograder", {}).get(key, {})
        out.append(MutantFile(path, meta.get("name", path.stem),
                              meta.get("mistake", meta.get("how", "")),
                              bool(meta.get("needs_gpu", False))))
    return out


def _derived(course: Course, assignment: str, folder: Path):
    """The source, and the solutions and students' notebooks as `autograder release` writes
    them."""
    from .authoring import validate_source
    from .release import apply_steps, read_source, release_steps, solution_steps

    spec = course.assignment(assignment)
    source = read_source(spec)
    validate_source(source, spec.notebook)
    solution_nb = apply_steps(source, solution_steps(spec))
    solution, stub = folder / "solution.ipynb", folder / "stub.ipynb"
    write_notebook(solution_nb, solution)
    write_notebook(apply_steps(source, release_steps(spec)), stub)
    return source, solution_nb, solution, stub


Grader = Callable[..., SubmissionResult]
Decider = Callable[[SubmissionResult, float, bool], ValidationRow]  # result, full, have_gpu


def _write_generated(solution, folder: Path) -> list[tuple[Mutation, Path, str]]:
    """One notebook per generated mutant: (the mutation, its file, the cell's diff)."""
    out = []
    for n, (mutation, index) in enumerate(generated_mutants(solution)):
        nb = copy.deepcopy(solution)
        original = nb.cells[index].source
        nb.cells[index].source = mutation.apply(original)
        path = folder / f"generated-{n:04d}.ipynb"
        write_notebook(nb, path)
        out.append((mutation, path, mutation.diff(original)))
    return out


def _deciders(mutants: list[MutantFile], variants: list[MutantFile],
              generated: list[tuple[Mutation, Path, str]],
              recorded: dict[str, Recorded]) -> dict[str, Decider]:
    """Submission id → how its row is decided once the solution's score is known."""
    def stub(r: SubmissionResult, full: float, gpu: bool) -> ValidationRow:
        return verdict_stub(r)

    def mutant(m: MutantFile) -> Decider:
        return lambda r, full, gpu: verdict_mutant(r, name=m.name, full=full, mistake=m.mistake,
                                                   needs_gpu=m.needs_gpu, have_gpu=gpu)

    def variant(v: MutantFile) -> Decider:
        return lambda r, full, gpu: verdict_variant(r, name=v.name, full=full, how=v.mistake)

    def made(mutation: Mutation, diff: str) -> Decider:
        return lambda r, full, gpu: verdict_generated(
            r, mutation=mutation, full=full, recorded=recorded.get(mutation.key), have_gpu=gpu,
            diff=diff)

    out: dict[str, Decider] = {"stub": stub}
    out.update({f"mutant-{m.name}": mutant(m) for m in mutants})
    out.update({f"variant-{v.name}": variant(v) for v in variants})
    out.update({f"generated-{n:04d}": made(mutation, diff)
                for n, (mutation, _, diff) in enumerate(generated)})
    return out


@dataclass(frozen=True)
class _Job:
    key: str  # submission id
    path: Path

    # What a batch's Submission gives workers.grade_safely.
    @property
    def notebook(self) -> Path:
        return self.path

    @property
    def submission_id(self) -> str:
        return self.key

    submitted_at = None


def _grade_job(grader: Grader, job: _Job, course: Course, assignment: str,
               require_sandbox: bool) -> SubmissionResult:
    """One grading in this process; a grader failure becomes a result, as in a batch."""
    try:
        return grader(job.path, course=course, assignment=assignment, submission_id=job.key,
                      require_sandbox=require_sandbox)
    except Exception as exc:  # noqa: BLE001 - one failure never hides the others
        return _failed(job, assignment, f"the grader failed: {type(exc).__name__}: {exc}")


def _failed(job: _Job, assignment: str, reason: str) -> SubmissionResult:
    return SubmissionResult(assignment=assignment, submission_id=job.key,
                            status=SubmissionStatus.ERROR, reason=reason[:500])


class _Runner:
    """Grades jobs as a batch grades them: each in a fork of one prepared process
    (workers.Workers), so nothing one grading's tests change (a module's state, a random
    generator, the reference) carries into the next and a mutant is judged as a submission would
    be; `workers` of them at once. A grader given by a test runs here, one grading at a time."""

    def __init__(self, grader: Grader | None, course: Course, assignment: str,
                 require_sandbox: bool, workers: int):
        self.args = (course, assignment, require_sandbox)
        self.grader, self.workers = grader, workers
        self.pool = None
        if grader is None:
            from .workers import Workers

            self.pool = Workers(course=course, assignment=assignment,
                                require_sandbox=require_sandbox)

    def run(self, jobs: list[_Job], done: Callable[[_Job, SubmissionResult], None]) -> None:
        if self.pool is None:
            assert self.grader is not None
            for job in jobs:
                done(job, _grade_job(self.grader, job, *self.args))
            return
        from .workers import WorkersGone

        assignment = self.args[1]
        pending = list(reversed(jobs))
        try:
            while pending or self.pool.running:
                while pending and len(self.pool.running) < self.workers:
                    self.pool.submit(pending.pop())
                sent, outcome = self.pool.next()
                job = cast(_Job, sent)
                if outcome.raised is not None:
                    raise outcome.raised  # the machine's or the course's problem: say it once
                result = cast(SubmissionResult | None, outcome.result)
                done(job, result if result is not None
                     else _failed(job, assignment, f"the grading process died: {outcome.died}"))
        except WorkersGone:
            for sent in list(self.pool.running.values()):
                job = cast(_Job, sent)
                done(job, _failed(job, assignment, "the grading workers' parent died"))
            self.pool.running.clear()
            raise

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def default_workers(course: Course, jobs: int) -> int:
    from .batch import available_memory_mb, plan_workers

    return plan_workers(limits=course.limits, cores=os.cpu_count() or 1,
                        memory_mb=available_memory_mb(), pending=max(1, jobs))


def validate_assignment(*, course: Course, assignment: str, require_sandbox: bool = True,
                        mutants_dir: Path | None = None, variants_dir: Path | None = None,
                        mutate: bool = False, workers: int | None = None,
                        on_row: Callable[[ValidationRow], None] | None = None,
                        grader: Grader | None = None) -> ValidationReport:
    """Grade the solution, the stub, every mutant and variant (and generated mutant), then the
    solution again; say what missed.

    `mutants_dir` and `variants_dir` default to tests/data/{mutants,variants}/<assignment> next
    to course.toml. `on_row` is called with each row once it is decided. `workers` defaults to
    what the machine allows (as for `grade`); each grading runs in a fork of one prepared process
    as a batch's does. A `grader` (tests stand in for
    `autograder.engine.grade_submission`) runs in this process, one grading at a time.
    """
    started = time.monotonic()
    in_process = grader is not None  # a test's stand-in: graded here; else in forks
    root = course.root / "tests" / "data"
    mutants_dir = mutants_dir or root / "mutants" / assignment
    variants_dir = variants_dir or root / "variants" / assignment
    mutants = find_mutants(mutants_dir) if mutants_dir.is_dir() else []
    variants = find_mutants(variants_dir, "variant") if variants_dir.is_dir() else []
    report = ValidationReport(assignment)

    def add(row: ValidationRow) -> None:
        report.rows.append(row)
        if on_row is not None:
            on_row(row)

    with tempfile.TemporaryDirectory(prefix=f"validate-{assignment}-") as tmp:
        folder = Path(tmp)
        source, solution_nb, solution, stub = _derived(course, assignment, folder)
        recorded = equivalents(source, course.assignment(assignment).notebook) if mutate else {}
        generated = _write_generated(solution_nb, folder) if mutate else []
        jobs = ([_Job("solution", solution), _Job("stub", stub)]
                + [_Job(f"mutant-{m.name}", m.path) for m in mutants]
                + [_Job(f"variant-{v.name}", v.path) for v in variants]
                + [_Job(f"generated-{n:04d}", path) for n, (_, path, _) in enumerate(generated)])
        report.workers = 1 if in_process else (workers or default_workers(course, len(jobs)))
        results: dict[str, SubmissionResult] = {}
        deciders = _deciders(mutants, variants, generated, recorded)
        decided: dict[str, ValidationRow] = {}

        def done(job: _Job, result: SubmissionResult) -> None:
            """Rows are decided as gradings finish (the solution's first: it sets the bar)."""
            results[job.key] = result
            if "solution" not in results:
                return
            first = results["solution"]
            if not decided:
                decided["solution"] = verdict_solution(first)
                add(decided["solution"])
                report.full = gradable_points(first) if first.status == SubmissionStatus.GRADED else None
            full = report.full if report.full is not None \
                else course.assignment(assignment).points
            for key in [k for k in results if k not in decided]:
                decided[key] = deciders[key](results[key], full, first.device == "cuda")
                add(decided[key])

        runner = _Runner(grader, course, assignment, require_sandbox, report.workers)
        try:
            runner.run(jobs, done)
            first = results["solution"]
            if not mutants and not mutate:
                add(no_mutants_row(assignment, mutants_dir))
            keys = {mutation.key for mutation, _, _ in generated}
            for key in sorted(set(recorded) - keys):
                add(ValidationRow(f"generated {key}", Trial.GENERATED, None, "-", Verdict.MISS,
                                  "recorded as equivalent, but no such mutant is generated any "
                                  "more: remove the record from the source notebook's metadata"))
            again: dict[str, SubmissionResult] = {}
            runner.run([_Job("solution", solution)],
                       lambda job, result: again.__setitem__("rerun", result))
        finally:
            runner.close()
        add(verdict_rerun(again["rerun"], first=first.points if first.status == SubmissionStatus.GRADED else None))
        order = {job.key: i for i, job in enumerate(jobs)}
        ranked = {id(row): order.get(key, len(order)) for key, row in decided.items()}
        report.rows.sort(key=lambda row: ranked.get(id(row), len(order) + 1))
        if first.status == SubmissionStatus.GRADED:
            graded = [(f"mutant {m.name}", results[f"mutant-{m.name}"]) for m in mutants]
            graded += [(f"g{n:04d} {mutation.describe()}", results[f"generated-{n:04d}"])
                       for n, (mutation, _, _) in enumerate(generated)]
            report.matrix = kill_matrix(first, graded)
    report.seconds = time.monotonic() - started
    return report


def render_table(reports: list[ValidationReport]) -> str:
    """The table the CLI prints: assignment, submission, score, expected, verdict. Generated
    mutants that were caught are summed up in one line; the others are listed."""
    header = ("assignment", "submission", "score", "expected", "verdict")
    lines = []
    for report in reports:
        for row in report.rows:
            if row.kind == Trial.GENERATED and row.verdict in (Verdict.OK, Verdict.SKIPPED):
                continue
            score = "-" if row.points is None else _fmt(round(row.points, 3))
            verdict = row.verdict + (f"  {row.message}" if row.message else "")
            lines.append((report.assignment, row.submission, score, row.expected, verdict))
        if report.count(Trial.GENERATED):
            caught, same = report.count(Trial.GENERATED, Verdict.OK), report.count(Trial.GENERATED, Verdict.EQUIVALENT)
            gpu = report.count(Trial.GENERATED, Verdict.SKIPPED)
            lines.append((report.assignment, f"generated mutants: {report.count(Trial.GENERATED)}", "",
                          "", f"{caught} caught, {same} recorded as equivalent, "
                              + (f"{gpu} left to a GPU grading, " if gpu else "")
                              + f"{report.count(Trial.GENERATED, Verdict.MISS)} missed"))
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=False)]
    out = []
    for line in (header, *lines):
        cells = [str(x).ljust(w) for x, w in zip(line[:-1], widths, strict=False)]
        out.append("  ".join([*cells, str(line[-1])]).rstrip())
    return "\n".join(out)


def render_survivors(report: ValidationReport) -> str:
    """Each generated mutant that kept its points, with its diff and its key, for the record."""
    out = []
    for row in report.rows:
        if row.kind == Trial.GENERATED and row.verdict == Verdict.MISS and row.diff:
            key = row.submission.removeprefix("generated ")
            out.append(f"{report.assignment}: {row.message}\n  key: {key}\n{row.diff}")
    return "\n\n".join(out)
