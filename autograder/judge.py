"""The trusted judge: test cells run in the grader's process, student names are kernel objects.

A test cell runs here with the student's names bound to what the kernel holds (see link.py for
the requests, codec.py for what comes back); what it records is scored by scoring.py. Nothing the
kernel says is executed or unpickled. What the cell prints is kept apart by part (visible or
hidden), and `del` or assignment of a student's name acts in the kernel too.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import inspect
import io
import linecache
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

from .agent import SEEDERS
from .link import MISSING, KernelLink
from .notebook import strip_magics
from .scoring import CellRun, hidden_lines, in_hidden_part, raised_in_hidden_part

OUTPUT_CHARS = 4000  # printed by one test cell and kept, visible and hidden parts each
NAMES = "__autograder_names__"  # the judge's object behind `del name` / `name = ...` of a test


class CellOutput(io.TextIOBase):
    """sys.stdout while a test cell runs: what it prints goes to its result, split by the part
    (visible or hidden) that printed it, each capped."""

    def __init__(self, filename: str, hidden: frozenset[int], limit: int = OUTPUT_CHARS):
        self.filename, self.hidden, self.limit = filename, hidden, limit
        self.parts: dict[bool, list[str]] = {False: [], True: []}
        self.sizes = {False: 0, True: 0}
        self.cut = {False: False, True: False}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        part = in_hidden_part(sys._getframe(1), self.filename, self.hidden)
        room = self.limit - self.sizes[part]
        if len(text) > room:
            self.cut[part] = True
        if room > 0:
            self.parts[part].append(text[:room])
            self.sizes[part] += min(len(text), room)
        return len(text)

    def text(self, hidden: bool) -> str:
        out = "".join(self.parts[hidden])
        return out + ("\n[… output cut]" if self.cut[hidden] else "")


# Student names in a test cell -------------------------------------------------------------


class StudentNames:
    """`del name` and `name = value` of a student's name in a test cell act in the kernel too,
    as they would in nbgrader where the test runs in the kernel: nbgrader's "does not use
    `squares`" idiom deletes it, calls the function, and puts it back."""

    def __init__(self, namespace: dict[str, Any], link: KernelLink | None, names: frozenset[str]):
        self.namespace, self.link, self.names = namespace, link, names

    def delete(self, name: str) -> None:
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined")
        if self.link is not None:
            self.link.delete_name(name)
        del self.namespace[name]

    def assigned(self, name: str) -> None:
        if self.link is not None and name in self.namespace:
            self.link.set_name(name, self.namespace[name])


class _SyncStudentNames(ast.NodeTransformer):
    """Rewrites the cell's own statements (not those of functions or classes it defines):
    `del name` → `__autograder_names__.delete("name")`, and after `name = ...` a call to
    `__autograder_names__.assigned("name")`, for the student's names only."""

    def __init__(self, names: frozenset[str]):
        self.names = names

    def _call(self, method: str, name: str, where: ast.AST) -> ast.stmt:
        call = ast.Expr(ast.Call(ast.Attribute(ast.Name(NAMES, ast.Load()), method, ast.Load()),
                                 [ast.Constant(name)], []))
        return ast.copy_location(call, where)

    def _bound(self, target: ast.AST) -> list[str]:
        if isinstance(target, ast.Name):
            return [target.id] if target.id in self.names else []
        if isinstance(target, ast.Tuple | ast.List):
            return [n for elt in target.elts for n in self._bound(elt)]
        if isinstance(target, ast.Starred):
            return self._bound(target.value)
        return []

    def visit_FunctionDef(self, node: ast.AST) -> ast.AST:
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

    def visit_Delete(self, node: ast.Delete) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for target in node.targets:  # in order: `del a, b` deletes a, then b
            if isinstance(target, ast.Name) and target.id in self.names:
                out.append(self._call("delete", target.id, node))
            else:
                out.append(ast.copy_location(ast.Delete([target]), node))
        return out

    def _assignment(self, node: ast.stmt, targets: Sequence[ast.AST]) -> list[ast.stmt]:
        self.generic_visit(node)
        names = [n for t in targets for n in self._bound(t)]
        return [node] + [self._call("assigned", n, node) for n in dict.fromkeys(names)]

    def visit_Assign(self, node: ast.Assign) -> list[ast.stmt]:
        return self._assignment(node, node.targets)

    def visit_AugAssign(self, node: ast.AugAssign) -> list[ast.stmt]:
        return self._assignment(node, [node.target])

    def visit_AnnAssign(self, node: ast.AnnAssign) -> list[ast.stmt]:
        return self._assignment(node, [node.target] if node.value is not None else [])


