"""Mutants of a homework generated from the syntax tree of its solution: small, realistic mistakes.

`autograder validate HW --mutate` grades every mutant written here in the real grader: a mutant
that keeps full points shows a mistake the hidden tests let through. Each mutant changes one
place of one answer cell, inside its `### BEGIN SOLUTION` / `### END SOLUTION` region (what a
student writes), by splicing text at the positions Python's `ast` gives: the rest of the cell,
comments and layout included, stays as the instructor wrote it, so a survivor's diff is one line.

Why not mutmut or cosmic-ray: both mutate the modules of a Python package and run a test command
per mutant (mutmut 3 even rewrites every function into a trampoline switched by an environment
variable), neither reads notebooks, and their operators are the generic ones (arithmetic,
comparisons, numbers, booleans). The mistakes of a deep-learning homework are in calls: a
forgotten `optimizer.zero_grad()`, `mean` for `sum`, a dropped `keepdims=True`, `.to(device)` or
`copy.deepcopy`, swapped arguments. A pass over the answer cells with those operators is shorter
than the glue either library would need, and adds no dependency.

The operators, by family (`Mutation.operator`):

- arith: `+` ↔ `-`, `*` ↔ `/`, `//` → `/`, `**` → `*`, the same for `+=`, `-=`, `*=`, `/=`;
  a unary minus or a `not` removed;
- compare: `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`, `is` ↔ `is not`, `in` ↔ `not in`; `and` ↔ `or`;
- constant: an integer k → k + 1 and k − 1, a float c → c + 1 (c × 10 for |c| < 0.1),
  `True` ↔ `False`;
- bound: the end of a `range` and the bounds of a slice, ± 1;
- reduce: `mean` ↔ `sum`, `max` ↔ `min`, `argmax` ↔ `argmin`, `maximum` ↔ `minimum`,
  `any` ↔ `all`, `zeros` ↔ `ones`;
- axis: `axis=` / `dim=` changed (0 ↔ 1, −1 → 0);
- keyword: any keyword argument dropped (`keepdims=True`, `lr=lr`, `generator=…`: the callee's
  default instead);
- drop: a call statement (`optimizer.zero_grad()`, `model.train()`, `loss.backward()`), an
  assignment to an element, an attribute or a name bound before, a `break`, replaced by `pass`;
  a `with` block's context manager (`torch.no_grad()`, `torch.autocast(...)`) removed;
- unwrap: `x.to(device)`, `.copy()`, `.clone()`, `.detach()`, `.cpu()`, `.astype(...)`,
  `copy.deepcopy(x)`, `np.asarray(x)`, `float(x)`, `round(x)`, `np.abs(x)`… replaced by `x`;
- swap: two neighbouring positional arguments of a call, or two elements of an assigned or
  returned tuple.

A mutant is known by its `key`: the cell, the original line (stripped), and the change, e.g.
`fit: if val_loss < best_loss: :: < -> <=`. The key does not depend on line numbers, so a record
that a mutant is equivalent (see `validate.equivalents`) survives edits elsewhere in the cell.
"""

from __future__ import annotations

import ast
import builtins
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .notebook import BEGIN_SOLUTION, END_SOLUTION

ARITH = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
         ast.FloorDiv: ("//", "/"), ast.Pow: ("**", "*")}
COMPARE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
           ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Is: ("is", "is not"),
           ast.IsNot: ("is not", "is"), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in")}
REDUCE = {"mean": "sum", "sum": "mean", "max": "min", "min": "max", "argmax": "argmin",
          "argmin": "argmax", "maximum": "minimum", "minimum": "maximum", "any": "all",
          "all": "any", "zeros": "ones", "ones": "zeros", "zeros_like": "ones_like",
          "ones_like": "zeros_like", "nanmean": "nansum"}
AXIS_KEYWORDS = ("axis", "dim")
UNWRAP_METHODS = {"to", "copy", "clone", "detach", "cpu", "cuda", "astype", "float", "double",
                  "long", "item", "numpy", "contiguous"}
