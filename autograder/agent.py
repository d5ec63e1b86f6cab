"""The grader's agent inside the student's kernel: runs the judge's requests, encodes the answers.

This file is shipped as source into the sandboxed kernel (it imports nothing from the package).
Nothing here is trusted: the student can replace any of it. It only has to be useful to an honest
notebook; the judge decodes whatever comes back with a strict codec and never executes it.
Requests come from the trusted judge and may use pickle (trusted → untrusted); answers go back as
JSON (display_data with our MIME type) holding plain data only.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import inspect
import io
import itertools
import json
import os
import pickle
import sys
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

RESULT_MIME = "application/vnd.autograder.result+json"
# The judge's requests arrive as shell messages of this type, handled by the agent itself: no
# trip through IPython's execution (input transformers, events, the display hook), which cost
# about 2 ms a request, and nothing a student's cell hooked into IPython runs on them.
REQUEST_TYPE = "autograder_request"
# The global random states a test cell may seed (kind: module, function); judge.as_in_the_kernel.
SEEDERS = {"numpy": ("numpy.random", "seed"), "random": ("random", "seed"),
           "torch": ("torch", "manual_seed")}
MAX_DEPTH = 32
MAX_MRO = 32  # classes of an object's type told to the judge
CHUNK_BYTES = 4 * 2**20  # items of one iteration step, encoded, beyond the first


class Raw(dict[str, Any]):
    """An answer already in the wire format (iteration steps): encode passes it through."""


class Agent:
    def __init__(self) -> None:
        self.handles: dict[int, Any] = {}
        self.ids = itertools.count(1)

    # requests -----------------------------------------------------------------------------
    def namespace(self) -> dict[str, Any]:
        return sys.modules["__main__"].__dict__

    def resolve(self, ref: tuple[str, Any]) -> Any:
        kind, key = ref
        if kind == "name":
            return self.namespace()[key]
        if key not in self.handles:
            raise LookupError("this object is no longer in the kernel")
        return self.handles[key]

    def loads(self, blob: str) -> Any:
        agent = self

        class Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                return agent.resolve(pid)

        return Unpickler(io.BytesIO(base64.b64decode(blob))).load()

    def install(self, kernel: Any) -> None:
        """Answer the judge's requests on this kernel's shell channel."""
        kernel.shell_handlers[REQUEST_TYPE] = self.on_request

    def on_request(self, stream: Any, idents: Any, msg: dict[str, Any]) -> None:
        # ipykernel has set this message as the parent of what is printed or displayed, and
        # says busy before and idle after: the judge reads the answer as it reads a cell's.
        content = msg.get("content") or {}
        nonce = str(content.get("nonce", ""))
        if "path" in content:
            self.serve_file(nonce, str(content["path"]))
        else:
            self.serve(nonce, str(content.get("blob", "")))

    def serve(self, nonce: str, blob: str) -> None:
        from IPython.display import display

        message = {RESULT_MIME: {"nonce": nonce, "value": self.answer(blob)}}
        display(message, raw=True)  # type: ignore[no-untyped-call]

    def answer(self, blob: str) -> Any:
        """The JSON answer to one pickled request: its result, encoded, or what it raised."""
        try:
            request = self.loads(blob)
            for key in request.get("release", ()):
                self.handles.pop(key, None)
            with self.grad_mode(request.get("grad")):
                return self.encode(self.handle(request))
        except BaseException as exc:  # noqa: BLE001 - reported to the judge, not raised here
            return self.error(exc)

    def serve_file(self, nonce: str, path: str) -> None:
        with open(path, encoding="ascii") as fh:
            blob = fh.read()
        self.serve(nonce, blob)

    def grad_mode(self, enabled: bool | None) -> AbstractContextManager[Any]:
        """The judge's `torch.no_grad()` around a call holds in the kernel too."""
        torch = sys.modules.get("torch")
        if enabled is None or torch is None:
            return contextlib.nullcontext()
        mode: AbstractContextManager[Any] = torch.set_grad_enabled(bool(enabled))
        return mode

    def error(self, exc: BaseException) -> dict[str, Any]:
        kind = type(exc)
        args = None
        if isinstance(exc.args, tuple) and len(exc.args) <= 8 and all(
                a is None or isinstance(a, bool | int | float) or
                (isinstance(a, str) and len(a) <= 2000) for a in exc.args):
            args = [self.encode(a) for a in exc.args]
        return {"t": "error", "type": kind.__name__, "mro": self.mro(kind),
                "message": str(exc)[:2000], "args": args,
                "traceback": traceback.format_exc()[-4000:]}

    def handle(self, request: dict[str, Any]) -> Any:
        # Kernel objects in a request (its target, arguments) arrive as themselves: the judge
        # pickles its handles as references that persistent_load resolves.
        op = request["op"]
        if op == "call":
            return request["target"](*request["args"], **request["kwargs"])
        if op == "getattr":
            return getattr(request["target"], request["name"])
        if op == "getitem":
            return request["target"][request["key"]]
        if op == "len":
            return len(request["target"])
        if op == "iter":
            target = request["target"]
            it = iter(target)
            answer = self.step(it, request["n"])
            answer["same"] = it is target
            if it is not target:
                answer["iterator"] = self.handle_for(it)
            return answer
        if op == "next":
            return self.step(request["target"], request["n"])
        if op == "isinstance":
            return isinstance(request["obj"], request["target"])
        if op == "issubclass":
            return issubclass(request["obj"], request["target"])
        if op == "names":
            out = {}
            for name in request["names"]:
                out[name] = self.bound(name, request["max_bytes"])
            return Raw(t="names", v=out)
        if op == "source":
            return inspect.getsource(request["target"])
        if op == "signature":
            params = []
            for param in inspect.signature(request["target"]).parameters.values():
                entry = {"name": param.name, "kind": int(param.kind)}
                if param.default is not param.empty:
                    entry["default"] = param.default
                params.append(entry)
            return params
        if op == "seed":
            # The judge's test cell seeded a library: the student's code draws from it here.
            module, attr = SEEDERS[request["kind"]]
            getattr(importlib.import_module(module), attr)(*request["args"], **request["kwargs"])
            return None
        if op == "set":
            self.namespace()[request["name"]] = request["value"]
            return None
        if op == "delete":
            try:
                del self.namespace()[request["name"]]
            except KeyError:
                raise NameError(f"name {request['name']!r} is not defined") from None
            return None
        if op == "put_files":
            return self.put_files(request["files"])
        if op == "run":
            code = compile(request["source"], request["filename"], "exec")
            scope = dict(self.namespace())
            exec(code, scope)  # noqa: S102 - the judge's trusted scenario, run in the kernel
            return scope[request["name"]](*request["args"], **request["kwargs"])
        if op == "release":
            return None
        raise ValueError(f"unknown request {op!r}")

    def bound(self, name: str, max_bytes: int) -> Any:
        ns = self.namespace()
        if name not in ns:
            return {"t": "missing"}
        value = ns[name]
        if callable(value) or not self.is_plain(value, max_bytes):
            return self.object(value)
        return self.encode(value)

    def step(self, it: Iterator[Any], n: int) -> Raw:
        """Up to n items of an iterator (fewer past CHUNK_BYTES), whether it ended, what it raised."""
        items: list[Any] = []
        size, done, error = 0, False, None
        for _ in range(max(1, n)):
            try:
                item = next(it)
            except StopIteration:
                done = True
                break
            except BaseException as exc:  # noqa: BLE001 - the judge raises it after the items
                done, error = True, self.error(exc)
                break
            encoded = self.encode(item)
            items.append(encoded)
            size += self.weight(encoded)
            if size > CHUNK_BYTES:
                break
        return Raw(t="items", v=items, done=done, error=error)

    def weight(self, encoded: Any) -> int:
        """About how many bytes an encoded item takes: scalars cheaply, the rest measured."""
        if encoded is None or isinstance(encoded, bool):
            return 5
        if isinstance(encoded, str):
            return len(encoded) + 2
        if isinstance(encoded, dict) and encoded.get("t") in ("int", "float"):
            return 24 + len(encoded["v"])
        return len(json.dumps(encoded))

    def put_files(self, files: list[tuple[str, bytes]]) -> int:
        """The assignment's files beside the notebook, written into the work dir."""
        root = os.getcwd()
        for relative, data in files:
            path = os.path.join(root, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        return len(files)

    # answers --------------------------------------------------------------------------------
    def is_plain(self, value: Any, max_bytes: int, depth: int = 0) -> bool:
        if depth > MAX_DEPTH:
            return False
        if value is None or isinstance(value, bool | int | float | str):
            return True
        if isinstance(value, list | tuple):
            return all(self.is_plain(v, max_bytes, depth + 1) for v in value[:10000])
        if isinstance(value, dict):
            return all(self.is_plain(k, max_bytes, depth + 1) and self.is_plain(v, max_bytes,
                                                                                 depth + 1)
                       for k, v in list(value.items())[:10000])
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.ndarray | np.generic):
            return bool(value.dtype.kind in "biufc" and value.nbytes <= max_bytes)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return bool(value.numel() * value.element_size() <= max_bytes)
        return False

    def mro(self, kind: Any) -> list[list[str]]:
        try:
            classes = type.mro(kind) if isinstance(kind, type) else []
        except TypeError:
            classes = []
        return [[str(getattr(c, "__module__", ""))[:200], str(getattr(c, "__qualname__", ""))[:200]]
                for c in classes[:MAX_MRO]]

    def handle_for(self, value: Any) -> dict[str, Any]:
        key = next(self.ids)
        self.handles[key] = value
        kind = type(value)
        answer: dict[str, Any] = {"t": "handle", "id": key,
                  "type": f"{kind.__module__}.{kind.__qualname__}"[:200], "mro": self.mro(kind)}
        if isinstance(value, type):
            answer["class_mro"] = self.mro(value)
        return answer

    def object(self, value: Any) -> dict[str, Any]:
        """A kernel object: an exception class travels as its MRO (the judge builds its own)."""
        if isinstance(value, type) and issubclass(value, BaseException):
            return {"t": "exc_class", "mro": self.mro(value)}
        return self.handle_for(value)

    def encode(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, Raw):
            return dict(value)
        if depth > MAX_DEPTH:
            return self.handle_for(value)
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return {"t": "int", "v": str(int(value))}
        if isinstance(value, float):
            return {"t": "float", "v": repr(float(value))}
        if type(value) in (list, tuple) or _is_size(value):
            items = [self.encode(v, depth + 1) for v in value]
            return {"t": "list" if type(value) is list else "tuple", "v": items}
        if isinstance(value, dict):
            return {"t": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in value.items()]}
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.ndarray | np.generic) \
                and value.dtype.kind in "biufc":
            array = np.ascontiguousarray(value)
            return {"t": "ndarray", "dtype": array.dtype.str, "shape": list(array.shape),
                    "scalar": isinstance(value, np.generic),
                    "b64": base64.b64encode(array.tobytes()).decode()}
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return self.tensor(value, torch, depth)
        return self.object(value)

    def tensor(self, value: Any, torch: Any, depth: int) -> dict[str, Any]:
        tensor = value.detach().cpu().contiguous()
        dtype = str(tensor.dtype).replace("torch.", "")
        if dtype == "bfloat16":
            tensor = tensor.float()
        array = tensor.numpy()
        out: dict[str, Any] = {"t": "tensor", "dtype": dtype, "shape": list(array.shape),
               "device": str(value.device), "b64": base64.b64encode(array.tobytes()).decode()}
        # A leaf that requires grad (a parameter) keeps that, and its .grad, as nbgrader tests
        # read them (`p.requires_grad`, `p.grad is not None`); computed tensors come detached.
        if value.is_leaf and value.requires_grad:
            out["requires_grad"] = True
            out["parameter"] = isinstance(value, torch.nn.Parameter)
            if isinstance(value.grad, torch.Tensor) and depth < MAX_DEPTH:
                out["grad"] = self.tensor(value.grad, torch, MAX_DEPTH)
        return out


def _is_size(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and type(value) is torch.Size


agent = Agent()
