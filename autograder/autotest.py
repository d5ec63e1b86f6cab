"""`### AUTOTEST` / `### HASHED AUTOTEST` lines of test cells, expanded into asserts at release.

nbgrader ≥ 0.9's idiom, with its semantics: each expression after the directive (several are
separated by ';') is evaluated where the line stands in the instructor's notebook, run top to
bottom with its solution; the type of the value picks a list of tests from an `autotests.yml`
(looked for beside the notebook, then beside course.toml, else ours, `autograder/autotests.yml`),
and each test becomes an `assert` comparing the student's value, as text, with the solution's
(`HASHED`: with its salted sha1). The generated code replaces the directive in the released
notebook (a visible directive is a visible test, one between the hidden-tests markers stays
hidden) and in the tests the grader runs.

The grader runs test cells in the judge, where the student's names are proxies that bring back
plain data: each test is therefore also evaluated on the value as the judge would receive it
(through the kernel's encoder and the judge's decoder), and a value that would not read the same
there (a set, a model, a torch.Size) stops the release with the cell, the line and the fix,
instead of failing every submission, correct ones included.

The solution runs once per release, in a child Python process started in the notebook's folder
(so data files resolve as in Jupyter); the expansion is stored beside the source notebook in
`.<notebook>.autotests.json` (a hidden file: never released, never copied to a kernel), which
grading reads instead of running the solution again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .datafiles import TEMPLATES_FILE
from .errors import AuthoringError

if TYPE_CHECKING:  # the solution's child process imports this module: it stays light
    import nbformat

DELIMITER = "AUTOTEST"
HASHED = "HASHED"
DEFAULT_TEMPLATES = Path(__file__).with_name(TEMPLATES_FILE)
KERNEL = "python3"  # the section of autotests.yml our notebooks use
STORE_VERSION = 1
PROBE = "__autotest_value__"  # stands for the snippet's value as the judge would receive it
MAX_LINE = 20_000  # characters of one generated test: past that, autotest a summary


@dataclass(frozen=True)
class Directive:
    hashed: bool
    snippets: tuple[str, ...]


def directive(line: str) -> Directive | None:
    """nbgrader's test: a comment line that holds AUTOTEST; HASHED before it hashes the values."""
    stripped = line.strip()
    if not stripped.startswith("#") or DELIMITER not in stripped:
        return None
    at = line.find(DELIMITER)
    rest = line[at + len(DELIMITER):]
    snippets = tuple(s.strip() for s in rest.split(";") if s.strip())
    return Directive(hashed=HASHED in line[:at], snippets=snippets)


def _is_tests(cell: Any) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def has_autotests(nb: nbformat.NotebookNode) -> bool:
    return any(cell.get("cell_type") == "code" and _is_tests(cell)
               and any(directive(line) for line in cell.get("source", "").splitlines())
               for cell in nb.cells)


# --- templates ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Templates:
    """One kernel's section of an autotests.yml (nbgrader's format)."""

    path: Path
    dispatch: str
    normalize: str
    check: str
    by_type: dict[str, list[dict[str, str]]]  # type name → [{test, fail, close?}]
    hash: str | None = None
    setup: str | None = None
    success: str | None = None
    # Ours, ignored by nbgrader: a test's `close` expression, when its value in the solution is
    # numbers, is compared with a tolerance by this check instead of as text (not when HASHED).
    close: str | None = None

    def to_dict(self) -> dict:
        return {"path": str(self.path), "dispatch": self.dispatch, "normalize": self.normalize,
                "check": self.check, "by_type": self.by_type, "hash": self.hash,
                "setup": self.setup, "success": self.success, "close": self.close}

    @classmethod
    def from_dict(cls, data: dict) -> Templates:
        return cls(**{**data, "path": Path(data["path"])})


def find_templates(notebook: Path, course_root: Path) -> Path:
    """Where nbgrader looks: the assignment's folder, then the course's; else our defaults."""
    for folder in (notebook.parent, course_root):
        if (folder / TEMPLATES_FILE).is_file():
            return folder / TEMPLATES_FILE
    return DEFAULT_TEMPLATES


