"""mlship's worker for MLflow pyfunc models.

Run as `python -u mlship_worker.py MODEL_DIR`. It loads the model with
mlflow.pyfunc.load_model, reports its metadata, then answers predict requests one at a
time, in the worker protocol of docs/worker-protocol.md, on its stdin and stdout. The
model's own prints go to stderr, which the server logs.

Environment:
  MLSHIP_MODEL_DIR   the model directory, when it is not given as the argument
  MLSHIP_BATCHABLE   "true" or "false": overrides whether requests may be batched
"""

import enum
import inspect
import json
import os
import struct
import sys
import traceback

PROTOCOL = 1
_U32 = struct.Struct("<I")
_IOV_MAX = 512

# OIP datatype -> numpy dtype, little-endian. BF16 and BYTES are decoded by hand.
_DTYPES = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}
# numpy (kind, itemsize) -> OIP datatype.
_DATATYPES = {
    ("b", 1): "BOOL", ("u", 1): "UINT8", ("u", 2): "UINT16", ("u", 4): "UINT32",
    ("u", 8): "UINT64", ("i", 1): "INT8", ("i", 2): "INT16", ("i", 4): "INT32",
    ("i", 8): "INT64", ("f", 2): "FP16", ("f", 4): "FP32", ("f", 8): "FP64",
}
# MLflow column types -> OIP datatype; anything else (arrays, objects, maps) is BYTES.
_COLUMN_TYPES = {
    "boolean": "BOOL", "integer": "INT32", "long": "INT64", "float": "FP32",
    "double": "FP64", "string": "BYTES", "binary": "BYTES", "datetime": "BYTES",
}
# The pyfunc loaders whose predictions are row-wise by the library's contract, so that
# rows of different requests may share a batch. A custom PythonModel (mlflow.pyfunc.model)
# or a network's forward may compute across rows (x - mean(x)): such a model is batched
# only when it declares itself row-wise (metadata mlship_batchable).
_ROW_WISE = {
    "mlflow.sklearn", "mlflow.xgboost", "mlflow.lightgbm", "mlflow.catboost",
    "mlflow.onnx", "mlflow.h2o",
}
# MLflow error codes that mean the input is the caller's mistake.
_CLIENT_CODES = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST"}


# A request parameter asking for a classifier's probabilities beside its predictions.
PROBA_PARAM = "mlship.predict_proba"


def _missing(x):
    """Whether x is a missing value: None, a float NaN (numpy's too), pandas' NA or NaT."""
    if x is None:
        return True
    if type(x).__name__ in ("NAType", "NaTType"):
        return True
    floating = isinstance(x, float) or type(x).__name__ in ("float16", "float32")
    return floating and x != x


def _label(c):
    """A class label as mlship compares labels: integral numbers without a fraction,
    booleans as true/false, strings as they are."""
    if isinstance(c, (bool,)) or type(c).__name__ == "bool_":
        return "true" if c else "false"
    if isinstance(c, (bytes, bytearray)):
        return c.decode("utf-8", "replace")
    if isinstance(c, str):
        return c
    try:
        f = float(c)
    except (TypeError, ValueError):
        return str(c)
    if f.is_integer() and abs(f) < 2**53:
        return str(int(f))
    return repr(f)


def column_type(t):
    """The name of an MLflow column type ("double", "string"), or None for the
    composite types (arrays, objects, maps)."""
    return t.name if isinstance(t, enum.Enum) else None


def fit(arr, shape):
    """arr reshaped to a signature's shape (-1 for any size) when it holds the right
    number of elements in another shape, as a flattened image does; else arr."""
    if shape is None or arr.shape == shape or list(shape).count(-1) > 1:
        return arr
    known = 1
    for d in shape:
        known *= d if d != -1 else 1
    if known and arr.size % known == 0 and (-1 in shape or arr.size == known):
        return arr.reshape(shape)
    return arr


class ClientError(Exception):
    """The request cannot be turned into the model's input."""


def main():
    rin, wfd = claim_stdio()
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MLSHIP_MODEL_DIR", "")
    try:
        worker = Worker(model_dir)
    except Exception as e:  # the server shows this text to whoever loads the model
        traceback.print_exc()
        send(wfd, {"ok": False, "error": "".join(traceback.format_exception_only(e)).strip()})
        return 1
    send(wfd, worker.ready())
    serve(rin, wfd, worker)
    return 0


def claim_stdio():
    """Keep fds 0 and 1 for the protocol and point the process's stdin at /dev/null and
    its stdout at stderr, so that nothing a model prints, even from C, can corrupt a
    frame."""
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(rfd, "rb", buffering=1 << 16), wfd