def compile_cell(code: str, filename: str, *,
                 student_names: frozenset[str] = frozenset()) -> types.CodeType:
    """Compile trusted cell code so tracebacks and inspect.getsource (scenarios) see it; with
    student_names, `del` and assignments of those names are rewritten (see StudentNames).
    IPython lines run as IPython would run them where that is Python (`%time assert ...`
    asserts; notebook.strip_magics), line numbers kept for the hidden part's bounds."""
    code = strip_magics(code)
    lines = [line + "\n" for line in code.splitlines()]
    linecache.cache[filename] = (len(code), None, lines, filename)
    tree = ast.parse(code, filename)
    if student_names:
        tree = ast.fix_missing_locations(_SyncStudentNames(student_names).visit(tree))
    return compile(tree, filename, "exec")


def run_in_judge(code: str, filename: str, namespace: dict[str, Any], *, run: CellRun,
                 student_names: frozenset[str] = frozenset(),
                 link: KernelLink | None = None) -> CellRun:
    """Run one test cell's full source (visible + hidden) in the judge.

    What it prints is kept in the run (visible and hidden parts apart), not on the grader's
    stdout; `del` and assignments of the student's names reach the kernel.
    """
    hidden = hidden_lines(code)
    output = CellOutput(filename, hidden)
    namespace[NAMES] = StudentNames(namespace, link, student_names)
    try:
        with contextlib.redirect_stdout(output):
            exec(compile_cell(code, filename, student_names=student_names),  # noqa: S102
                 namespace)  # the instructor's trusted tests
    except BaseException as exc:  # noqa: BLE001 - every failure of a test cell is a result
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        run.fail(exc, hidden=raised_in_hidden_part(exc, filename, hidden))
    run.output, run.hidden_output = output.text(False), output.text(True)
    return run


def display(*objs: Any, **_: Any) -> None:
    """IPython's `display` as a test cell uses it: each object's text form, in the cell's output
    (a kernel defines it as a builtin; the judge runs plain Python)."""
    for obj in objs:
        print(repr(obj))


# The link of the test cell running now: where the seeds it sets are forwarded.
_seeding: list[KernelLink] = []


def _forwarding(kind: str, original: Any) -> Any:
    @functools.wraps(original)
    def seed(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if _seeding:
            _seeding[-1].seed(kind, args, kwargs)
        return result

    seed.autograder_forwards = kind  # type: ignore[attr-defined]
    return seed


def _reading_kernel_objects(remote: str, original: Any) -> Any:
    from .codec import Handle

    @functools.wraps(original)
    def read(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if issubclass(type(obj), Handle):  # type(): a handle claims its kernel class
            return getattr(obj._remote(), remote)(obj)
        return original(obj, *args, **kwargs)

    read.autograder_forwards = remote  # type: ignore[attr-defined]
    return read


def _wrap(module: Any, attr: str, wrapper: Any) -> None:
    """Replace module.attr by wrapper(original), once per process."""
    function = getattr(module, attr, None)
    if function is not None and not hasattr(function, "autograder_forwards"):
        setattr(module, attr, wrapper(function))


@contextlib.contextmanager
def as_in_the_kernel(link: KernelLink) -> Iterator[None]:
    """While a test cell runs, what nbgrader's one process gives a test reaches the kernel:

    - `np.random.seed(0)`, `random.seed(0)` and `torch.manual_seed(0)` seed the kernel's state
      as well as the judge's, so a test that seeds, then calls the student's code (twice, to
      check it is reproducible; or against numbers drawn after that seed) grades as in
      nbgrader. Only the libraries the judge has imported when the cell starts are wrapped: a
      test cell that imports torch for the first time and seeds it seeds the judge alone;
    - `inspect.getsource(f)` ("no loop in your code") and `inspect.signature(f)` on a student's
      function are answered by the kernel (by inspect itself for anything else).
    """
    for kind, (module_name, attr) in SEEDERS.items():
        # numpy imports numpy.random on first use: import it now where numpy is imported.
        if module_name.split(".")[0] in sys.modules or module_name == "random":
            _wrap(importlib.import_module(module_name), attr,
                  functools.partial(_forwarding, kind))
    for attr, remote in (("getsource", "source"), ("signature", "signature")):
        _wrap(inspect, attr, functools.partial(_reading_kernel_objects, remote))
    _seeding.append(link)
    try:
        yield
    finally:
        _seeding.remove(link)


def bind_student_names(namespace: dict[str, Any], link: KernelLink,
                       names: set[str] | frozenset[str]) -> None:
    """Bind each student name to its value in the kernel: plain data as a copy, anything else as
    a handle to that very object (so `orig = f; del f` keeps `orig`); a missing name is unbound."""
    if not names:
        return
    for name, value in link.names(sorted(names)).items():
        if value is MISSING:
            namespace.pop(name, None)
        else:
            namespace[name] = value
