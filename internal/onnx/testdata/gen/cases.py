"""The case format shared by gen.py, reference.py and the Go tests.

A case is one model's inputs and onnxruntime's outputs for them, as JSON:

    {"model": "name.onnx",
     "inputs":  [VALUE, ...],
     "outputs": [VALUE, ...]}

where a VALUE is one of
    {"name", "type": "tensor", "elem": "float32"|"float64"|"int64"|"int32"|"string"|"bool",
     "shape": [...], "data": [...]}
    {"name", "type": "map", "key": ELEM, "elem": ELEM, "keys": [...], "data": [...]}
    {"name", "type": "seq_map", "key": ELEM, "elem": ELEM, "maps": [{"keys": [...], "data": [...]}]}
Floats that JSON cannot hold are written as the strings "NaN", "Infinity" and "-Infinity".

The manifest (models/manifest.json) says how to draw fresh inputs for each model:
    {"models": [{"name", "rows", "inputs": [INPUT, ...]}]}
with INPUT = {"name", "elem", "shape" (-1 for the batch), "dist": "normal"|"uniform"|"int"|
"categories"|"map"|"text", "scale", "nan_rate", "categories", "low", "high", "keys", "words",
"max_words"}; "text" joins 0 to max_words of the words with spaces.
"""

import math

import numpy as np


def _num(x):
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, bytes):
        return x.decode()
    return str(x)


_ELEMS = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.int64): "int64",
    np.dtype(np.int32): "int32",
    np.dtype(np.bool_): "bool",
}


def elem_of(arr):
    if arr.dtype.kind in "OUS":
        return "string"
    return _ELEMS[arr.dtype]


def _elem_of_scalar(x):
    if isinstance(x, str):
        return "string"
    if isinstance(x, (int, np.integer)):
        return "int64"
    return "float32"


def encode(name, value):
    """Encodes one input or output value."""
    if isinstance(value, list):  # sequence of maps (ZipMap)
        key = elem = "float32"
        maps = []
        for m in value:
            ks = list(m.keys())
            if ks:
                key = _elem_of_scalar(ks[0])
            maps.append({"keys": [_num(k) for k in ks], "data": [_num(m[k]) for k in ks]})
        return {"name": name, "type": "seq_map", "key": key, "elem": elem, "maps": maps}
    if isinstance(value, dict):
        ks = list(value.keys())
        vs = [value[k] for k in ks]
        return {"name": name, "type": "map", "key": _elem_of_scalar(ks[0]),
                "elem": _elem_of_scalar(vs[0]) if not isinstance(vs[0], float) else "float32",
                "keys": [_num(k) for k in ks], "data": [_num(v) for v in vs]}
    arr = np.asarray(value)
    return {"name": name, "type": "tensor", "elem": elem_of(arr), "shape": list(arr.shape),
            "data": [_num(x) for x in arr.reshape(-1).tolist()]}


def draw(spec, rows, rng):
    """Draws one input as the manifest describes it."""
    dist = spec["dist"]
    if dist == "map":
        keys = spec["keys"]
        chosen = [k for k in keys if rng.random() < 0.7] or keys[:1]
        if spec.get("elem") == "string":
            return {k: str(rng.choice(spec["categories"])) for k in chosen}
        return {k: float(np.float32(rng.normal(0, spec.get("scale", 1.0)))) for k in chosen}
    shape = [rows if d == -1 else d for d in spec["shape"]]
    elem = spec["elem"]
    if dist == "text":
        words = np.array(spec["words"], dtype=object)
        out = np.empty(int(np.prod(shape)), dtype=object)
        for i in range(out.size):
            out[i] = " ".join(rng.choice(words, size=int(rng.integers(0, spec["max_words"] + 1))))
        return out.reshape(shape)
    if dist == "categories":
        cats = spec["categories"]
        idx = rng.integers(0, len(cats), size=shape)
        out = np.array(cats, dtype=object)[idx]
        if elem == "string":
            return out.astype(object)
        return out.astype(elem)
    if dist == "int":
        return rng.integers(spec.get("low", 0), spec.get("high", 10), size=shape).astype(elem)
    if dist == "uniform":
        x = rng.uniform(spec.get("low", 0.0), spec.get("high", 1.0), size=shape)
    else:
        x = rng.normal(0.0, spec.get("scale", 1.0), size=shape)
    if elem == "bool":
        return x > 0
    x = x.astype(elem)
    nan_rate = spec.get("nan_rate", 0.0)
    if nan_rate:
        x[rng.random(size=shape) < nan_rate] = np.nan
    return x


def run_case(sess, name, feeds):
    """Runs a model on its inputs and returns the case."""
    outs = sess.run(None, feeds)
    names = [o.name for o in sess.get_outputs()]
    return {
        "model": name + ".onnx",
        "inputs": [encode(k, v) for k, v in feeds.items()],
        "outputs": [encode(n, v) for n, v in zip(names, outs)],
    }