UNWRAP_FUNCTIONS = {"deepcopy", "copy", "asarray", "array", "as_tensor", "tensor", "float", "int",
                    "round", "abs", "list", "tuple", "sorted", "squeeze", "ravel", "flatten"}


@dataclass(frozen=True)
class Mutation:
    """One change to one answer cell: `source[start:end]` (`old`) becomes `new`."""

    cell: str  # grade_id of the answer cell
    operator: str  # family: arith, compare, constant, bound, reduce, axis, keyword, drop, unwrap, swap
    line: int  # 1-based line of the cell where the change starts
    line_text: str  # that line, stripped: the anchor of the key
    start: int
    end: int
    old: str
    new: str
    nth: int = 0  # among mutations with the same cell, line text and change (0 for the first)

    @property
    def key(self) -> str:
        """Stable name: cell, line, change (and which one, when the same change repeats)."""
        change = f"{_short(self.old)} -> {_short(self.new)}"
        suffix = f" #{self.nth + 1}" if self.nth else ""
        return f"{self.cell}: {self.line_text} :: {change}{suffix}"

    def apply(self, source: str) -> str:
        return source[:self.start] + self.new + source[self.end:]

    def describe(self) -> str:
        return f"{self.cell} line {self.line} ({self.operator}): {_short(self.old)} → {_short(self.new)}"

    def diff(self, source: str) -> str:
        """The unified diff of the cell, a few lines of context."""
        before = source.splitlines(keepends=True)
        after = self.apply(source).splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, f"{self.cell} (solution)",
                                            f"{self.cell} (mutant)", n=1)).rstrip("\n")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def solution_lines(source: str) -> set[int]:
    """1-based lines strictly between the solution markers: the part a student writes."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN_SOLUTION:
            inside = True
        elif stripped == END_SOLUTION:
            inside = False
        elif inside:
            lines.add(number)
    return lines


class _Positions:
    """Character offsets in a cell from ast's (line, byte column) positions."""

    def __init__(self, source: str):
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, col_bytes: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode("utf-8")[:col_bytes].decode("utf-8",
                                                                                    "replace"))

    # Expressions and statements: the nodes that carry positions.
    def start(self, node: Any) -> int:
        return self.offset(node.lineno, node.col_offset)

    def end(self, node: Any) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)

    def text(self, node: Any) -> str:
        return self.source[self.start(node):self.end(node)]


