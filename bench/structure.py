"""The package's shape, as a code review measures it: the import graph, the biggest modules and
functions, the statuses and modes (StrEnums, or bare string constants), the exception classes.

For this checkout and, with --baseline, an earlier revision (from `git archive`):

- import cycles among autograder's modules: of module-level imports, with the imports made inside
  functions, and with those made for type checking only; an upward import is a deferred import of
  a module that itself imports this one;
- the six biggest modules and the ten biggest functions (lines), and how many functions pass 50;
- the StrEnums and their members; the module constants that hold a status or a mode as a bare
  string; our statuses compared as string literals;
- the exception classes, and those outside autograder/errors.py.

Blocks repeated across autograder/ and tests/ are the `duplicates` tool's (not in this repo).

    python bench/structure.py [--baseline REV]
"""

from __future__ import annotations

import argparse
import ast
import builtins
import sys
import tempfile
from pathlib import Path

import revisions

ROOT = Path(__file__).resolve().parents[1]
# Statuses and modes the package has used as strings (results, kernel runs, validation, course
# modes, time sources, mark origins, a student's check, rebuild's matches).
STATUS_WORDS = {
    "graded", "error", "timeout", "rejected", "passed", "partial", "failed", "not_attempted",
    "not_graded", "manual", "kernel_died", "ok", "died", "auto", "required", "off", "template",
    "bwrap", "none", "manifest", "lms", "classroom", "file date", "archive date", "xlsx", "review",
    "MISS", "skipped", "solution", "stub", "mutant", "solution again", "missing", "not_run",
    "run_first", "changed", "matched_by_id", "matched_by_anchor", "matched_by_names",
}
STATUS_FIELDS = ("status", "origin", "mode", "verdict", "source", "level", "start")
BUILTIN_EXCEPTIONS = {name for name in dir(builtins)
                      if isinstance(getattr(builtins, name), type)
                      and issubclass(getattr(builtins, name), BaseException)}


class Package:
    """The modules of autograder/ under `root`, parsed."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, Path] = {}
        for path in sorted((root / "autograder").rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            self.files[name.removesuffix(".__init__")] = path
        self.trees = {m: ast.parse(p.read_text(encoding="utf-8")) for m, p in self.files.items()}
        self.imports: dict[str, dict[str, set[str]]] = {
            kind: {m: set() for m in self.files} for kind in ("top", "deferred", "typing")}
        for module, tree in self.trees.items():
            self._walk(module, tree, "top")

    def _targets(self, module: str, node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names if a.name in self.files]
        if not isinstance(node, ast.ImportFrom):
            return []
        base = module.split(".")
        if node.level:
            package = base if self.files[module].name == "__init__.py" else base[:-1]
            package = package[:len(package) - (node.level - 1)]
            target = ".".join(package + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        found = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in self.files]
        return found or ([target] if target in self.files else [])

    def _walk(self, module: str, node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for sub in child.body:
                    self._visit(module, sub, "typing")
                for sub in child.orelse:
                    self._visit(module, sub, kind)
            else:
                self._visit(module, child, kind)

    def _visit(self, module: str, node: ast.AST, kind: str) -> None:
        for target in self._targets(module, node):
            if target != module:
                self.imports[kind][module].add(target)
        inner = "deferred" if kind == "top" and isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) else kind
        self._walk(module, node, inner)

    def graph(self, *kinds: str) -> dict[str, set[str]]:
        return {m: set().union(*(self.imports[k][m] for k in kinds)) for m in self.files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module == goal:
            return True
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return False


def report(root: Path) -> list[str]:
    package = Package(root)
    runtime = package.graph("top", "deferred")
    lines = [f"modules: {len(package.files)}, lines: "
             f"{sum(len(p.read_text().splitlines()) for p in package.files.values())}"]
    for label, kinds in (("module level", ("top",)), ("with deferred imports", ("top", "deferred")),
                         ("with type-checking imports", ("top", "deferred", "typing"))):
        lines.append(f"import cycles, {label}: {cycles(package.graph(*kinds)) or 'none'}")
    upward = sorted((m, t) for m in package.files
                    for t in package.imports["deferred"][m] | package.imports["typing"][m]
                    if reaches(runtime, t, m))
    lines.append(f"upward imports: {len(upward)} " + ", ".join(f"{m} -> {t}" for m, t in upward))

    sizes = sorted(((len(p.read_text().splitlines()), str(p.relative_to(root)))
                    for p in package.files.values()), reverse=True)
    lines.append("biggest modules: " + ", ".join(f"{name} {n}" for n, name in sizes[:6]))
    functions = sorted(((node.end_lineno - node.lineno + 1,
                         f"{package.files[m].relative_to(root)}:{node.lineno} {node.name}")
                        for m, tree in package.trees.items() for node in ast.walk(tree)
                        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)),
                       reverse=True)
    lines.append("biggest functions: " + ", ".join(f"{where} {n}" for n, where in functions[:10]))
    lines.append(f"functions over 50 lines: {sum(1 for n, _ in functions if n > 50)}")

    enums, constants, literals = [], [], []
    classes: dict[str, list[tuple[str, list[str]]]] = {}
    for module, tree in package.trees.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any("Enum" in ast.unparse(b) for b in node.bases):
                enums.append((node.name, sum(isinstance(s, ast.Assign) for s in node.body)))
            if isinstance(node, ast.Assign) and not isinstance(node.value, ast.Dict | ast.Call):
                values = [n.value for n in ast.walk(node.value)
                          if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                if values and all(v in STATUS_WORDS for v in values):
                    constants.append(f"{module}.{', '.join(ast.unparse(t) for t in node.targets)}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, []).append(
                    (module, [ast.unparse(b).split(".")[-1].split("[")[0] for b in node.bases]))
            if isinstance(node, ast.Compare) and any(f in ast.unparse(node) for f in STATUS_FIELDS):
                literals += [f"{module}:{node.lineno}" for c in (node.left, *node.comparators)
                             if isinstance(c, ast.Constant) and c.value in STATUS_WORDS]
    lines.append(f"StrEnums: {len(enums)} with {sum(n for _, n in enums)} members: "
                 + ", ".join(f"{name} ({n})" for name, n in enums))
    lines.append(f"statuses and modes as bare string constants: {len(constants)} "
                 + ", ".join(constants))
    lines.append(f"status words compared as string literals: {len(literals)} " + ", ".join(literals))

    def is_exception(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in BUILTIN_EXCEPTIONS:
            return True
        return name not in seen and any(is_exception(base, seen | {name})
                                        for _, bases in classes.get(name, []) for base in bases)

    exceptions = sorted((module, name) for name, places in classes.items() for module, _ in places
                        if name not in BUILTIN_EXCEPTIONS and is_exception(name))
    outside = [f"{m}.{n}" for m, n in exceptions if m != "autograder.errors"]
    lines.append(f"exception classes: {len(exceptions)}, outside errors.py: {len(outside)} "
                 + ", ".join(outside))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to measure too (e.g. main)")
    args = parser.parse_args()
    print("this checkout:")
    print("\n".join(f"  {line}" for line in report(ROOT)))
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            tree = revisions.checkout(args.baseline, Path(tmp))
            print(f"{args.baseline}:")
            print("\n".join(f"  {line}" for line in report(tree)))


if __name__ == "__main__":
    sys.exit(main())
