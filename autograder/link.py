"""The judge's side of the kernel boundary: requests to the agent, answers decoded, errors rebuilt.

Every request carries pickled judge data into the kernel (trusted → untrusted) and comes back as
JSON decoded by codec.decode: plain data, or handles to kernel objects. An exception raised in the
kernel comes back as its class's names and its text, and is raised here as the same builtin type
(a student's own class becomes a new class with its name and builtin bases), so `except
ValueError` and `pytest.raises` in a test cell behave as they do in nbgrader.
"""

from __future__ import annotations

import inspect
import os
import pickle
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

from . import codec
from .errors import (
    KernelBudget,
    KernelGone,
    KernelTimeout,
    NotAttempted,
    StaleObject,
    StudentError,
)
from .kernel import Kernel
from .messages import RunStatus

MAX_VALUE_BYTES = 64 * 2**20  # a student variable bigger than this stays in the kernel
INLINE_REQUEST_BYTES = 64 * 1024  # bigger requests go through a file
# Round trips one submission's tests may make: reading objects item by item stays far below;
# a test looping over an endless kernel iterator stops here, or at its deadline, first met.
MAX_REQUESTS = 50_000
MAX_CHUNK = 1024  # items fetched per step of an iteration (1, 2, 4, ... up to this)
STUDENT_TEXT = 200  # characters of a student's exception text a student-facing message shows
MISSING = object()  # a name the kernel does not define
PARAMETER_KINDS = (  # by their int values, as the agent sends them
    inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.KEYWORD_ONLY,
    inspect.Parameter.VAR_KEYWORD)


def grad_enabled() -> bool | None:
    """The judge's torch grad mode (None without torch): `with torch.no_grad()` reaches calls."""
    torch = sys.modules.get("torch")
    return bool(torch.is_grad_enabled()) if torch is not None else None


def first_line(text: Any, limit: int = STUDENT_TEXT) -> str:
    """The first non-empty line of a text, capped: what a student sees of text they control."""
    for line in str(text).splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[:limit - 1] + "…"
    return ""


def code_fragments(code: str) -> frozenset[str]:
    """Lines of hidden test code as `withheld` compares them: letters and digits only, so a
    student's repr() or re-wrapping of the code still contains them."""
    out = set()
    for line in code.splitlines():
        flat = _flat(line)
        if len(flat) >= 12 and not line.lstrip().startswith("#"):
            out.add(flat)
    return frozenset(out)