class _Finder(ast.NodeVisitor):
    """Walks one cell's tree and proposes (node, start, end, new, operator) changes."""

    def __init__(self, pos: _Positions):
        self.pos = pos
        self.found: list[tuple[ast.AST, int, int, str, str]] = []
        self.bound: list[set[str]] = [set()]  # names bound so far, per function

    def add(self, node: ast.AST, start: int, end: int, new: str, operator: str) -> None:
        self.found.append((node, start, end, new, operator))

    def token_between(self, left: ast.AST, right: ast.AST, token: str) -> int | None:
        """Offset of an operator token between two nodes (only spaces and brackets around it)."""
        lo, hi = self.pos.end(left), self.pos.start(right)
        gap = self.pos.source[lo:hi]
        at = gap.find(token)
        while at != -1:
            before, after = gap[:at], gap[at + len(token):]
            if set(before) <= set(" \t\n\\)") and set(after) <= set(" \t\n\\("):
                return lo + at
            at = gap.find(token, at + 1)
        return None

    # scopes ---------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        args = node.args
        names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        self.bound.append(names)
        for statement in node.body:
            self.visit(statement)
        self.bound.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def note_targets(self, targets: Sequence[ast.AST]) -> None:
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    self.bound[-1].add(sub.id)

    # statements -----------------------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self.add(node, self.pos.start(node), self.pos.end(node), "pass", "drop")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        rebinds = all(self.rebinding(t) for t in node.targets)
        if rebinds:
            self.add(node, self.pos.start(node), self.pos.end(node), "pass", "drop")
        self.swap_elements(node.value)
        self.generic_visit(node)
        self.note_targets(node.targets)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.add(node, self.pos.start(node), self.pos.end(node), "pass", "drop")
        pair = ARITH.get(type(node.op))
        if pair and pair[0] != "**":
            at = self.token_between(node.target, node.value, pair[0] + "=")
            if at is not None:
                self.add(node, at, at + len(pair[0]) + 1, pair[1] + "=", "arith")
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.swap_elements(node.value)
        self.generic_visit(node)

    def visit_Break(self, node: ast.Break) -> None:
        self.add(node, self.pos.start(node), self.pos.end(node), "pass", "drop")

    def visit_With(self, node: ast.With) -> None:
        if len(node.items) == 1 and node.items[0].optional_vars is None:
            # `with torch.no_grad():` → `if True:`: the block runs, without its context.
            item = node.items[0].context_expr
            start = self.pos.start(node)
            colon = self.pos.source.find(":", self.pos.end(item))
            if colon != -1:
                self.add(node, start, colon, "if True", "drop")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.note_targets([node.target])
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    def rebinding(self, target: ast.AST) -> bool:
        """Dropping this assignment leaves a program that runs: it changes something that
        exists (an element, an attribute) or rebinds a name bound before."""
        if isinstance(target, ast.Subscript | ast.Attribute):
            return True
        if isinstance(target, ast.Name):
            return target.id in self.bound[-1]
        if isinstance(target, ast.Tuple | ast.List):
            return all(self.rebinding(t) for t in target.elts)
        return False

    def swap_elements(self, value: ast.AST) -> None:
        if isinstance(value, ast.Tuple) and len(value.elts) >= 2:
            self.swap_neighbours(value, value.elts)

    def swap_neighbours(self, owner: ast.AST, items: Sequence[ast.AST]) -> None:
        for a, b in zip(items, items[1:], strict=False):
            if isinstance(a, ast.Starred) or isinstance(b, ast.Starred):
                continue
            text_a, text_b = self.pos.text(a), self.pos.text(b)
            if text_a == text_b:
                continue
            start, end = self.pos.start(a), self.pos.end(b)
            middle = self.pos.source[self.pos.end(a):self.pos.start(b)]
            self.add(owner, start, end, text_b + middle + text_a, "swap")

    # expressions ----------------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> None:
        pair = ARITH.get(type(node.op))
        if pair:
            at = self.token_between(node.left, node.right, pair[0])
            if at is not None and not (pair[0] == "*" and self.pos.source[at:at + 2] == "**"):
                self.add(node, at, at + len(pair[0]), pair[1], "arith")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.USub | ast.Not):
            self.add(node, self.pos.start(node), self.pos.end(node), self.pos.text(node.operand),
                     "arith")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            old, new = COMPARE[type(op)]
            at = self.token_between(left, right, old)
            if at is not None:
                self.add(node, at, at + len(old), new, "compare")
            left = right
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in zip(node.values, node.values[1:], strict=False):
            at = self.token_between(left, right, old)
            if at is not None:
                self.add(node, at, at + len(old), new, "compare")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        start, end = self.pos.start(node), self.pos.end(node)
        if isinstance(value, bool):
            self.add(node, start, end, str(not value), "constant")
        elif isinstance(value, int):
            news = [value + 1] + ([value - 1] if value > 0 else [])
            for new in news:
                self.add(node, start, end, str(new), "constant")
        elif isinstance(value, float):
            changed = value * 10 if 0 < abs(value) < 0.1 else value + 1.0
            self.add(node, start, end, repr(changed), "constant")

    def visit_Slice(self, node: ast.Slice) -> None:
        for bound in (node.lower, node.upper):
            if bound is not None and not _is_number(bound):
                self.off_by_one(bound)
        self.generic_visit(node)

    def off_by_one(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub) \
                and _is_number(node.right):
            return  # `n + 1`: the constant's own mutants already move it by one
        text = self.pos.text(node)
        for sign in ("+", "-"):
            wrapped = text if isinstance(node, ast.Name | ast.Attribute | ast.Call |
                                         ast.Subscript) else f"({text})"
            self.add(node, self.pos.start(node), self.pos.end(node), f"{wrapped} {sign} 1",
                     "bound")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else (
            func.id if isinstance(func, ast.Name) else None)
        if name == "range" and node.args:
            stop = node.args[0] if len(node.args) == 1 else node.args[1]
            if not _is_number(stop):
                self.off_by_one(stop)
        if name in REDUCE and (isinstance(func, ast.Attribute)
                               or hasattr(builtins, REDUCE[name])):
            end = self.pos.end(func)
            self.add(node, end - len(name), end, REDUCE[name], "reduce")
        self.keywords(node)
        self.unwrap(node, func, name)
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(positional) == len(node.args):
            self.swap_neighbours(node, positional)
        self.generic_visit(node)

    def keywords(self, node: ast.Call) -> None:
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is None:
                continue
            if keyword.arg in AXIS_KEYWORDS and _is_number(keyword.value):
                text = self.pos.text(keyword.value).replace(" ", "")
                new = {"0": "1", "1": "0", "-1": "0", "2": "1"}.get(text)
                if new is not None:
                    self.add(node, self.pos.start(keyword.value), self.pos.end(keyword.value),
                             new, "axis")
            # Dropped: from the comma before it (or, first of all, to the comma after it).
            start, end = self.pos.start(keyword), self.pos.end(keyword)
            previous = node.keywords[i - 1] if i else (node.args[-1] if node.args else None)
            if previous is not None:
                start = self.pos.end(previous)
            else:
                rest = self.pos.source[end:]
                stripped = rest.lstrip(" \t\n")
                if stripped.startswith(","):
                    end += len(rest) - len(stripped) + 1
                    end += len(self.pos.source[end:]) - len(self.pos.source[end:].lstrip(" \t\n"))
            self.add(node, start, end, "", "keyword")

    def unwrap(self, node: ast.Call, func: ast.AST, name: str | None) -> None:
        if isinstance(func, ast.Attribute) and name in UNWRAP_METHODS:
            receiver = self.pos.text(func.value)
            self.add(node, self.pos.start(node), self.pos.end(node), receiver, "unwrap")
        elif name in UNWRAP_FUNCTIONS and len(node.args) >= 1 \
                and not isinstance(node.args[0], ast.Starred):
            inner = self.pos.text(node.args[0])
            self.add(node, self.pos.start(node), self.pos.end(node), f"({inner})"
                     if "\n" in inner else inner, "unwrap")


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
        and not isinstance(node.value, bool)


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0]))
    return out


