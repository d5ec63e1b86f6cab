"""The grader's agent inside the student's kernel: runs the judge's requests, encodes the answers.

This file is shipped as source into the sandboxed kernel (it imports nothing from the package).
Nothing here is trusted: the student can replace any of it. It only has to be useful to an honest
notebook; the judge decodes whatever comes back with a strict codec and never executes it.
Requests come from the trusted judge and may use pickle (trusted → untrusted); answers go back as
JSON (display_data with our MIME type) holding plain data only.
"""

import base64
import io
import itertools
import pickle
import sys
import traceback

RESULT_MIME = "application/vnd.autograder.result+json"
MAX_DEPTH = 32


class Agent:
    def __init__(self):
        self.handles = {}
        self.ids = itertools.count(1)

    # requests -----------------------------------------------------------------------------
    def namespace(self):
        return sys.modules["__main__"].__dict__

    def resolve(self, ref):
        kind, key = ref
        if kind == "name":
            return self.namespace()[key]
        return self.handles[key]

    def loads(self, blob):
        agent = self

        class Unpickler(pickle.Unpickler):
            def persistent_load(self, pid):
                return agent.resolve(pid)

        return Unpickler(io.BytesIO(base64.b64decode(blob))).load()

    def serve(self, nonce, blob):
        from IPython.display import display

        try:
            request = self.loads(blob)
            answer = self.encode(self.handle(request))
        except BaseException as exc:  # noqa: BLE001 - reported to the judge, not raised here
            answer = {"t": "error", "type": type(exc).__name__, "message": str(exc)[:2000],
                      "traceback": traceback.format_exc()[-4000:]}
        display({RESULT_MIME: {"nonce": nonce, "value": answer}}, raw=True)

    def serve_file(self, nonce, path):
        with open(path, encoding="ascii") as fh:
            blob = fh.read()
        self.serve(nonce, blob)

    def handle(self, request):
        op = request["op"]
        if op == "call":
            return self.resolve(request["target"])(*request["args"], **request["kwargs"])
        if op == "value":
            return self.resolve(request["target"])
        if op == "getattr":
            return getattr(self.resolve(request["target"]), request["name"])
        if op == "getitem":
            return self.resolve(request["target"])[request["key"]]
        if op == "len":
            return len(self.resolve(request["target"]))
        if op == "run":
            code = compile(request["source"], request["filename"], "exec")
            scope = dict(self.namespace())
            exec(code, scope)  # noqa: S102 - the judge's trusted scenario, run in the kernel
            return scope[request["name"]](*request["args"], **request["kwargs"])
        if op == "describe":
            out = {}
            ns = self.namespace()
            for name in request["names"]:
                if name not in ns:
                    out[name] = "missing"
                elif callable(ns[name]) or not self.is_plain(ns[name], request["max_bytes"]):
                    out[name] = "object"
                else:
                    out[name] = "value"
            return out
        if op == "release":
            for key in request["ids"]:
                self.handles.pop(key, None)
            return None
        raise ValueError(f"unknown request {op!r}")

    # answers --------------------------------------------------------------------------------
    def is_plain(self, value, max_bytes, depth=0):
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
            return value.dtype.kind in "biufc" and value.nbytes <= max_bytes
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            return value.numel() * value.element_size() <= max_bytes
        return False

    def handle_for(self, value):
        key = next(self.ids)
        self.handles[key] = value
        kind = type(value)
        return {"t": "handle", "id": key, "type": f"{kind.__module__}.{kind.__qualname__}"[:200]}

    def encode(self, value, depth=0):
        if depth > MAX_DEPTH:
            return self.handle_for(value)
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return {"t": "int", "v": str(int(value))}
        if isinstance(value, float):
            return {"t": "float", "v": repr(float(value))}
        if type(value) in (list, tuple):
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
            tensor = value.detach().cpu().contiguous()
            dtype = str(tensor.dtype).replace("torch.", "")
            if dtype == "bfloat16":
                tensor = tensor.float()
            array = tensor.numpy()
            return {"t": "tensor", "dtype": dtype, "shape": list(array.shape),
                    "device": str(value.device), "b64": base64.b64encode(array.tobytes()).decode()}
        return self.handle_for(value)


agent = Agent()
