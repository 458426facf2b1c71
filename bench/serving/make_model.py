"""Builds the model that bench/serving serves, and the answers the servers must give.

    python bench/serving/make_model.py OUT_DIR

writes, under OUT_DIR:

    sklearn/gbc/    the model saved with mlflow.sklearn.save_model, with a signature
                    inferred from a float64 numpy array (a tensor signature, (-1, 20))
    onnx/gbc/       the same fitted model converted with skl2onnx (zipmap=False, float32
                    input) and saved with mlflow.onnx.save_model; skipped when skl2onnx is
                    not installed. The bare file is onnx/gbc/model.onnx.
    expected.json   the rows the harness sends and the labels scikit-learn (and
                    onnxruntime, for the ONNX model) predicts for them

Both model directories are named gbc, so a server that names a model after its directory
serves either under the same name. The model is a GradientBoostingClassifier with 100
trees fitted on make_classification(n_samples=2000, n_features=20, random_state=0); both
the data and the fit are deterministic, so every run builds the same model.
"""

import json
import os
import sys

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature

N_FEATURES = 20
# Rows checked before timing: the benchmark row (row 0) alone, then all of them as a batch.
N_CHECK_ROWS = 16
MODEL_NAME = "gbc"
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def fit():
    X, y = make_classification(n_samples=2000, n_features=N_FEATURES, random_state=0)
    X = X.astype(np.float64)
    model = GradientBoostingClassifier(n_estimators=100, random_state=0).fit(X, y)
    return model, X


def save_sklearn(model, X, out):
    path = os.path.join(out, "sklearn", MODEL_NAME)
    signature = infer_signature(X, model.predict(X))
    # mlflow 3 saves with skops, which loads a fitted tree only when its type is trusted.
    mlflow.sklearn.save_model(model, path, signature=signature, skops_trusted_types=TRUSTED_TYPES)
    return path


def save_onnx(model, X, rows, out):
    """Returns (path, input name, labels for rows) or None when skl2onnx is missing."""
    try:
        from skl2onnx import to_onnx
    except ImportError:
        return None
    import mlflow.onnx

    onx = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}, target_opset=None)
    path = os.path.join(out, "onnx", MODEL_NAME)
    signature = infer_signature(X.astype(np.float32))
    mlflow.onnx.save_model(onx, path, signature=signature)
    input_name = onx.graph.input[0].name
    return path, input_name, onnx_labels(path, input_name, rows)


def onnx_labels(path, input_name, rows):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(os.path.join(path, "model.onnx"), providers=["CPUExecutionProvider"])
    label = sess.run(["label"], {input_name: rows.astype(np.float32)})[0]
    return [int(v) for v in label]


def check_reload(path, rows, want):
    """The saved model, loaded back through pyfunc as the servers load it, must agree."""
    got = mlflow.pyfunc.load_model(path).predict(rows)
    if [int(v) for v in np.asarray(got).ravel()] != want:
        sys.exit(f"make_model: {path} reloaded through pyfunc predicts {got}, want {want}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_model.py OUT_DIR")
    out = os.path.abspath(sys.argv[1])
    model, X = fit()
    rows = X[:N_CHECK_ROWS]
    labels = [int(v) for v in model.predict(rows)]
    sk_path = save_sklearn(model, X, out)
    check_reload(sk_path, rows, labels)
    expected = {
        "model_name": MODEL_NAME,
        "n_features": N_FEATURES,
        "rows": rows.tolist(),
        "sklearn_labels": labels,
        "sklearn_model": sk_path,
        "versions": versions(),
    }
    onnx = save_onnx(model, X, rows, out)
    if onnx is not None:
        expected["onnx_model"], expected["onnx_input"], expected["onnx_labels"] = onnx
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"make_model: wrote {sk_path}" + (f" and {onnx[0]}" if onnx else " (no skl2onnx: no ONNX model)"))


def versions():
    import sklearn

    v = {"mlflow": mlflow.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__}
    for mod in ("skl2onnx", "onnx", "onnxruntime"):
        try:
            v[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return v


if __name__ == "__main__":
    main()
