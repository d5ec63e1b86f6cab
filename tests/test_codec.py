"""The kernel → judge codec: plain data round-trips, anything else is refused or stays a handle."""

import base64
import math

import numpy as np
import pytest
import torch

from autograder import agent, codec


def roundtrip(value):
    return codec.decode(agent.Agent().encode(value))


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**100, 1.5, "text", [1, "a"],
                                   {"a": 1, 2: [3.0]}, (1, (2, 3))])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_special_floats():
    out = roundtrip([math.nan, math.inf, -math.inf])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf


def test_arrays_keep_dtype_shape_and_values():
    for array in (np.arange(12, dtype=np.int32).reshape(3, 4), np.linspace(0, 1, 7),
                  np.array([True, False]), np.zeros((0, 3)), np.float32(2.5)):
        out = roundtrip(array)
        assert np.asarray(out).dtype == np.asarray(array).dtype
        np.testing.assert_array_equal(out, array)


def test_tensors_come_back_on_cpu_with_their_dtype():
    for tensor in (torch.randn(3, 2), torch.arange(5), torch.ones(2, dtype=torch.bfloat16)):
        out = roundtrip(tensor)
        assert isinstance(out, torch.Tensor) and out.dtype == tensor.dtype
        assert torch.equal(out, tensor)


def test_state_dict_is_plain_data():
    model = torch.nn.Linear(3, 2)
    out = roundtrip(model.state_dict())
    assert set(out) == {"weight", "bias"}
    assert torch.equal(out["weight"], model.weight.detach())


def test_other_objects_become_handles_that_refuse_comparison():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    handle = roundtrip(AlwaysEqual())
    assert isinstance(handle, codec.Handle)
    for attempt in (lambda: handle == 1, lambda: bool(handle), lambda: hash(handle),
                    lambda: np.asarray(handle, dtype=float), lambda: list(handle),
                    lambda: float(handle), lambda: 1 in [handle]):
        with pytest.raises(TypeError):
            attempt()
    assert "AlwaysEqual" in repr(handle)


@pytest.mark.parametrize("payload", [
    {"t": "ndarray", "dtype": "|O", "shape": [1], "b64": base64.b64encode(b"\0" * 8).decode()},
    {"t": "ndarray", "dtype": "<U4", "shape": [1], "b64": base64.b64encode(b"\0" * 16).decode()},
    {"t": "ndarray", "dtype": "<f8", "shape": [3], "b64": base64.b64encode(b"\0" * 8).decode()},
    {"t": "ndarray", "dtype": "<f8", "shape": [-1], "b64": ""},
    {"t": "ndarray", "dtype": [("a", "<f8")], "shape": [1], "b64": ""},
    {"t": "tensor", "dtype": "object", "shape": [1], "b64": ""},
    {"t": "pickle", "v": "gASVAAAA"},
    {"t": "int", "v": "__import__('os')"},
    {"t": "float", "v": "1e400000000000000000000000000000000000000000000000000000000000000000"},
    {"t": "dict", "v": [[{"t": "list", "v": []}, 1]]},
    {"no": "tag"},
    12,
    3.5,
])
def test_hostile_payloads_are_refused(payload):
    with pytest.raises(codec.CodecError):
        codec.decode(payload)


def test_depth_and_size_are_bounded():
    deep = None
    for _ in range(100):
        deep = {"t": "list", "v": [deep]}
    with pytest.raises(codec.CodecError):
        codec.decode(deep)
    wide = {"t": "list", "v": [None] * (codec.MAX_ITEMS + 1)}
    with pytest.raises(codec.CodecError):
        codec.decode(wide)


def test_requests_refer_to_kernel_objects_by_reference():
    handle = codec.Handle(7, "x.Model")
    blob = codec.encode_request({"op": "call", "args": (handle, np.ones(2))},
                                ref_of=lambda o: o._ref() if isinstance(o, codec.Handle) else None)
    a = agent.Agent()
    a.handles[7] = "the model"
    request = a.loads(blob)
    assert request["args"][0] == "the model"
    np.testing.assert_array_equal(request["args"][1], np.ones(2))
