"""What a TA marks by hand, question by question: every manually graded question of an assignment
and every pair's answer to it, read from the submitted notebooks as data and matched to the
source's cells, with the reference answer and the rubric from the source notebook.

Three kinds of question are marked by hand: written answers (markdown cells that are both
`solution` and `grade`), manually graded code cells (code cells that are both), and nbgrader
task cells (`task: true`: the pair's own cells after the task are the answer). A result lists
them as `QuestionResult(manual=True)`; marks go to `marks.py`, one file per submission.

The rubric is what the instructor writes between a line holding `BEGIN MARK SCHEME` and one
holding `END MARK SCHEME` (nbgrader's words), inside the answer's solution region, so the release
removes it with the solution; in a code cell its lines are comments.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
from nbformat import NotebookNode

from . import answer_html
from .atomic import write_atomic
from .config import Course
from .errors import AutograderError, ConfigError, SubmissionError, UploadRefused
from .marks import Mark, collect_marks, marks_folder, results_root
from .notebook import Role, cells_of, read_notebook
from .rebuild import rebuild
from .results import QuestionStatus, SubmissionResult, collect_results
from .roster import load_roster
from .titles import headings_above, question_titles
from .uploads import MAX_FILE_MB, read_upload

WRITTEN, CODE, TASK = "written", "code", "task"
# An answer's state, as the page shows it
ANSWERED, NO_RESPONSE, MISSING, UNREADABLE = "answered", "no_response", "missing", "unreadable"
BEGIN_SCHEME, END_SCHEME = "BEGIN MARK SCHEME", "END MARK SCHEME"
TASK_CELLS = 40  # cells after a task shown as its answer, at most
IMAGE_BUDGET = 256 * 1024 * 1024  # image bytes kept in memory for one review
SEED_FILE = ".review-seed"  # in the marks folder: the blind order survives restarts


@dataclass(frozen=True)
class Question:
    grade_id: str
    title: str
    kind: str  # written | code | task
    max_points: float
    prompt: str  # HTML: the instructor's text above the answer (for a task, the task itself)
    reference: str  # HTML: the solution ('' for a task)
    rubric: str  # HTML: the mark scheme ('' when none was written)
    note: str = ""  # what went wrong finding it in the source


@dataclass(frozen=True)
class Answer:
    key: str  # what the page calls this answer: random, never the submission id
    submission_id: str
    label: str  # the pair's names, or "Pair N" when grading blind
    status: str  # answered | no_response | missing | unreadable
    html: str
    max_points: float  # the bound of its mark (from the result)
    note: str = ""


@dataclass
class Review:
    assignment: str
    questions: list[Question]
    answers: dict[str, list[Answer]]  # by question grade id, in the order the TA sees them
    results: list[Path]  # result folders marks are read from; marks are written to the first
    blind: bool = False
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id → (mime, bytes)

    def marks(self) -> dict[str, dict[str, Mark]]:
        """Every submission's marks as stored now (a gradebook run may have added some)."""
        return collect_marks(self.results, self.assignment)


# ---------------------------------------------------------------- deciding (pure)

def is_graded(answer: Answer, mark: Mark | None) -> bool:
    """The gradebook's rule: marked, or left as the stub (0, "no response", without a mark)."""
    return (mark is not None and not mark.cleared) or answer.status == NO_RESPONSE


def progress(review: Review, marks: dict[str, dict[str, Mark]]) -> dict[str, tuple[int, int]]:
    """(graded, total) per question."""
    out = {}
    for q in review.questions:
        answers = review.answers.get(q.grade_id, [])
        done = sum(is_graded(a, marks.get(a.submission_id, {}).get(q.grade_id)) for a in answers)
        out[q.grade_id] = (done, len(answers))
    return out


def review_order(submission_ids: list[str], *, question: str, seed: str | None) -> list[str]:
    """Submission ids in the order a TA reviews them: by id, or, blind (a seed given), shuffled
    per question by a keyed hash: random, yet the same on every reload and for every TA."""
    if seed is None:
        return sorted(submission_ids)
    return sorted(submission_ids, key=lambda sid: hashlib.sha256(
        f"{seed}\0{question}\0{sid}".encode()).hexdigest())