def _flat(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def withheld(text: str, fragments: frozenset[str]) -> bool:
    """Whether text carries a line of hidden test code (e.g. a scenario's source, read with
    inspect in the kernel and raised back)."""
    flat = _flat(text)
    return any(f in flat for f in fragments)


class KernelLink:
    """Requests from the judge to the agent in the kernel, under the current deadline."""

    def __init__(self, kernel: Kernel, *, deadline: Callable[[], float],
                 hidden_code: frozenset[str] = frozenset(), max_requests: int = MAX_REQUESTS):
        self.kernel = kernel
        self.deadline = deadline
        self.hidden_code = hidden_code
        self.max_requests = max_requests
        self.requests = 0
        self._released: list[int] = []
        self._exception_classes: dict[str, type] = {}

    @property
    def generation(self) -> int:
        """Which start of the kernel this is: a handle of another start names nothing."""
        return self.kernel.starts

    def forget(self, handle: codec.Handle) -> None:
        """A handle the judge dropped: the kernel may drop its object (told with the next request)."""
        if handle._gen == self.generation and len(self._released) < 100_000:
            self._released.append(handle._id)

    def _ref_of(self, obj: Any) -> Any:
        if isinstance(obj, codec.Handle):
            if obj._link is not self or obj._gen != self.generation:
                raise StaleObject(f"{obj._label or 'a kernel object'} was made before the kernel "
                                  "restarted; it no longer exists")
            return obj._ref()
        return None

    def request(self, request: dict[str, Any], *, what: str = "", label: str | None = None,
                raw: bool = False) -> Any:
        self.requests += 1
        if self.requests > self.max_requests:
            raise KernelBudget(f"the tests asked the kernel more than {self.max_requests} times")
        remaining = self.deadline() - time.monotonic()
        if remaining <= 0:
            raise KernelTimeout(f"{what}: no time left for this test")
        released, self._released = self._released, []
        request = {**request, "release": released, "grad": grad_enabled()}
        value = self._exchange(codec.encode_request(request, ref_of=self._ref_of),
                               remaining=remaining, what=what)
        if isinstance(value, dict) and value.get("t") == "error":
            raise self.exception(value, what)
        if raw:
            if not isinstance(value, dict):
                raise codec.CodecError(f"unexpected answer to {what}")
            return value
        return codec.decode(value, link=self, label=what if label is None else label)

    def _exchange(self, blob: str, *, remaining: float, what: str) -> Any:
        """Send one pickled request to the agent and return its answer's JSON value."""
        nonce = secrets.token_hex(8)
        exchange = self.kernel.box.ipc_dir if self.kernel.box is not None else None
        content: dict[str, Any] = {"nonce": nonce}
        path = None
        if len(blob) > INLINE_REQUEST_BYTES and exchange is not None:
            # A big argument (a data set, a tensor) travels as a file in the folder the kernel
            # shares with us; the agent reads it from there, and the messages stay small.
            path = exchange / f"request-{nonce}.b64"
            # The kernel owns that folder: never follow or reuse a name it may have planted.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(blob)
            content["path"] = str(path)
        else:
            content["blob"] = blob
        try:
            run = self.kernel.ask_agent(content, timeout=remaining)
        finally:
            if path is not None:
                path.unlink(missing_ok=True)
        if run.status == RunStatus.TIMEOUT:
            raise KernelTimeout(f"{what} ran past the time limit")
        if run.status == RunStatus.DIED or not self.kernel.alive():
            raise KernelGone(f"the kernel died while running {what or 'a test'}")
        answers = [p for p in run.payloads if isinstance(p, dict) and p.get("nonce") == nonce]
        if not answers:
            raise StudentError("NoAnswer", "the notebook's code prevented the call from "
                               f"returning a value ({first_line(run.ename) or 'no answer'})",
                               what)
        return answers[-1].get("value")

    # exceptions --------------------------------------------------------------------------
    def exception_class(self, mro: list[list[str]]) -> type[Exception]:
        """One judge class per kernel exception class for this submission: the class a test
        names (`pytest.raises(ShapeError)`) is the class of what the kernel raises later."""
        key = repr(mro)
        cls = self._exception_classes.get(key)
        if cls is None:
            cls = codec.exception_class(mro)
            if len(self._exception_classes) < 1000:
                self._exception_classes[key] = cls
        return cls

    def exception(self, payload: dict[str, Any], what: str) -> Exception:
        """The kernel's exception, rebuilt in the judge from its names and text (never unpickled)."""
        message = payload.get("message")
        message = message[:2000] if isinstance(message, str) else ""
        try:
            mro = codec._mro(payload.get("mro"))
        except codec.CodecError:
            mro = []
        if not mro:  # a tampered agent: keep the name it gave, as a plain Exception
            mro = [["kernel", str(payload.get("type", "Exception"))[:100]]]
        cls = self.exception_class(mro)
        args = payload.get("args")
        try:
            args = [codec.decode(a) for a in args] if isinstance(args, list) \
                and len(args) <= 8 else None
        except codec.CodecError:
            args = None
        if args is not None and not all(a is None or type(a) in (bool, int, float, str)
                                        for a in args):
            args = None
        if cls is NotImplementedError:
            exc: Exception = NotAttempted(f"{what} is not implemented yet" if what else message)
        else:
            exc = codec.make_exception(cls, args, message)
        text = first_line(message)
        if withheld(message, self.hidden_code):
            text = "[text withheld: it holds hidden test code]"
        tb = payload.get("traceback")
        # Read by scoring.explain: where the student's code raised, and what a student may see.
        exc.autograder_where = what or "your code"  # type: ignore[attr-defined]
        exc.autograder_text = text  # type: ignore[attr-defined]
        exc.autograder_traceback = tb[-4000:] if isinstance(tb, str) else ""  # type: ignore[attr-defined]
        return exc

    # operations on kernel objects --------------------------------------------------------------
    def call(self, target: codec.Handle, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.request({"op": "call", "target": target, "args": args, "kwargs": kwargs},
                            what=target._label or "a kernel object",
                            label=f"{target._label}(...)")

    def getattr(self, target: codec.Handle, name: str) -> Any:
        return self.request({"op": "getattr", "target": target, "name": name},
                            what=f"{target._label}.{name}")

    def getitem(self, target: codec.Handle, key: Any) -> Any:
        return self.request({"op": "getitem", "target": target, "key": key},
                            what=f"{target._label}[...]")

    def len(self, target: codec.Handle) -> Any:
        return self.request({"op": "len", "target": target}, what=f"len({target._label})")

    def iter(self, target: codec.Handle) -> codec.Handle:
        what = f"iter({target._label})"
        answer = self.request({"op": "iter", "target": target, "n": 1}, what=what, raw=True)
        if answer.get("same") is True:
            iterator = target
        else:
            iterator = codec.decode(answer.get("iterator"), link=self, label=what)
            if not isinstance(iterator, codec.Handle):
                raise codec.CodecError(f"{what} did not give an iterator")
        self._take(iterator, answer, chunk=1, what=what)
        return iterator

    def fill(self, iterator: codec.Handle) -> None:
        """The next items of a kernel iterator, in growing chunks: few round trips for a long one,
        little wasted work when a loop stops early, never an endless fetch."""
        what = f"next({iterator._label})"
        answer = self.request({"op": "next", "target": iterator, "n": iterator._chunk},
                              what=what, raw=True)
        self._take(iterator, answer, chunk=iterator._chunk, what=what)

    def _take(self, iterator: codec.Handle, answer: dict[str, Any], *, chunk: int,
              what: str) -> None:
        items = answer.get("v")
        if answer.get("t") != "items" or not isinstance(items, list) or len(items) > MAX_CHUNK:
            raise codec.CodecError(f"unexpected answer to {what}")
        label = f"an item of {iterator._label}"
        decoded = [codec.decode(item, link=self, label=label) for item in items]
        error = answer.get("error")
        if isinstance(error, dict):
            decoded.append(codec.Raised(self.exception(error, what)))
        codec.handle_buffer(iterator, decoded, done=answer.get("done") is True or bool(error),
                            chunk=min(2 * chunk, MAX_CHUNK))

    def source(self, target: codec.Handle) -> str:
        """inspect.getsource of a kernel function or class, run in the kernel."""
        text = self.request({"op": "source", "target": target},
                            what=f"inspect.getsource({target._label})")
        if not isinstance(text, str):
            raise codec.CodecError("the kernel's source of an object is not text")
        return text

    def signature(self, target: codec.Handle) -> inspect.Signature:
        """inspect.signature of a kernel callable, built here from its parameters' names, kinds
        and defaults (decoded as any value from the kernel: nothing is evaluated)."""
        what = f"inspect.signature({target._label})"
        answer = self.request({"op": "signature", "target": target}, what=what)
        if not isinstance(answer, list):
            raise codec.CodecError(f"unexpected answer to {what}")
        params = []
        for entry in answer:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                    or entry.get("kind") not in range(len(PARAMETER_KINDS)):
                raise codec.CodecError(f"unexpected answer to {what}")
            default = entry.get("default", inspect.Parameter.empty)
            params.append(inspect.Parameter(entry["name"], PARAMETER_KINDS[entry["kind"]],
                                            default=default))
        return inspect.Signature(params)

    def isinstance(self, cls: codec.Handle, obj: Any) -> bool:
        return self.request({"op": "isinstance", "target": cls, "obj": obj},
                            what=f"isinstance(..., {cls._label})") is True

    def issubclass(self, cls: codec.Handle, obj: Any) -> bool:
        return self.request({"op": "issubclass", "target": cls, "obj": obj},
                            what=f"issubclass(..., {cls._label})") is True

    # names --------------------------------------------------------------------------------
    def names(self, names: list[str]) -> dict[str, Any]:
        """Each name's value in the kernel: plain data, a handle, or MISSING; one round trip."""
        answer = self.request({"op": "names", "names": sorted(names),
                               "max_bytes": MAX_VALUE_BYTES}, what="the notebook's names",
                              raw=True)
        found = answer.get("v")
        if answer.get("t") != "names" or not isinstance(found, dict):
            raise codec.CodecError("unexpected answer for the notebook's names")
        out = {}
        for name in names:
            payload = found.get(name, {"t": "missing"})
            out[name] = MISSING if payload == {"t": "missing"} else \
                codec.decode(payload, link=self, label=name)
        return out

    def set_name(self, name: str, value: Any) -> None:
        try:
            self.request({"op": "set", "name": name, "value": value}, what=f"{name} = ...")
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            if getattr(exc, "autograder_where", None) is not None:
                raise
            # pickle refused a judge object (a function defined in the test): say so plainly.
            raise TypeError(f"the test assigns {name}, a student's name, a value the judge cannot "
                            f"send to the student's kernel ({type(exc).__name__}: {exc}); assign "
                            "plain data or an object from the kernel") from None

    def seed(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Seed the kernel's global random state of `kind` (agent.SEEDERS) as the judge's was."""
        self.request({"op": "seed", "kind": kind, "args": args, "kwargs": kwargs},
                     what=f"seeding the kernel's {kind} random state")

    def delete_name(self, name: str) -> None:
        self.request({"op": "delete", "name": name}, what=f"del {name}")

    # scenarios and files --------------------------------------------------------------------
    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not inspect.isfunction(fn):
            raise TypeError("in_kernel() takes a function defined in the test cell")
        source = inspect.getsource(fn)
        return self.request({"op": "run", "source": source, "filename": f"<scenario {fn.__name__}>",
                             "name": fn.__name__, "args": args, "kwargs": kwargs},
                            what=f"scenario {fn.__name__}()")

    def put_files(self, files: list[tuple[str, bytes]]) -> None:
        """The assignment's files beside the notebook, into the kernel's work dir."""
        if files:
            self.request({"op": "put_files", "files": files},
                         what="copying the assignment's files into the kernel")