def serve(rin, wfd, worker):
    """Answer requests until stdin closes."""
    read = rin.read
    loads = json.loads
    unpack = _U32.unpack
    while True:
        prefix = read(4)
        if not prefix:
            return
        if len(prefix) != 4:
            raise EOFError("stdin closed inside a frame")
        header = loads(read_exact(rin, unpack(prefix)[0]))
        op = header.get("op")
        if op == "predict":
            specs = header.get("inputs") or ()
            payload = read_payload(rin, sum(s["nbytes"] for s in specs))
            reply, buffers = worker.predict(header, specs, payload)
        elif op == "ping":
            reply, buffers = {"ok": True}, ()
        else:
            reply, buffers = {"ok": False, "error": "unknown op %r" % (op,)}, ()
        send(wfd, reply, buffers)


def read_exact(rin, n):
    data = rin.read(n)
    if len(data) != n:
        raise EOFError("stdin closed inside a frame")
    return data


def read_payload(rin, n):
    """Read n bytes into a writable buffer, so that arrays made on it are writable."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = rin.readinto(view[got:])
        if not k:
            raise EOFError("stdin closed inside a frame")
        got += k
    return buf


def send(wfd, header, buffers=()):
    """Write one frame with as few system calls as the pipe allows."""
    h = json.dumps(header, separators=(",", ":")).encode()
    parts = [_U32.pack(len(h)), h]
    parts.extend(buffers)
    while parts:
        n = os.writev(wfd, parts[:_IOV_MAX])
        i = 0
        while i < len(parts) and n >= len(parts[i]):
            n -= len(parts[i])
            i += 1
        parts = parts[i:]
        if n:
            parts[0] = memoryview(parts[0])[n:]


class Worker:
    """A loaded model and what is needed to feed it."""

    def __init__(self, model_dir):
        import numpy
        import pandas
        import mlflow.pyfunc
        from mlflow.exceptions import MlflowException

        self.np, self.pd, self.mlflow_exception = numpy, pandas, MlflowException
        self.model = mlflow.pyfunc.load_model(model_dir)
        self.info = self.model.metadata
        schema = self.info.get_input_schema()
        self.columns = None  # the signature's column names, for a column-based signature
        self.binary = set()  # its binary columns, which stay bytes
        self.shapes = {}  # a tensor-based signature's shapes, by input name
        if schema is not None and not schema.is_tensor_spec():
            self.columns = [c.name if c.name is not None else str(i) for i, c in enumerate(schema.inputs)]
            self.binary = {c.name for c in schema.inputs if column_type(c.type) == "binary"}
        elif schema is not None:
            self.shapes = {s.name: tuple(s.shape) for s in schema.inputs}
        self.dtypes = {k: numpy.dtype(v) for k, v in _DTYPES.items()}
        self.direct = self.direct_predict()

    def ready(self):
        inputs, columns = self.specs(self.info.get_input_schema())
        outputs, _ = self.specs(self.info.get_output_schema(), unnamed="predictions")
        if inputs is None:
            inputs = [{"name": "input", "datatype": "FP64", "shape": [-1, -1]}]
        return {
            "ok": True, "protocol": PROTOCOL, "platform": "mlflow_pyfunc",
            "inputs": inputs, "outputs": outputs or [], "columns": columns,
            "batchable": self.batchable(),
        }

    def specs(self, schema, unnamed="input"):
        """The tensor specs of a signature's schema, and whether it is column-based.
        Unnamed tensors are named as predict answers with them: an output is
        "predictions", inputs "input-0", "input-1"..."""
        if schema is None:
            return None, False
        if schema.is_tensor_spec():
            def name(s, i):
                if s.name is not None:
                    return s.name
                if unnamed == "predictions" and len(schema.inputs) == 1:
                    return unnamed
                return "%s-%d" % (unnamed, i)
            return [{
                "name": name(s, i),
                "datatype": _DATATYPES.get((s.type.kind, s.type.itemsize), "BYTES"),
                "shape": [int(d) for d in s.shape],
            } for i, s in enumerate(schema.inputs)], False
        specs = []
        for i, c in enumerate(schema.inputs):
            spec = {
                "name": c.name if c.name is not None else str(i),
                "datatype": _COLUMN_TYPES.get(column_type(c.type), "BYTES"),
                "shape": [-1],
            }
            if not getattr(c, "required", True):
                spec["optional"] = True
            specs.append(spec)
        return specs, True

    def batchable(self):
        override = os.environ.get("MLSHIP_BATCHABLE")
        if override is None:
            override = (self.info.metadata or {}).get("mlship_batchable")
        if override is not None:
            return str(override).strip().lower() in ("1", "true", "yes")
        loader = (self.info.flavors.get("python_function") or {}).get("loader_module")
        return loader in _ROW_WISE

    def direct_predict(self):
        """MLflow's PyFuncModel.predict for the flavors of _ROW_WISE, less the work it
        repeats on every call although its outcome never changes: reading the schemas
        from the metadata, inspecting the flavor's predict for a params argument, and
        setting up the prediction context, which only tracing reads and these flavors
        do not trace. The data goes through the same schema enforcement
        (_validate_prediction_input) to the same predict function, so answers and
        errors are the same; on one row the call costs a fifth less. None for any other
        model, or an MLflow whose internals differ: model.predict is used then."""
        loader = (self.info.flavors.get("python_function") or {}).get("loader_module")
        if loader not in _ROW_WISE:
            return None
        try:
            from mlflow.pyfunc import _validate_prediction_input

            meta = self.model.metadata
            if (meta._is_signature_from_type_hint() or meta._is_type_hint_from_example()
                    or "dependencies_schemas" in (meta.metadata or {})):
                return None
            fn = self.model._predict_fn
            input_schema, params_schema = meta.get_input_schema(), meta.get_params_schema()
            module = self.model.loader_module
            arg = inspect.signature(fn).parameters.get("params")
            takes_params = arg is not None and arg.kind != inspect.Parameter.VAR_KEYWORD
        except Exception:
            return None
        if params_schema is not None and not takes_params:
            return None  # model.predict warns about the schema's params on each call

        def predict(data):
            data, params = _validate_prediction_input(data, None, input_schema, params_schema, module)
            return fn(data, params=params) if takes_params else fn(data)
        return predict

    def predict(self, header, specs, payload):
        try:
            try:
                data = self.model_input(header.get("layout"), self.decode(specs, payload))
            except Exception as e:
                raise ClientError(str(e)) from e
            params = dict(header.get("params") or {})
            proba = params.pop(PROBA_PARAM, False)
            if params:
                result = self.model.predict(data, params=params)
            elif self.direct is not None:
                result = self.direct(data)
            else:
                result = self.model.predict(data)
            if proba:
                result = self.with_probabilities(data, result)
            return self.encode(result)
        except Exception as e:
            return self.failure(e), ()

    def with_probabilities(self, data, result):
        """A classifier's predictions with its class probabilities and classes, as
        mlflow.evaluate takes them from predict_proba; the predictions alone when the
        model has no predict_proba."""
        np = self.np
        inner = self.classifier()
        if inner is None:
            return result
        proba = np.asarray(inner.predict_proba(data), dtype="<f8")
        labels = np.asarray(result)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        classes = np.asarray([_label(c) for c in inner.classes_], dtype=object)
        return {"predictions": labels, "probabilities": proba, "classes": classes}

    def classifier(self):
        """The model under the pyfunc wrapper when it has predict_proba and classes_."""
        impl = getattr(self.model, "_model_impl", None)
        for inner in (getattr(impl, "sklearn_model", None), impl, getattr(impl, "python_model", None)):
            if inner is not None and hasattr(inner, "predict_proba") and hasattr(inner, "classes_"):
                return inner
        return None

    def failure(self, e):
        client = isinstance(e, (ClientError, ValueError, TypeError, KeyError))
        if isinstance(e, self.mlflow_exception):
            client = e.error_code in _CLIENT_CODES
            message = e.message
        elif isinstance(e, (ClientError, KeyError)):
            message = str(e)
        else:
            message = "%s: %s" % (type(e).__name__, e)
        if not client:
            traceback.print_exc()
        return {"ok": False, "error": message, "client_error": client}

    def decode(self, specs, payload):
        """The request's tensors as (name, numpy array) pairs, on the payload's memory."""
        np, out, off = self.np, [], 0
        for s in specs:
            n, dt, shape = s["nbytes"], s["datatype"], s["shape"]
            if dt == "BYTES":
                arr = self.decode_strings(payload, off, n, s["name"] in self.binary)
            elif dt == "BF16":
                arr = (np.frombuffer(payload, "<u2", n // 2, off).astype("<u4") << 16).view("<f4")
            else:
                dtype = self.dtypes.get(dt)
                if dtype is None:
                    raise ClientError("input %r: unsupported datatype %s" % (s["name"], dt))
                arr = np.frombuffer(payload, dtype, n // dtype.itemsize, off)
            out.append((s["name"], arr.reshape(shape)))
            off += n
        return out

    def decode_strings(self, payload, off, n, binary):
        end, items, unpack = off + n, [], _U32.unpack_from
        while off < end:
            k = unpack(payload, off)[0]
            b = bytes(payload[off + 4:off + 4 + k])
            off += 4 + k
            if not binary:
                try:
                    b = b.decode()
                except UnicodeDecodeError:
                    pass
            items.append(b)
        arr = self.np.empty(len(items), dtype=object)
        arr[:] = items
        return arr

    def model_input(self, layout, tensors):
        """Turn tensors into what pyfunc models take: a DataFrame, an array or a dict."""
        if layout == "columns":
            return self.frame(tensors)
        if self.columns is not None:
            if len(tensors) > 1:
                return self.frame(tensors)
            arr = tensors[0][1] if tensors else None
            if arr is not None and arr.ndim == 2 and arr.shape[1] == len(self.columns):
                return self.pd.DataFrame(arr, columns=self.columns)
            if arr is not None and arr.ndim == 1 and len(self.columns) == 1:
                return self.pd.DataFrame({self.columns[0]: arr})
            return arr
        if len(tensors) == 1:
            name, arr = tensors[0]
            shape = next(iter(self.shapes.values())) if len(self.shapes) == 1 else None
            return fit(arr, shape)
        return {name: fit(arr, self.shapes.get(name)) for name, arr in tensors}

    def frame(self, tensors):
        cols = [self.column(arr) for _, arr in tensors]
        names = [name for name, _ in tensors]
        dtype = getattr(cols[0], "dtype", None) if cols else None
        if (len(cols) > 1 and dtype is not None and dtype.kind in "biuf"
                and all(getattr(c, "dtype", None) == dtype and c.ndim == 1 for c in cols)):
            # One 2-D block is several times faster to build than a column per block.
            return self.pd.DataFrame(self.np.column_stack(cols), columns=names)
        return self.pd.DataFrame(dict(zip(names, cols)))

    @staticmethod
    def column(arr):
        if arr.ndim == 1:
            return arr
        if arr.ndim == 0:
            return arr.reshape(1)
        if arr.ndim == 2 and arr.shape[1] == 1:
            return arr[:, 0]
        return list(arr)

    def encode(self, result):
        """The reply to a prediction: its kind, and one tensor per output."""
        pd, np = self.pd, self.np
        if isinstance(result, pd.DataFrame):
            kind = "table"
            outs = [(str(c), result.iloc[:, i].to_numpy()) for i, c in enumerate(result.columns)]
        elif isinstance(result, pd.Series):
            kind = "series"
            outs = [(str(result.name) if result.name is not None else "predictions", result.to_numpy())]
        elif isinstance(result, dict):
            kind = "dict"
            outs = [(str(k), np.asarray(v)) for k, v in result.items()]
        else:
            kind = "array"
            outs = [("predictions", np.asarray(result))]
        specs, buffers = [], []
        for name, arr in outs:
            spec, buf = self.encode_tensor(name, arr)
            specs.append(spec)
            buffers.append(buf)
        return {"ok": True, "kind": kind, "outputs": specs}, buffers

    def encode_tensor(self, name, arr):
        np = self.np
        if arr.dtype.kind == "O":
            arr = self.narrow(arr)
        kind, size = arr.dtype.kind, arr.dtype.itemsize
        if kind == "f" and (kind, size) not in _DATATYPES:
            arr, size = arr.astype("<f8"), 8
        datatype = _DATATYPES.get((kind, size))
        nulls = None
        if datatype is None:
            buf, nulls = self.encode_strings(arr)
            datatype = "BYTES"
        else:
            flat = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).reshape(-1)
            buf = memoryview(flat).cast("B") if flat.size else b""
        spec = {"name": name, "datatype": datatype, "shape": list(arr.shape), "nbytes": len(buf)}
        if nulls:
            spec["nulls"] = nulls
        return spec, buf

    def narrow(self, arr):
        """An object array of numbers or booleans as a numeric array; else itself."""
        np = self.np
        if arr.size and all(isinstance(x, (bool, int, float, np.number, np.bool_)) for x in arr.flat):
            narrowed = np.array(arr.tolist())
            if narrowed.dtype.kind in "biuf":
                return narrowed
        return arr

    @staticmethod
    def encode_strings(arr):
        """The BYTES buffer of arr, and the indices of its missing values (None, NaN,
        pandas' NA and NaT), which MLflow answers as null; they are sent as empty."""
        parts, pack, nulls = [], _U32.pack, []
        for i, x in enumerate(arr.flat):
            if isinstance(x, bytes):
                b = x
            elif isinstance(x, str):
                b = x.encode()
            elif _missing(x):
                b = b""
                nulls.append(i)
            elif isinstance(x, (dict, list)):
                b = json.dumps(x).encode()
            else:
                b = str(x).encode()
            parts.append(pack(len(b)))
            parts.append(b)
        return b"".join(parts), nulls


if __name__ == "__main__":
    sys.exit(main())
