"""Writes request bodies exactly as tritonclient.http builds them, for request_test.go.

Run with a Python that has tritonclient[http] and numpy:

    python gen.py

Each case is NAME.body (the HTTP body) and NAME.len (the Inference-Header-Content-Length
header, or -1 when tritonclient sends none).
"""

import numpy as np
from tritonclient.http import InferInput, InferRequestedOutput
from tritonclient.http._utils import _get_inference_request


def write(name, inputs, outputs=None, request_id="", timeout=None):
    body, json_size = _get_inference_request(
        inputs=inputs, request_id=request_id, outputs=outputs, sequence_id=0,
        sequence_start=False, sequence_end=False, priority=0, timeout=timeout,
        custom_parameters=None)
    if isinstance(body, str):
        body = body.encode()
    with open(name + ".body", "wb") as f:
        f.write(body)
    with open(name + ".len", "w") as f:
        f.write(str(-1 if json_size is None else json_size))


def tensor(name, array, datatype, binary=True):
    t = InferInput(name, list(array.shape), datatype)
    t.set_data_from_numpy(array, binary_data=binary)
    return t


# The defaults: every input binary, no outputs listed (so binary_data_output).
write("defaults", [
    tensor("INPUT0", np.array([[1.5, -2.25, 3.0, 0.1]], dtype=np.float32), "FP32"),
    tensor("INPUT1", np.array([7, -9], dtype=np.int64), "INT64"),
    tensor("INPUT2", np.array([b"hello", b"", "\u00e9".encode()], dtype=np.object_), "BYTES"),
    tensor("INPUT3", np.array([True, False]), "BOOL"),
    tensor("INPUT4", np.array([1.0, 0.5], dtype=np.float16), "FP16"),
])

# JSON data, requested outputs, an id and a timeout.
write("json", [
    tensor("x", np.array([[1.0, 2.5, -3.0], [0.1, 1e-7, 1e20]], dtype=np.float64), "FP64", binary=False),
    tensor("s", np.array(["a", "b\"c"], dtype=np.object_), "BYTES", binary=False),
    tensor("b", np.array([False, True]), "BOOL", binary=False),
], outputs=[InferRequestedOutput("y", binary_data=False), InferRequestedOutput("z", binary_data=True)],
    request_id="req-7", timeout=5000)

# Binary and JSON inputs mixed.
write("mixed", [
    tensor("a", np.array([1, 2, 3], dtype=np.uint8), "UINT8"),
    tensor("b", np.array([[4, 5]], dtype=np.int32), "INT32", binary=False),
    tensor("c", np.array([2.0], dtype=np.float64), "FP64"),
], outputs=[InferRequestedOutput("y")])
