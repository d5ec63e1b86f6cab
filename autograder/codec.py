"""What crosses from the kernel to the judge: plain data only, decoded strictly, never executed.

Accepted: None, bool, int, float, str, list, tuple, dict of those, numeric numpy arrays and
scalars, tensors (rebuilt on the CPU). Anything else stays in the kernel behind a Handle, which
the judge can pass back or ask about, but cannot compare, hash or test for truth: an object whose
`__eq__` always says True wins nothing. The other direction (judge → kernel) is trusted and uses
pickle, with kernel objects referred to by persistent ids.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import pickle
from typing import Any

import numpy as np

MAX_DEPTH = 32
MAX_ITEMS = 1_000_000  # containers, all levels together
NUMPY_KINDS = "biufc"
TENSOR_DTYPES = {
    "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8",
    "bool", "complex64", "complex128",
}


class CodecError(ValueError):
    """The kernel sent something that is not plain data of the accepted kinds."""


class NotComparable(TypeError):
    pass


class Handle:
    """A kernel object the judge may use only through the kernel.

    Set up by the judge with a `link` that performs remote operations (see judge.KernelLink).
    """

    __slots__ = ("_id", "_type", "_link")

    def __init__(self, handle_id: int, type_name: str, link: Any = None):
        object.__setattr__(self, "_id", handle_id)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_link", link)

    def _ref(self) -> tuple[str, int]:
        return ("handle", self._id)

    def __repr__(self) -> str:
        return f"<kernel object of type {self._type}>"

    def _refuse(self, *args: Any) -> Any:
        raise NotComparable(
            f"a {self._type} from the student's kernel cannot be compared, hashed or used as a "
            "truth value in the judge; the test must ask for plain data (numbers, arrays, "
            "tensors)"
        )

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse  # type: ignore[assignment]
    __hash__ = __bool__ = __iter__ = __contains__ = __array__ = _refuse  # type: ignore[assignment]
    __float__ = __int__ = __index__ = __complex__ = _refuse  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._link.getattr(self._ref(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("kernel objects are read-only in the judge")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.call(self._ref(), args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._link.getitem(self._ref(), key)

    def __len__(self) -> int:
        n = self._link.len(self._ref())
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise CodecError("len() of a kernel object did not give a non-negative int")
        return n


class _Budget:
    def __init__(self) -> None:
        self.items = 0

    def spend(self, n: int = 1) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise CodecError("too many items in the kernel's answer")


def decode(payload: Any, *, link: Any = None) -> Any:
    """Rebuild plain data from the kernel's JSON, rejecting anything outside the format."""
    return _decode(payload, 0, _Budget(), link)


def _decode(node: Any, depth: int, budget: _Budget, link: Any) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError("the kernel's answer is nested too deeply")
    budget.spend()
    if node is None or isinstance(node, bool):
        return node
    if isinstance(node, str):
        return str(node)
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise CodecError(f"unexpected {type(node).__name__} in the kernel's answer")
    tag = node["t"]
    if tag == "int":
        text = _text(node, "v", 5000)
        try:
            return int(text, 10)
        except ValueError:
            raise CodecError("bad int") from None
    if tag == "float":
        text = _text(node, "v", 64)
        if text not in ("nan", "inf", "-inf"):
            try:
                return float(text)
            except ValueError:
                raise CodecError("bad float") from None
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[text]
    if tag in ("list", "tuple"):
        items = node.get("v")
        if not isinstance(items, list):
            raise CodecError("bad sequence")
        out = [_decode(v, depth + 1, budget, link) for v in items]
        return out if tag == "list" else tuple(out)
    if tag == "dict":
        pairs = node.get("v")
        if not isinstance(pairs, list):
            raise CodecError("bad dict")
        result: dict = {}
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError("bad dict item")
            key = _decode(pair[0], depth + 1, budget, link)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise CodecError("dict keys must be plain values")
            try:
                hash(key)
            except TypeError:
                raise CodecError("dict keys must be hashable plain values") from None
            result[key] = _decode(pair[1], depth + 1, budget, link)
        return result
    if tag == "ndarray":
        dtype = _dtype(_text(node, "dtype", 16))
        array = _array(node, dtype, budget)
        return array[()] if node.get("scalar") is True and array.ndim == 0 else array
    if tag == "tensor":
        return _tensor(node, budget)
    if tag == "handle":
        handle_id = node.get("id")
        if not isinstance(handle_id, int) or isinstance(handle_id, bool):
            raise CodecError("bad handle")
        return Handle(handle_id, _text(node, "type", 200), link)
    raise CodecError(f"unknown tag {tag[:30]!r} in the kernel's answer")


def _text(node: dict, key: str, limit: int) -> str:
    value = node.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise CodecError(f"bad field {key!r}")
    return value


def _dtype(text: str) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise CodecError(f"unknown dtype {text!r}") from None
    # Only plain numeric kinds: never object, void/structured, strings or datetimes.
    if dtype.kind not in NUMPY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise CodecError(f"dtype {text!r} is not numeric")
    return dtype


def _array(node: dict, dtype: np.dtype, budget: _Budget) -> np.ndarray:
    shape = node.get("shape")
    if not isinstance(shape, list) or len(shape) > 32 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise CodecError("bad shape")
    b64 = node.get("b64")
    if not isinstance(b64, str):
        raise CodecError("bad array data")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise CodecError("bad base64 in array") from None
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw):
        raise CodecError("array data does not match its shape and dtype")
    budget.spend(max(1, count // 64))
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _tensor(node: dict, budget: _Budget) -> Any:
    import torch

    name = _text(node, "dtype", 16)
    if name not in TENSOR_DTYPES:
        raise CodecError(f"tensor dtype {name!r} is not accepted")
    # bfloat16 travels as float32 (numpy has no bfloat16) and is cast back here.
    wire = "float32" if name == "bfloat16" else ("bool" if name == "bool" else name)
    array = _array(node, _dtype(np.dtype(wire).str), budget)
    tensor = torch.from_numpy(array)
    return tensor.to(getattr(torch, name)) if name == "bfloat16" else tensor


def encode_request(request: dict, *, ref_of: Any) -> str:
    """Pickle a judge request for the kernel (trusted → untrusted), kernel objects by reference.

    `ref_of(obj)` returns ("name", str) or ("handle", int) for proxies and handles, else None.
    """

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return ref_of(obj)

    buffer = io.BytesIO()
    Pickler(buffer, protocol=4).dump(request)
    return base64.b64encode(buffer.getvalue()).decode()
