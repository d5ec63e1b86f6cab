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
import collections
import contextlib
import io
import math
import pickle
import re
import sys
from typing import Any

import numpy as np

from .errors import CodecError as CodecError  # link and judge read it here too
from .errors import NotComparable as NotComparable

MAX_DEPTH = 32
MAX_ITEMS = 1_000_000  # containers, all levels together
MAX_MRO = 32  # classes of a kernel object's type looked at
MAX_HANDLE_TYPES = 512  # Handle subclasses named after kernel types, kept per grader process
NUMPY_KINDS = "biufc"
TENSOR_DTYPES = {
    "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8",
    "bool", "complex64", "complex128",
}


# Classes the kernel names --------------------------------------------------------------------


def judge_class(module: Any, qualname: Any) -> type | None:
    """The class the JUDGE already has under that name, if any: never imports, never __main__.

    Only dictionaries are read (a module's or a class's own), so no module `__getattr__` (which
    may import) and no descriptor runs; the class found must carry the very name it was asked by.
    """
    if not (isinstance(module, str) and isinstance(qualname, str)) or module in ("", "__main__"):
        return None
    found: Any = sys.modules.get(module)
    if found is None:
        return None
    for part in qualname.split("."):
        try:
            found = vars(found).get(part)
        except TypeError:
            return None
        if found is None:
            return None
    if isinstance(found, type) and found.__module__ == module and found.__qualname__ == qualname:
        return found
    return None


def judge_classes(mro: Any) -> list[type]:
    """The classes of a kernel MRO (pairs of module, qualname) that the judge has, in order."""
    if not isinstance(mro, list):
        return []
    out = []
    for entry in mro[:MAX_MRO]:
        if isinstance(entry, list) and len(entry) == 2:
            cls = judge_class(*entry)
            if cls is not None and cls is not object and cls not in out:
                out.append(cls)
    return out


def _identifier(text: Any, default: str) -> str:
    name = re.sub(r"\W", "_", str(text).rsplit(".", 1)[-1])[:64]
    return name if name.isidentifier() else default


def _own_name(mro: Any, default: str) -> tuple[str, str]:
    """(module, name) of the first class of a kernel MRO, as safe identifiers."""
    if isinstance(mro, list) and mro and isinstance(mro[0], list) and len(mro[0]) == 2:
        module = ".".join(_identifier(p, "_") for p in str(mro[0][0]).split(".")[:8])[:200]
        return module or "kernel", _identifier(mro[0][1], default)
    return "kernel", default


def _most_derived(classes: list[type]) -> list[type]:
    return [c for c in classes if not any(d is not c and issubclass(d, c) for d in classes)]


def exception_class(mro: Any) -> type[Exception]:
    """The judge's class for an exception class of the kernel, from its MRO.

    A builtin exception is itself (ValueError stays ValueError); a student's class becomes a new
    class with its name, subclass of its builtin bases: `except ValueError` and
    `pytest.raises(ValueError)` behave as in the kernel. Never a BaseException-only type
    (SystemExit, KeyboardInterrupt, GeneratorExit): those become plain Exceptions with their name.
    """
    builtin = [c for c in judge_classes(mro) if c.__module__ == "builtins"
               and issubclass(c, Exception)]
    module, name = _own_name(mro, "KernelError")
    own = judge_class(*mro[0]) if isinstance(mro, list) and mro and isinstance(mro[0], list) \
        and len(mro[0]) == 2 else None
    if own is not None and own.__module__ == "builtins" and issubclass(own, Exception):
        return own
    bases = tuple(_most_derived(builtin)) or (Exception,)
    for candidate in (bases, bases[:1], (Exception,)):
        try:
            return type(name, candidate, {"__module__": module, "__qualname__": name})
        except TypeError:  # incompatible layouts of two builtin bases
            continue
    return Exception


def make_exception(cls: type[Exception], args: Any, message: str) -> Exception:
    """An instance of cls with the kernel's arguments (plain, decoded), or its first base that
    accepts the message: UnicodeDecodeError needs five arguments, its base ValueError one."""
    tries = ([tuple(args)] if isinstance(args, list) else []) + [(message,)]
    for kind in [c for c in cls.__mro__ if issubclass(c, Exception)]:
        for attempt in tries:
            try:
                exc = kind(*attempt)
            except Exception:  # noqa: BLE001 - a builtin constructor refusing these arguments
                continue
            if isinstance(exc, kind):
                return exc
    return Exception(message)


# Handles -------------------------------------------------------------------------------------

_HANDLE_TYPES: dict[str, type] = {}