def mutations(source: str, cell: str) -> list[Mutation]:
    """Every mutation of one answer cell's solution region, in the order of the source.

    A cell that does not parse gives none (the release would have refused it anyway). Changes
    that give the same cell twice are kept once; changes reaching outside the solution region
    (the signature, the docstring) are left out.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    allowed = solution_lines(source)
    if not allowed:
        return []
    pos = _Positions(source)
    finder = _Finder(pos)
    finder.visit(tree)
    docstrings = _docstrings(tree)
    out: list[Mutation] = []
    seen, counts = {source}, dict[tuple[str, str, str], int]()
    for node, start, end, new, operator in sorted(finder.found, key=lambda f: (f[1], f[2])):
        if id(node) in docstrings:
            continue
        first = source.count("\n", 0, start) + 1
        last = source.count("\n", 0, max(start, end - 1)) + 1
        if not all(line in allowed for line in range(first, last + 1)):
            continue
        mutated = source[:start] + new + source[end:]
        if mutated in seen:
            continue
        try:
            compile(mutated, f"<mutant of {cell}>", "exec")
        except SyntaxError:
            continue
        seen.add(mutated)
        line_text = source.splitlines()[first - 1].strip()
        old = source[start:end]
        ident = (line_text, _short(old), _short(new))
        nth = counts.get(ident, 0)
        counts[ident] = nth + 1
        out.append(Mutation(cell, operator, first, line_text, start, end, old, new, nth))
    return out