def load_templates(path: Path, kernel: str = KERNEL) -> Templates:
    import yaml

    def bad(message: str, hint: str = "") -> AuthoringError:
        return AuthoringError(message, path=path, hint=hint or "see nbgrader's autotests.yml "
                              "format, or delete the file to use the defaults")

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise bad(f"cannot read the autotest templates: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise bad(f"not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise bad("an autotests.yml holds one section per kernel, e.g. python3:")
    section = data.get(kernel, data.get("python"))
    if not isinstance(section, dict):
        raise bad(f"no {kernel}: section", f"add a {kernel}: section (nbgrader's format)")
    for key in ("dispatch", "normalize", "check", "templates"):
        if key not in section:
            raise bad(f"the {kernel}: section has no {key}:")
    by_type: dict[str, list[dict[str, str]]] = {}
    if not isinstance(section["templates"], dict):
        raise bad(f"{kernel}.templates must map type names to lists of tests")
    for name, tests in section["templates"].items():
        if not isinstance(tests, list) or not all(
                isinstance(t, dict) and isinstance(t.get("test"), str)
                and isinstance(t.get("fail"), str) and isinstance(t.get("close", ""), str)
                for t in tests):
            raise bad(f"{kernel}.templates.{name} must be a list of {{test: ..., fail: ...}}")
        by_type[str(name)] = [{k: t[k] for k in ("test", "fail", "close") if k in t}
                              for t in tests]
    if "default" not in by_type:
        raise bad(f"{kernel}.templates has no default: entry",
                  "add default: (the tests of a type that has none of its own)")
    optional = {k: section.get(k) for k in ("hash", "setup", "success", "close")}
    for key, value in (*((k, section[k]) for k in ("dispatch", "normalize", "check")),
                       *optional.items()):
        if value is not None and not isinstance(value, str):
            raise bad(f"{kernel}.{key} must be a string")
    return Templates(path=path, dispatch=section["dispatch"], normalize=section["normalize"],
                     check=section["check"], by_type=by_type, **optional)


def render(template: str, **values: str) -> str:
    """Jinja, as nbgrader renders autotests.yml (no autoescape, plain `{{name}}` substitution)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.BaseLoader()).from_string(template).render(**values)


def literal_text(text: str, quote: str = "\"'") -> str:
    """`text` escaped to sit between `quote` quotes (one, or three) in Python code."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def quote_around(template: str, name: str) -> str:
    """The quote character just before `{{name}}` in a template; both kinds when unknown."""
    found = re.search(r"(['\"])\{\{\s*" + name + r"\s*\}\}", template)
    return found.group(1) if found else "\"'"


def type_text(value: Any) -> str:
    """What the dispatch result reads as in nbgrader (IPython's text of it, quotes stripped)."""
    if isinstance(value, type):
        module = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", value.__name__)
        return name if module in (None, "builtins") else f"{module}.{name}"
    return value if isinstance(value, str) else repr(value)


# --- the plan the solution's run follows ------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One directive line of a test cell."""

    cell: int  # 0-based index in the source
    line: int  # 0-based line in the cell
    hidden: bool  # between the hidden-tests markers
    directive: Directive


def plan(nb: nbformat.NotebookNode) -> tuple[list[dict], list[Line]]:
    """What the solution's run executes (code up to the last directive) and the directives."""
    from .notebook import BEGIN_HIDDEN, END_HIDDEN, Role, cells_of, strip_magics

    cells = cells_of(nb)
    lines: list[Line] = []
    for cell in cells:
        if cell.cell_type != "code" or cell.role is not Role.TESTS:
            continue
        hidden = False
        for i, text in enumerate(cell.source.split("\n")):
            if text.strip() == BEGIN_HIDDEN:
                hidden = True
            elif text.strip() == END_HIDDEN:
                hidden = False
            elif (found := directive(text)) is not None:
                lines.append(Line(cell.index, i, hidden, found))
    if not lines:
        return [], []
    last = lines[-1].cell
    steps: list[dict] = []
    for cell in cells[:last + 1]:
        if cell.cell_type != "code" or cell.role is Role.TEAM:
            continue
        mine = [ln for ln in lines if ln.cell == cell.index]
        source = cell.source.split("\n")
        start = 0
        for ln in mine:
            steps.append({"cell": cell.index, "code": strip_magics("\n".join(source[start:ln.line])),
                          "first_line": start})
            steps.append({"cell": cell.index, "line": ln.line,
                          "hashed": ln.directive.hashed, "snippets": list(ln.directive.snippets),
                          "salt": _salt(cell.source, cell.index)})
            start = ln.line + 1
        steps.append({"cell": cell.index, "code": strip_magics("\n".join(source[start:])),
                      "first_line": start})
    return steps, lines


def _salt(source: str, index: int) -> int:
    # nbgrader's choice: a salt fixed by the cell, so releasing twice gives the same hashes.
    return int(hashlib.sha256((source + str(index)).encode("utf-8")).hexdigest(), 16) % 10**6


# --- running the solution (in a child process) --------------------------------------------------

class _Check:
    """`check(...)` while the solution runs: its block's failure is not the release's business."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __enter__(self) -> _Check:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, Exception)


class _Reference:
    def __init__(self, namespace: dict):
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        try:
            return self._namespace[name]
        except KeyError:
            raise AttributeError(name) from None


def _no_kernel() -> bool:
    raise RuntimeError("kernel_used_gpu() has no kernel to look at while the release runs "
                       "the solution; keep it inside a check(..., needs_gpu=True)")


def _judged(value: Any) -> Any:
    """`value` as the judge would receive it from the student's kernel (plain data or handle)."""
    from . import codec
    from .agent import Agent

    return codec.decode(json.loads(json.dumps(Agent().encode(value))))


def stand_ins(namespace: dict) -> dict[str, Any]:
    """The judge's helpers (notebook.JUDGE_HELPERS) as the release runs the solution: in one
    process, with no kernel; `reference` reads the solution's own names in `namespace`."""
    return {"check": _Check, "in_kernel": lambda fn, *a, **k: fn(*a, **k),
            "reference": _Reference(namespace), "kernel_used_gpu": _no_kernel,
            "facts": lambda: {"runtime_s": 0.0, "peak_memory_mb": 0.0}}


def _evaluate(job: dict) -> dict:
    """Run the plan in this process; return each directive's generated code, or the problem."""
    import traceback

    templates = Templates.from_dict(job["templates"])
    namespace: dict = {"__name__": "__main__"}
    namespace.update(stand_ins(namespace))
    out: dict = {"lines": {}}
    salts: dict[int, int] = {}

    def fail(cell: int, line: int | None, message: str, hint: str) -> dict:
        """The release's problem; `line` is 1-based in the cell, as editors number lines."""
        return {**out, "problem": {"cell": cell, "line": line, "message": message, "hint": hint}}

    for step in job["steps"]:
        cell = step["cell"]
        if "code" in step:
            if not step["code"].strip():
                continue
            try:
                # Pad with blank lines so a traceback's line number is the cell's own.
                code = "\n" * step["first_line"] + step["code"]
                exec(compile(code, f"<cell {cell + 1}>", "exec"), namespace)  # noqa: S102
            except Exception as exc:  # noqa: BLE001 - reported as the release's problem
                where = traceback.extract_tb(exc.__traceback__)
                line = next((f.lineno for f in reversed(where)
                             if f.filename == f"<cell {cell + 1}>"), None)
                return fail(cell, line, f"raised {type(exc).__name__}: {exc}"[:500],
                            "the solution must run top to bottom without error before its "
                            "AUTOTEST lines can be expanded (Restart and Run All in Jupyter)")
            continue
        if templates.setup is not None:  # as nbgrader runs it before the first directive
            exec(compile(templates.setup, "<autotest setup>", "exec"), namespace)  # noqa: S102
        generated = []
        for snippet in step["snippets"]:
            if step["hashed"]:  # one salt per hashed test of the cell, as nbgrader does
                salts[cell] = salts.get(cell, step["salt"]) + 1
            try:
                generated.append(_expand(snippet, templates, namespace, step["hashed"],
                                         hex(salts.get(cell, 0))[2:]))
            except _Unexpandable as exc:
                return fail(cell, step["line"] + 1, f"AUTOTEST {snippet}: {exc.message}",
                            exc.hint)
        out["lines"][f"{cell}:{step['line']}"] = generated
    return out


class _Unexpandable(Exception):
    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


def _expand(snippet: str, t: Templates, namespace: dict, hashed: bool, salt: str) -> list[str]:
    """The assert lines of one snippet, from its value in the solution.

    Each line must pass on the solution's value and on that value as the judge receives it from
    the student's kernel; otherwise the line would fail every submission, and the release stops.
    """
    def value_of(code: str, scope: dict) -> Any:
        return eval(compile(code, "<autotest>", "eval"), scope)  # noqa: S307 - instructor's code

    try:
        value_of(snippet, namespace)
        kind = type_text(value_of(render(t.dispatch, snippet=snippet), namespace))
        judged = _judged(value_of(snippet, namespace))
    except Exception as exc:  # noqa: BLE001
        raise _Unexpandable(f"raised {type(exc).__name__}: {exc} in the solution",
                            "autotest an expression the solution can evaluate at that line; to "
                            "test that a call raises, write the test by hand "
                            "(try/except or pytest.raises)") from None
    lines = []
    for test in t.by_type.get(kind, t.by_type["default"]):
        message = render(test["fail"], snippet=snippet)
        line = probe = None
        if "close" in test and t.close is not None and not hashed:
            close = render(test["close"], snippet=snippet)
            expected = _numbers(close, namespace)
            if expected is not None:
                text = literal_text(message, quote_around(t.close, "message"))
                line = render(t.close, snippet=close, expected=expected, message=text)
                probe = render(t.close, snippet=render(test["close"], snippet=PROBE),
                               expected=expected, message=text)
        if line is None or probe is None:  # set together
            normal = render(t.normalize, snippet=test["test"])
            if hashed:
                if t.hash is None:
                    raise _Unexpandable(f"HASHED needs a hash: template in {t.path}",
                                        "add one (nbgrader's hashes with sha1), or drop HASHED")
                normal = render(t.hash, snippet=normal, salt=salt)
            code = render(normal, snippet=snippet)
            try:
                expected = type_text(value_of(code, namespace))
            except Exception as exc:  # noqa: BLE001
                raise _Unexpandable(
                    f"the test {code!r} raised {type(exc).__name__}: {exc} on the solution's "
                    f"{kind}", f"give the type {kind} its own tests in {t.path.name}, or "
                    "autotest a plain value") from None
            value = literal_text(expected, quote_around(t.check, "value"))
            text = literal_text(message, quote_around(t.check, "message"))
            line = render(t.check, snippet=code, value=value, message=text)
            probe = render(t.check, snippet=render(normal, snippet=PROBE), value=value,
                           message=text)
        if len(line) > MAX_LINE:
            raise _Unexpandable(
                f"a generated test is {len(line):,} characters long",
                "autotest a summary instead (x.shape, x[:5], round(float(x.sum()), 4))")
        if not _passes(line, namespace) and not _holds_handle(judged):
            raise _Unexpandable(f"the generated test fails on the solution itself: {line[:200]}",
                                "autotest a value that reads the same each time it is computed")
        if not _passes(probe, {**namespace, PROBE: judged}):
            raise _Unexpandable(
                f"the solution's value is a {kind}, which the grader receives from the "
                f"student's kernel as {_received(judged)}: the test "
                f"{render(test['test'], snippet=snippet)} would fail on every submission, "
                "correct ones included",
                "convert it in the expression to plain data that keeps its type across (numbers, "
                "strings, lists, tuples, dicts, numpy arrays, tensors), e.g. float(x) for a "
                "numpy float, sorted(s) for a set, tuple(t.shape) for a shape, m.weight.detach() "
                "for a parameter; or write the test by hand")
        lines.append(line)
    return lines


def _passes(code: str, scope: dict) -> bool:
    try:
        exec(compile(code, "<autotest>", "exec"), scope)  # noqa: S102 - generated from templates
    except Exception:  # noqa: BLE001 - failing is the answer
        return False
    return True


def _numbers(code: str, namespace: dict) -> str | None:
    """The solution's value of `code` as a literal, when it holds floats; None otherwise.

    Integers, booleans and text stay compared exactly (as text): a tolerance is for floats.
    """
    import numpy as np

    try:
        value = eval(compile(code, "<autotest>", "eval"), namespace)  # noqa: S307
        if isinstance(value, str | bytes) or value is None:
            return None
        array = np.asarray(value)
        if array.dtype.kind != "f":
            return None
        return _literal(array.astype(float).tolist())
    except Exception:  # noqa: BLE001 - not numbers: compared as text
        return None


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value != value or value in (float("inf"), float("-inf")):
        return f'float("{value}")'
    return repr(value)


def _received(judged: Any) -> str:
    from .codec import Handle

    if isinstance(judged, Exception):
        return "something it cannot decode"
    if isinstance(judged, Handle) or _holds_handle(judged):
        return "a kernel object (it is not plain data)"
    return f"a {type_text(type(judged))}"


def _holds_handle(value: Any) -> bool:
    from .codec import Handle

    if isinstance(value, Handle):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_handle(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_handle(v) for v in value.values())
    return False


def _serve() -> None:
    """Child process entry point: argv = [job file, answer file]."""
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    answer = _evaluate(job)
    Path(sys.argv[2]).write_text(json.dumps(answer), encoding="utf-8")


# --- the expansion ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expansion:
    """The test cells whose source changes, by grade_id, and the bytes stored for grading."""

    cells: dict[str, str]
    notebook_sha256: str

    def stored(self) -> bytes:
        data = {"version": STORE_VERSION, "notebook_sha256": self.notebook_sha256,
                "cells": self.cells}
        return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def stored_path(notebook: Path) -> Path:
    return notebook.parent / f".{notebook.stem}.autotests.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def expand(nb: nbformat.NotebookNode, *, notebook: Path, course_root: Path,
           timeout: float) -> Expansion | None:
    """Run the solution and expand every directive of `nb` (read from `notebook`); None if none."""
    steps, lines = plan(nb)
    if not lines:
        return None
    templates = load_templates(find_templates(notebook, course_root))
    with tempfile.TemporaryDirectory(prefix="autotest-") as tmp:
        job, answer = Path(tmp) / "job.json", Path(tmp) / "answer.json"
        job.write_text(json.dumps({"steps": steps, "templates": templates.to_dict()}),
                       encoding="utf-8")
        package = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "MPLBACKEND": "Agg",
               "PYTHONPATH": os.pathsep.join(p for p in (package, os.environ.get("PYTHONPATH"))
                                             if p)}
        try:
            run = subprocess.run(
                [sys.executable, "-c", "from autograder.autotest import _serve; _serve()",
                 str(job), str(answer)],
                cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=timeout,
                check=False)
        except subprocess.TimeoutExpired:
            raise AuthoringError(
                f"running the solution to expand its AUTOTEST lines took over {timeout:g} s",
                path=notebook, hint="make the cells before the last AUTOTEST line faster, or "
                "raise grading.notebook_timeout in course.toml") from None
        if not answer.is_file():
            tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
            raise AuthoringError(
                "running the solution to expand its AUTOTEST lines failed: "
                + (" | ".join(tail) or f"exit status {run.returncode}"), path=notebook,
                hint="run the notebook top to bottom in Jupyter (Restart and Run All)")
        result = json.loads(answer.read_text(encoding="utf-8"))
    if "problem" in result:
        p = result["problem"]
        line = f"line {p['line']}: " if p["line"] is not None else ""
        raise AuthoringError(line + p["message"], path=notebook, cell=p["cell"] + 1,
                             hint=p["hint"])
    return Expansion(_rewrite(nb, lines, result["lines"], templates), _sha256(notebook))