def split_mark_scheme(text: str, *, code: bool = False) -> tuple[str, str]:
    """(text without its mark scheme, the mark scheme); comment marks dropped in code."""
    kept, scheme, inside = [], [], False
    for line in text.split("\n"):
        if BEGIN_SCHEME in line:
            inside = True
        elif END_SCHEME in line:
            inside = False
        elif inside:
            scheme.append(line.strip().removeprefix("#").removeprefix(" ") if code else line)
        else:
            kept.append(line)
    return "\n".join(kept).strip("\n"), "\n".join(scheme).strip("\n")


def solution_region(text: str) -> str:
    """The solution of an answer cell: what lies between the solution markers, or the whole
    cell (nbgrader's rule for a written answer without markers)."""
    lines = text.split("\n")
    if not any("BEGIN SOLUTION" in line for line in lines):
        return text
    out, inside = [], False
    for line in lines:
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside:
            out.append(line)
    return "\n".join(out)


def without_markers(code: str) -> str:
    """A code answer as the solution notebook shows it: the marker lines dropped."""
    return "\n".join(line for line in code.split("\n")
                     if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def kind_of(cell: NotebookNode) -> str:
    if cell.get("metadata", {}).get("nbgrader", {}).get("task"):
        return TASK
    return CODE if cell.get("cell_type") == "code" else WRITTEN


def prompt_cells(cells: list[NotebookNode], index: int) -> list[NotebookNode]:
    """The instructor's markdown right above a cell (up to two cells): the question asked."""
    out: list[NotebookNode] = []
    for cell in reversed(cells[max(0, index - 2):index]):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "markdown" or meta.get("solution") or meta.get("grade") \
                or meta.get("task"):
            break
        out.insert(0, cell)
    return out


def task_region(placed: dict[int, int], n_cells: int, task_index: int) -> list[int] | None:
    """The pair's own cells right after a task cell's copy (None: the task cell is not there)."""
    copies = sorted(j for j, s in placed.items() if s == task_index)
    if not copies:
        return None
    region: list[int] = []
    j = copies[0] + 1
    while j < n_cells and j not in placed and len(region) < TASK_CELLS:
        region.append(j)
        j += 1
    return region


# ---------------------------------------------------------------- the source notebook

def build_question(source: NotebookNode, grade_id: str, *, title: str, max_points: float,
                   images: answer_html.ImageSink | None = None) -> Question:
    """One manual question as the TA sees it beside the answers: prompt, reference, rubric."""
    index = next((i for i, c in enumerate(source.cells)
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id), None)
    if index is None:
        return Question(grade_id, title, WRITTEN, max_points, "", "", "",
                        note="not in the source notebook any more: only the answers are shown")
    cell = source.cells[index]
    kind = kind_of(cell)
    text = cell.get("source", "")

    def md(cell_or_text, body: str | None = None) -> str:
        if isinstance(cell_or_text, str):
            return answer_html.markdown_html(cell_or_text, images=images)
        return answer_html.markdown_html(body if body is not None else cell_or_text.source,
                                         attachments=cell_or_text.get("attachments"),
                                         images=images)

    prompt = "".join(md(c) for c in prompt_cells(source.cells, index))
    if kind == TASK:
        task, scheme = split_mark_scheme(text)
        return Question(grade_id, title, kind, max_points, prompt + md(cell, task), "",
                        md(scheme) if scheme.strip() else "")
    # The scheme is read wherever it stands in the cell; the reference is the solution without it.
    if kind == CODE:
        code, scheme = split_mark_scheme(text, code=True)
        reference = answer_html.code_html(without_markers(code))
    else:
        rest, scheme = split_mark_scheme(text)
        reference = md(cell, solution_region(rest))
    return Question(grade_id, title, kind, max_points, prompt, reference,
                    md(scheme) if scheme.strip() else "")


# ---------------------------------------------------------------- submitted notebooks (data)

def read_submitted(root: Path, relative: str) -> bytes:
    """The bytes of a submitted notebook, read as untrusted data: a regular file below `root`
    (no link on the way, no special file), size-capped; in a zip, a regular entry."""
    limit = MAX_FILE_MB * 1024 * 1024
    parts = PurePosixPath(relative.replace("\\", "/")).parts if relative else ()
    if not parts or parts[0] == "/" or any(p in ("..", "") for p in parts):
        raise SubmissionError(f"the result names no usable file ({relative!r})")
    if Path(root).is_file() and zipfile.is_zipfile(root):
        return _read_zip_entry(Path(root), "/".join(parts), limit)
    path = Path(root).joinpath(*parts)
    try:
        return read_upload(path, under=Path(root)).data
    except UploadRefused as exc:
        raise SubmissionError(exc.reason, path=path, hint=exc.hint) from None
    except FileNotFoundError:
        raise SubmissionError("no longer in the submissions folder", path=path) from None


def _read_zip_entry(archive: Path, name: str, limit: int) -> bytes:
    try:
        with zipfile.ZipFile(archive) as zf:
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise SubmissionError("no such entry in the zip", path=f"{archive}:{name}") from None
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: made where there are no types
            if info.is_dir() or kind not in (0, stat.S_IFREG):
                raise SubmissionError("not a regular file", path=f"{archive}:{name}")
            if info.file_size > limit:
                raise SubmissionError(f"larger than {MAX_FILE_MB} MB",
                                      path=f"{archive}:{name}")
            with zf.open(info) as fh:
                data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
        raise SubmissionError(f"cannot read the zip: {exc}", path=archive) from None
    if len(data) > limit:
        raise SubmissionError(f"larger than {MAX_FILE_MB} MB", path=f"{archive}:{name}")
    return data


def parse_submitted(data: bytes, where: str) -> NotebookNode:
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        raise SubmissionError("not a text file", path=where) from None
    except Exception as exc:  # nbformat raises many types (and RecursionError) for bad JSON
        raise SubmissionError(f"not a valid notebook: {str(exc).splitlines()[0][:200]}",
                              path=where) from None
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError("not a valid notebook: no list of cells", path=where)
    return nb


def matched_cells(nb: NotebookNode) -> list:
    """The submission's cells as rebuild numbers them (it skips what is not a cell with text)."""
    return [c for c in nb.get("cells", [])
            if isinstance(c, dict) and isinstance(c.get("source", ""), str)]


def _cell_html(cell: dict, images: answer_html.ImageSink | None) -> str:
    if cell.get("cell_type") == "markdown":
        return answer_html.markdown_html(cell.get("source", ""),
                                         attachments=cell.get("attachments"), images=images)
    if cell.get("cell_type") == "code":
        return (answer_html.code_html(cell.get("source", ""))
                + answer_html.outputs_html(cell.get("outputs"), images=images))
    return f'<pre class="raw">{html.escape(str(cell.get("source", ""))[:answer_html.TEXT_CHARS])}</pre>'


@dataclass
class _Found:
    status: str
    html: str = ""
    note: str = ""


def answers_in(nb: NotebookNode, source: NotebookNode, questions: dict[str, str],
               images: answer_html.ImageSink | None = None) -> dict[str, _Found]:
    """Each manual question's answer in one submitted notebook (questions: grade id → kind)."""
    rebuilt = rebuild(source, nb)
    cells = matched_cells(nb)
    src_index = {c.grade_id: c.index for c in cells_of(source) if c.grade_id}
    by_id = {c.grade_id: c for c in rebuilt.cells if c.grade_id and c.role is Role.WRITTEN}
    found: dict[str, _Found] = {}
    for qid, kind in questions.items():
        if kind == TASK:
            region = task_region(rebuilt.placed, len(cells), src_index.get(qid, -1))
            if region is None:
                found[qid] = _Found(MISSING, note="the task's cell is not in the submission")
            elif not region:
                found[qid] = _Found(MISSING, note="no cell of the pair's own after the task")
            else:
                found[qid] = _Found(ANSWERED, "".join(
                    f'<div class="cell">{_cell_html(cells[j], images)}</div>' for j in region))
            continue
        rc = by_id.get(qid)
        if rc is None or rc.submission_index is None:
            found[qid] = _Found(MISSING, note="no answer cell found in the submission")
            continue
        cell = cells[rc.submission_index]
        note = "" if rc.attempted else "unchanged since the release (the stub)"
        found[qid] = _Found(ANSWERED, _cell_html(cell, images), note)
    return found


# ---------------------------------------------------------------- loading a review

class _Images:
    """Images of answers, kept in memory and served by id (so a page of 500 answers loads them
    lazily, as they scroll into view); beyond the budget an image is left out."""

    def __init__(self, store: dict[str, tuple[str, bytes]], budget: int = IMAGE_BUDGET) -> None:
        self.store, self.left = store, budget

    def __call__(self, mime: str, data: bytes) -> str | None:
        key = hashlib.sha256(data).hexdigest()[:24]
        if key not in self.store:
            if len(data) > self.left:
                return None
            self.left -= len(data)
            self.store[key] = (mime, data)
        return f"/img/{key}"


def blind_seed(results: Path, assignment: str) -> str:
    """A random seed kept beside the marks, made on first use: every TA and every restart see
    the same blind order."""
    path = marks_folder(results, assignment) / SEED_FILE
    try:
        seed = path.read_text(encoding="utf-8").strip()
        if seed:
            return seed
    except OSError:
        pass
    seed = secrets.token_hex(16)
    write_atomic(path, seed + "\n")
    return seed


def _label(result: SubmissionResult, names: dict[str, str]) -> str:
    members = [names.get(sid, sid) for sid in result.team]
    return (", ".join(members) + f" ({result.submission_id})") if members \
        else result.submission_id


def load_review(*, course: Course, assignment: str, results: list[Path], submissions: Path,
                blind: bool = False,
                on_submission: Callable[[int, int], None] | None = None) -> Review:
    """Every manual question of `assignment` and every pair's answer, ready to serve.

    Raises ConfigError when there is nothing to review (no results, no manual question); a
    submission whose notebook cannot be read becomes an answer that says why.
    """
    spec = course.assignment(assignment)
    folders = [Path(f) for f in results]
    graded = [r for r in collect_results(folders, assignment) if any(q.manual for q in r.questions)]
    if not graded:
        raise ConfigError(f"no result of {assignment} has a question graded by hand",
                          path=folders[0],
                          hint=f"grade first (autograder grade {assignment} SUBMISSIONS), and "
                               "pass the results folder with --results")
    source = read_notebook(spec.notebook)
    order: list[str] = []  # grade ids in notebook order, bounds from the results
    top: dict[str, float] = {}
    for result in sorted(graded, key=lambda r: -len(r.questions)):
        for q in result.questions:
            if q.manual and q.grade_id not in order:
                order.append(q.grade_id)
                top[q.grade_id] = q.max_points
    titles = question_titles(order, headings_above(spec.notebook))
    review = Review(assignment, [], {}, [results_root(folders[0], assignment), *folders[1:]],
                    blind=blind)
    images = _Images(review.images)
    review.questions = [build_question(source, qid, title=titles[qid], max_points=top[qid],
                                       images=images) for qid in order]
    kinds = {q.grade_id: q.kind for q in review.questions}
    try:
        names = {s.student_id: s.name for s in load_roster(course.roster).students.values()}
    except ConfigError:
        names = {}  # without a roster, the ids say who the pair is
    found: dict[str, dict[str, _Found]] = {}
    for n, result in enumerate(graded, start=1):
        found[result.submission_id] = _answers_of(result, submissions, source, kinds, images)
        if on_submission:
            on_submission(n, len(graded))
    seed = blind_seed(review.results[0], assignment) if blind else None
    by_sid = {r.submission_id: r for r in graded}
    for question in review.questions:
        qid = question.grade_id
        having = [r.submission_id for r in graded
                  if any(q.manual and q.grade_id == qid for q in r.questions)]
        answers = []
        for position, sid in enumerate(review_order(having, question=qid, seed=seed), start=1):
            result = by_sid[sid]
            q = next(q for q in result.questions if q.manual and q.grade_id == qid)
            got = found[sid].get(qid) or _Found(MISSING, note="no answer found")
            status = NO_RESPONSE if q.status == QuestionStatus.NOT_ATTEMPTED else got.status
            note = "left as the release's stub: 0, no response" if status == NO_RESPONSE \
                else got.note
            answers.append(Answer(key=secrets.token_hex(8), submission_id=sid,
                                  label=f"Pair {position}" if blind else _label(result, names),
                                  status=status, html=got.html, max_points=q.max_points,
                                  note=note))
        review.answers[qid] = answers
    return review


def _answers_of(result: SubmissionResult, submissions: Path, source: NotebookNode,
                kinds: dict[str, str], images: _Images) -> dict[str, _Found]:
    mine = {q.grade_id: kinds[q.grade_id] for q in result.questions if q.manual}
    try:
        data = read_submitted(submissions, result.source)
        nb = parse_submitted(data, result.source)
        return answers_in(nb, source, mine, images)
    except AutograderError as exc:
        # The message without the path: a path may hold the pair's names (blind grading).
        return {qid: _Found(UNREADABLE, note=f"the submitted notebook: {exc.message}")
                for qid in mine}
    except (OSError, RecursionError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # A notebook built to break the matcher still becomes an answer that says so.
        return {qid: _Found(UNREADABLE, note=f"the submitted notebook could not be read "
                                             f"({exc.__class__.__name__})") for qid in mine}