def _handle_type(name: str) -> type[Handle]:
    """A Handle subclass named like the kernel's type, so `type(x).__name__` in a test's message
    says `MLP`, not `Handle`. Our own base class only: no foreign metaclass runs."""
    cls = _HANDLE_TYPES.get(name)
    if cls is None:
        if len(_HANDLE_TYPES) >= MAX_HANDLE_TYPES:
            _HANDLE_TYPES.clear()  # a kernel naming many types only costs new classes
        # type() gives every class its own __doc__ (None): keep the kernel's (see Handle).
        cls = _HANDLE_TYPES[name] = type(name, (Handle,), {
            "__slots__": (), "__doc__": Handle.__dict__["__doc__"]})
    return cls


# Dunder attributes a test reads of a student's function or class (`f.__name__`): asked to the
# kernel like any attribute. Others (`__class__`, `__eq__`, ...) are the handle's own or refused.
KERNEL_DUNDERS = frozenset({"__name__", "__qualname__", "__module__"})


class Handle:
    """A kernel object the judge may read only through the kernel.

    What a test does to read a student's object works, each step answered by the kernel as plain
    data or another handle: attributes, calls, `len`, indexing, iteration (fetched in growing
    chunks), `next`, `isinstance` (against the student's classes: asked to the kernel; against
    the judge's own library classes: by the names of the kernel's MRO). What would trust the
    object is refused: comparison, hashing, truth value, conversion to numbers or arrays, copies.
    Set up by the judge with a `link` that performs remote operations (see link.KernelLink).
    """

    __slots__ = ("_id", "_type", "_link", "_mro", "_class_mro", "_label", "_gen", "_buffer",
                 "_done", "_chunk", "__weakref__")

    def __init__(self, handle_id: int, type_name: str, link: Any = None, *, mro: Any = None,
                 class_mro: Any = None, label: str = "", generation: int = 0):
        for key, value in (("_id", handle_id), ("_type", type_name), ("_link", link),
                           ("_mro", mro if isinstance(mro, list) else []),
                           ("_class_mro", class_mro if isinstance(class_mro, list) else None),
                           ("_label", label[:120]), ("_gen", generation), ("_buffer", None),
                           ("_done", False), ("_chunk", 1)):
            object.__setattr__(self, key, value)

    def _ref(self) -> tuple[str, int]:
        return ("handle", self._id)

    def _remote(self) -> Any:
        if self._link is None:
            raise TypeError(f"this {self._type} is not connected to a kernel")
        return self._link

    def __repr__(self) -> str:
        return f"<kernel object of type {self._type}>"

    def _refuse(self, *args: Any) -> Any:
        raise NotComparable(self._type)

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __bool__ = __array__ = _refuse
    __float__ = __int__ = __index__ = __complex__ = _refuse
    __reduce__ = __reduce_ex__ = __copy__ = __deepcopy__ = _refuse

    def __del__(self) -> None:
        link = self._link
        if link is not None:
            with contextlib.suppress(Exception):  # e.g. at interpreter exit
                link.forget(self)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # isinstance(h, torch.nn.Module) looks here once type(h) does not match.
        classes = judge_classes(self._mro)
        return classes[0] if classes else type(self)

    @property
    def __bases__(self) -> tuple[type, ...]:
        # issubclass(StudentModel, torch.nn.Module) walks this for a class that is a handle.
        if self._class_mro is None:
            raise AttributeError("__bases__")
        return tuple(judge_classes(self._class_mro[1:])) or (object,)

    def __instancecheck__(self, obj: Any) -> bool:
        return bool(self._remote().isinstance(self, obj))

    def __subclasscheck__(self, cls: Any) -> bool:
        return bool(self._remote().issubclass(self, cls))

    def __getattr__(self, name: str) -> Any:
        if (name.startswith("__") and name not in KERNEL_DUNDERS) or name in Handle.__slots__:
            raise AttributeError(name)
        return self._remote().getattr(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("kernel objects are read-only in the judge")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote().call(self, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._remote().getitem(self, key)

    def __len__(self) -> int:
        n = self._remote().len(self)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise CodecError("len() of a kernel object did not give a non-negative int")
        return n

    def __iter__(self) -> Handle:
        iterator: Handle = self._remote().iter(self)
        return iterator

    def __next__(self) -> Any:
        buffer = self._buffer
        if not buffer:
            if self._done:
                raise StopIteration
            self._remote().fill(self)
            buffer = self._buffer
            if not buffer:
                object.__setattr__(self, "_done", True)
                raise StopIteration
        item = buffer.popleft()
        if type(item) is Raised:  # not isinstance: a handle may claim any class
            object.__setattr__(self, "_done", True)
            buffer.clear()
            raise item.exc
        return item


# The docstring a test reads (`assert f.__doc__`) is the kernel object's, not this class's.
Handle.__doc__ = property(lambda self: self._remote().getattr(self, "__doc__"))  # type: ignore[assignment]


class Raised:
    """In an iterator's buffer: the exception the kernel's iterator raised after the items."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


def handle_buffer(handle: Handle, items: list[Any], *, done: bool, chunk: int) -> None:
    """Append fetched items to an iterator handle's buffer (the judge's link calls this)."""
    buffer = handle._buffer
    if buffer is None:
        buffer = collections.deque()
        object.__setattr__(handle, "_buffer", buffer)
    buffer.extend(items)
    object.__setattr__(handle, "_done", bool(done))
    object.__setattr__(handle, "_chunk", chunk)


class _Budget:
    def __init__(self, label: str = "") -> None:
        self.items = 0
        self.label = label

    def spend(self, n: int = 1) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise CodecError("too many items in the kernel's answer")


def decode(payload: Any, *, link: Any = None, label: str = "") -> Any:
    """Rebuild plain data from the kernel's JSON, rejecting anything outside the format.

    `label` names where a handle came from (`model.parameters()`), for messages.
    """
    return _decode(payload, 0, _Budget(label), link)


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
        result: dict[Any, Any] = {}
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
        type_name = _text(node, "type", 200)
        mro, class_mro = _mro(node.get("mro")), node.get("class_mro")
        cls = _handle_type(_identifier(type_name, "KernelObject"))
        return cls(handle_id, type_name, link, mro=mro,
                   class_mro=None if class_mro is None else _mro(class_mro),
                   label=budget.label, generation=getattr(link, "generation", 0))
    if tag == "exc_class":
        mro = _mro(node.get("mro"))
        return link.exception_class(mro) if link is not None else exception_class(mro)
    raise CodecError(f"unknown tag {tag[:30]!r} in the kernel's answer")


def _mro(value: Any) -> list[list[str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_MRO or not all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(s, str) and len(s) <= 200
                                                        for s in e) for e in value):
        raise CodecError("bad class list")
    return value


def _text(node: dict[str, Any], key: str, limit: int) -> str:
    value = node.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise CodecError(f"bad field {key!r}")
    return value


def _dtype(text: str) -> np.dtype[Any]:
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise CodecError(f"unknown dtype {text!r}") from None
    # Only plain numeric kinds: never object, void/structured, strings or datetimes.
    if dtype.kind not in NUMPY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise CodecError(f"dtype {text!r} is not numeric")
    return dtype


def _array(node: dict[str, Any], dtype: np.dtype[Any], budget: _Budget) -> np.ndarray[Any, Any]:
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


def _tensor(node: dict[str, Any], budget: _Budget, *, inner: bool = False) -> Any:
    import torch

    name = _text(node, "dtype", 16)
    if name not in TENSOR_DTYPES:
        raise CodecError(f"tensor dtype {name!r} is not accepted")
    # bfloat16 travels as float32 (numpy has no bfloat16) and is cast back here.
    wire = "float32" if name == "bfloat16" else ("bool" if name == "bool" else name)
    array = _array(node, _dtype(np.dtype(wire).str), budget)
    tensor = torch.from_numpy(array)
    if name == "bfloat16":
        tensor = tensor.to(torch.bfloat16)
    if node.get("requires_grad") is True and tensor.is_floating_point() and not inner:
        # A parameter, as tests read it: requires_grad, its .grad if the kernel had one.
        grad = node.get("grad")
        tensor = torch.nn.Parameter(tensor) if node.get("parameter") is True \
            else tensor.requires_grad_(True)
        if grad is not None:
            grad = _tensor(grad, budget, inner=True) if isinstance(grad, dict) else None
            if grad is None or grad.shape != tensor.shape or grad.dtype != tensor.dtype \
                    or grad.requires_grad:
                raise CodecError("a tensor's grad does not match it")
            tensor.grad = grad
    return tensor


def encode_request(request: dict[str, Any], *, ref_of: Any) -> str:
    """Pickle a judge request for the kernel (trusted → untrusted), kernel objects by reference.

    `ref_of(obj)` returns ("name", str) or ("handle", int) for proxies and handles, else None.
    """

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            return ref_of(obj)

    buffer = io.BytesIO()
    Pickler(buffer, protocol=4).dump(request)
    return base64.b64encode(buffer.getvalue()).decode()