def _rewrite(nb: nbformat.NotebookNode, lines: list[Line], generated: dict[str, list[list[str]]],
             t: Templates) -> dict[str, str]:
    """Each test cell with directives, its directive lines replaced by the generated asserts."""
    out: dict[str, str] = {}
    for index in sorted({ln.cell for ln in lines}):
        cell = nb.cells[index]
        mine = {ln.line: ln for ln in lines if ln.cell == index}
        # The setup code goes before the first directive; again before the first visible one
        # when the first is hidden, since the release drops the hidden part.
        first = min(mine)
        setup_at = {first}
        if mine[first].hidden:
            setup_at |= {min((i for i, ln in mine.items() if not ln.hidden), default=first)}
        new: list[str] = []
        for i, text in enumerate(cell.source.split("\n")):
            if i not in mine:
                new.append(text)
                continue
            if t.setup is not None and i in setup_at:
                new.append(t.setup)
            for snippet_lines in generated[f"{index}:{i}"]:
                new += snippet_lines
                new.append("")
        if t.success is not None:
            new.append(t.success)
        out[nb.cells[index].metadata["nbgrader"]["grade_id"]] = "\n".join(new)
    return out


def apply(nb: nbformat.NotebookNode, expansion: Expansion | None) -> nbformat.NotebookNode:
    """A copy of `nb` whose test cells hold the generated asserts instead of the directives."""
    import copy

    nb = copy.deepcopy(nb)
    if expansion is None:
        return nb
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("cell_type") == "code" and _is_tests(cell) and grade_id in expansion.cells:
            cell.source = expansion.cells[grade_id]
    return nb


def load_stored(nb: nbformat.NotebookNode, notebook: Path) -> Expansion | None:
    """The expansion the last release stored for `notebook`, checked against it; None if none."""
    if not has_autotests(nb):
        return None
    path = stored_path(notebook)
    hint = f"run `autograder release {notebook.parent.name}` (it runs the solution once and " \
           f"stores the expected values in {path.name})"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthoringError("its AUTOTEST lines have no expected values yet", path=notebook,
                             hint=hint) from None
    except (OSError, ValueError) as exc:
        raise AuthoringError(f"cannot read {path.name}: {exc}", path=notebook, hint=hint) from None
    if not isinstance(data, dict) or data.get("version") != STORE_VERSION \
            or not isinstance(data.get("cells"), dict):
        raise AuthoringError(f"{path.name} is not in the expected format", path=notebook,
                             hint=hint)
    if data.get("notebook_sha256") != _sha256(notebook):
        raise AuthoringError(f"the notebook changed since its AUTOTEST lines were expanded "
                             f"({path.name} is out of date)", path=notebook, hint=hint)
    return Expansion({str(k): str(v) for k, v in data["cells"].items()}, data["notebook_sha256"])
