"""Fingerprints of code: normalised tokens, hashed k-grams, winnowing.

What survives a copier's edits is the shape of the code, so tokens are normalised before they are
hashed: comments, blank lines and docstrings are dropped, names become `V` (see `Names` for the
few that are kept), literals become `N` and `S`. What a copier cannot rename is kept — builtins,
modules, the library's attributes and keyword arguments (`np.maximum`, `.zero_grad()`,
`axis=1`) — so two honest pairs who called different functions do not look alike. Consecutive runs of K tokens are hashed and winnowed
(Schleimer, Wilkerson & Aiken, SIGMOD 2003): any match of at least K + WINDOW - 1 tokens shares a
fingerprint, and a document keeps about 2 / (WINDOW + 1) of its k-grams.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import io
import keyword
import re
import tokenize
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

K = 12  # tokens per k-gram: about a line of code; shorter matches are coincidence
WINDOW = 6  # winnowing window: every match of K + WINDOW - 1 = 17 tokens is seen
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication by it is a bijection mod 2**64

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_STATEMENT_START = {None, ";", "{", "}"}
# A fallback for text that Python's tokenizer refuses (an unfinished string, bad indentation):
# strings (triple-quoted first), comments, names, numbers, newlines, any other character.
_ROUGH = re.compile(
    r'(?P<STRING>[rRbBuUfF]{0,2}("""[\s\S]*?(?:"""|$)|\'\'\'[\s\S]*?(?:\'\'\'|$)|"[^"\n]*"?|\'[^\'\n]*\'?))'
    r"|(?P<COMMENT>#[^\n]*)|(?P<NAME>[^\W\d]\w*)|(?P<NUMBER>\d[\w.]*)|(?P<NEWLINE>\n)"
    r"|(?P<OP>[^\s\w])")


@dataclass(frozen=True)
class Token:
    text: str  # normalised: a keyword, an operator, a kept name, V, N, S, ; (end of statement)
    start: int  # character offsets in the cell's source, for highlighting
    end: int


@dataclass(frozen=True)
class Names:
    """How one pair's names are normalised, from what its code binds.

    A plain name is kept only when it is a builtin or an imported module or class (`len`, `np`,
    `nn`) that the pair did not rebind; any other — its variables, its functions, the
    instructor's globals, an instruction's placeholder — becomes V. After a dot, a name is the
    library's (`.maximum`, `.zero_grad`) unless the pair assigns that attribute (`self.fc1 = `).
    A keyword argument's name in a call (`axis=1`) is always kept: it is the callee's word.
    """

    attributes: frozenset[str] = frozenset()  # attributes the pair assigns
    kept: frozenset[str] = frozenset()  # builtins and imported names the pair did not rebind

    def within(self, names: set[str]) -> Names:
        """The same rules for a text that uses only `names` (a smaller key for a cache)."""
        return Names(self.attributes & names, self.kept & names)


BUILTINS = frozenset(dir(builtins))


def names_of(sources: list[str], imported: Collection[str] = ()) -> Names:
    """The normalisation for code that binds what `sources` bind; `imported` adds names that
    imports elsewhere bind (the instructor's setup cell)."""
    variables: set[str] = set()
    attributes: set[str] = set()
    imports: set[str] = set(imported)
    for source in sources:
        v, a, i = _bindings(source)
        variables |= v
        attributes |= a
        imports |= i
    return Names(frozenset(attributes), frozenset((BUILTINS | imports) - variables))


def _bindings(source: str) -> tuple[set[str], set[str], set[str]]:
    """(variables, attributes, imported names) a cell binds, at any depth; nothing is executed."""
    text = _blank_magics(source)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        # Unparsable code still binds what looks bound: `name =`, `def name`, `for name`, `as name`.
        found = re.findall(r"(?:\bdef|\bclass|\bfor|\bas)\s+([^\W\d]\w*)|([^\W\d]\w*)\s*=(?!=)", text)
        return {a or b for a, b in found} - set(keyword.kwlist), set(), set()
    variables: set[str] = set()
    attributes: set[str] = set()
    imports: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            variables.add(node.name)
        elif isinstance(node, ast.arg):
            variables.add(node.arg)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            variables.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            attributes.add(node.attr)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imports |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            variables.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            variables.update(node.names)
    return variables, attributes, imports


def _blank_magics(source: str) -> str:
    """IPython lines (%magic, !shell) become spaces: positions stay, nothing is tokenized there."""
    return re.sub(r"(?m)^[ \t]*[%!].*$", lambda m: " " * len(m.group()), source)


def lex(source: str) -> list[tuple[str, str, int, int]]:
    """(kind, string, start, end) of Python's tokenizer, or of a rough regex where it fails;
    IPython lines are left out."""
    text = _blank_magics(source)
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        row, col = pos
        return starts[row - 1] + col if row - 1 < len(starts) else len(text)

    try:
        out = []
        for t in tokenize.generate_tokens(io.StringIO(text).readline):
            if t.type not in _SKIP:
                out.append((tokenize.tok_name[t.type], t.string, offset(t.start), offset(t.end)))
        return out
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return [(m.lastgroup or "", m.group(), m.start(), m.end()) for m in _ROUGH.finditer(text)
                if m.lastgroup != "COMMENT"]


def tokens(source: str, names: Names) -> list[Token]:
    """The normalised tokens of one cell."""
    return normalise(lex(source), names)


def normalise(raw: list[tuple[str, str, int, int]], names: Names) -> list[Token]:
    """Lexed code as fingerprints see it (see the module's docstring and `Names`)."""
    out: list[Token] = []
    calls: list[bool] = []  # per open bracket: is it a call's argument list (not a def's)?
    i = 0
    while i < len(raw):
        kind, text, start, end = raw[i]
        i += 1
        if kind == "FSTRING_START":  # Python >= 3.12 splits f-strings: one S for all of it
            level = 1
            while i < len(raw) and level:
                level += {"FSTRING_START": 1, "FSTRING_END": -1}.get(raw[i][0], 0)
                end = raw[i][3]
                i += 1
            kind = "STRING"
        if kind == "STRING":
            last = out[-1].text if out else None
            following = raw[i][0] if i < len(raw) else "NEWLINE"
            if last in _STATEMENT_START and following == "NEWLINE":
                i += 1  # a docstring (or a bare string): prose, like a comment
                continue
            out.append(Token("S", start, end))
        elif kind == "NUMBER":
            out.append(Token("N", start, end))
        elif kind == "NAME":
            argument = i < len(raw) and raw[i][1] == "=" and bool(calls) and calls[-1]
            out.append(Token(_name(text, out, argument, names), start, end))
        elif kind == "NEWLINE" or text == ";":
            if out and out[-1].text != ";":
                out.append(Token(";", start, end))
        elif kind == "INDENT":
            out.append(Token("{", start, end))
        elif kind == "DEDENT":
            out.append(Token("}", start, end))
        elif text.strip():
            if text in "([{":
                calls.append(text == "(" and not (len(out) > 1 and out[-2].text == "def"))
            elif text in ")]}" and calls:
                calls.pop()
            out.append(Token(text, start, end))
    return out


def _name(text: str, before: list[Token], argument: bool, names: Names) -> str:
    if keyword.iskeyword(text) or argument:  # `axis=1`: the called function's word
        return text
    if before and before[-1].text == ".":
        return "V" if text in names.attributes else text
    return text if text in names.kept else "V"


@functools.lru_cache(maxsize=65536)
def _token_id(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


@functools.lru_cache(maxsize=8)
def _powers(k: int) -> np.ndarray:
    out = np.ones(k, dtype=np.uint64)
    for j in range(k - 2, -1, -1):
        out[j] = out[j + 1] * _BASE  # wraps mod 2**64, as intended
    return out


def kgram_hashes(toks: list[Token], k: int = K) -> np.ndarray:
    """One 64-bit hash per run of k consecutive tokens (position i: tokens i .. i + k - 1); the
    same on every machine and in every process."""
    if len(toks) < k:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((_token_id(t.text) for t in toks), dtype=np.uint64, count=len(toks))
    with np.errstate(over="ignore"):
        return np.lib.stride_tricks.sliding_window_view(ids, k) @ _powers(k)


def winnow(hashes: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Positions of the fingerprints robust winnowing keeps: the smallest hash of each window
    (the rightmost on a tie), each position once, in order."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(hashes) <= window:
        return np.array([len(hashes) - 1 - int(np.argmin(hashes[::-1]))])
    windows = np.lib.stride_tricks.sliding_window_view(hashes, window)
    rightmost = window - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(rightmost + np.arange(len(windows)))
