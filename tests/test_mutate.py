"""Generated mutants (autograder.mutate): which changes, where, and that each is one clean edit."""

from __future__ import annotations

import ast

from autograder.mutate import mutations, solution_lines

CELL = '''import copy


def train(model, loader, optimizer, device, steps=3):
    """A docstring - with 1 number and a minus sign."""
    ### BEGIN SOLUTION
    model.train()
    total = 0.0
    for xb, yb in loader[:steps]:
        xb = xb.to(device)
        optimizer.zero_grad()
        with torch.no_grad():
            loss = (xb - yb).abs().mean(axis=0, keepdims=True)
        total += loss.item() * len(yb)
        if total < 1e-3 and steps > 1:
            break
    best = copy.deepcopy(model.state_dict())
    return total / len(loader), best
    ### END SOLUTION
'''


def changes(source: str = CELL) -> dict[tuple[str, str, str], str]:
    """(operator, old, new) -> the mutated line, for every mutation of the cell."""
    out = {}
    for m in mutations(source, "train"):
        out[(m.operator, " ".join(m.old.split()), m.new)] = m.apply(source).splitlines()[m.line - 1]
    return out


def test_every_family_of_mistake_is_generated():
    found = changes()
    expected = {
        ("drop", "model.train()", "pass"): "    pass",
        ("drop", "optimizer.zero_grad()", "pass"): "        pass",
        ("drop", "xb = xb.to(device)", "pass"): "        pass",
        ("drop", "break", "pass"): "            pass",
        ("drop", "with torch.no_grad()", "if True"): "        if True:",
        ("unwrap", "xb.to(device)", "xb"): "        xb = xb",
        ("unwrap", "copy.deepcopy(model.state_dict())", "model.state_dict()"):
            "    best = model.state_dict()",
        ("reduce", "mean", "sum"): "            loss = (xb - yb).abs().sum(axis=0, keepdims=True)",
        ("axis", "0", "1"): "            loss = (xb - yb).abs().mean(axis=1, keepdims=True)",
        ("keyword", ", keepdims=True", ""): "            loss = (xb - yb).abs().mean(axis=0)",
        ("arith", "-", "+"): "            loss = (xb + yb).abs().mean(axis=0, keepdims=True)",
        ("arith", "+=", "-="): "        total -= loss.item() * len(yb)",
        ("compare", "<", "<="): "        if total <= 1e-3 and steps > 1:",
        ("compare", "and", "or"): "        if total < 1e-3 or steps > 1:",
        ("constant", "1e-3", "0.01"): "        if total < 0.01 and steps > 1:",
        ("constant", "1", "2"): "        if total < 1e-3 and steps > 2:",
        ("constant", "1", "0"): "        if total < 1e-3 and steps > 0:",
        ("constant", "0.0", "1.0"): "    total = 1.0",
        ("bound", "steps", "steps - 1"): "    for xb, yb in loader[:steps - 1]:",
        ("swap", "total / len(loader), best", "best, total / len(loader)"):
            "    return best, total / len(loader)",
    }
    for key, line in expected.items():
        assert found.get(key) == line, (key, found.get(key))


def test_only_the_solution_region_changes():
    for m in mutations(CELL, "train"):
        mutated = m.apply(CELL).splitlines()
        original = CELL.splitlines()
        changed = [i + 1 for i, (a, b) in enumerate(zip(original, mutated, strict=False)) if a != b]
        assert changed and set(changed) <= solution_lines(CELL), m.describe()
    assert solution_lines(CELL) == set(range(7, 19))


def test_each_mutant_compiles_and_differs_from_the_others():
    sources = [m.apply(CELL) for m in mutations(CELL, "train")]
    assert len(sources) == len(set(sources)) and CELL not in sources
    for source in sources:
        ast.parse(source)


def test_keys_survive_edits_elsewhere_and_name_repeats():
    moved = CELL.replace("    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    # a comment\n")
    assert [m.key for m in mutations(CELL, "train")] == [m.key for m in mutations(moved, "train")]
    twice = "def f(a):\n    ### BEGIN SOLUTION\n    return a - a - a\n    ### END SOLUTION\n"
    keys = [m.key for m in mutations(twice, "f") if m.operator == "arith"]
    assert keys == ["f: return a - a - a :: - -> +", "f: return a - a - a :: - -> + #2"]


def test_the_diff_shows_one_changed_line():
    m = next(m for m in mutations(CELL, "train") if m.old == "optimizer.zero_grad()")
    diff = m.diff(CELL)
    assert "-        optimizer.zero_grad()" in diff and "+        pass" in diff
    assert sum(line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
               for line in diff.splitlines()) == 2
    assert m.key == "train: optimizer.zero_grad() :: optimizer.zero_grad() -> pass"


def test_positions_hold_after_non_ascii_text():
    cell = 'def f(x):\n    ### BEGIN SOLUTION\n    return {"é": 1}["é"] + x\n    ### END SOLUTION\n'
    lines = {m.apply(cell).splitlines()[2] for m in mutations(cell, "f")}
    assert '    return {"é": 1}["é"] - x' in lines and '    return {"é": 2}["é"] + x' in lines


def test_no_mutants_without_markers_or_when_the_cell_does_not_parse():
    assert mutations("def f(x):\n    return x + 1\n", "f") == []
    assert mutations("def f(x:\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
                     "f") == []
