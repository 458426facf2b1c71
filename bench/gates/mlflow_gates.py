"""MLflow's side of bench/gates, run against the tracking server in MLFLOW_TRACKING_URI.

    python mlflow_gates.py log-model TRAIN.csv NAME OUT.json
    python mlflow_gates.py evaluate BENCH.csv MODEL_URI CONFIG OUT.json

log-model fits a scikit-learn GradientBoostingClassifier on TRAIN.csv, converts it with
skl2onnx (zipmap off: a label and a [rows, 2] probability output) and logs it with
mlflow.onnx.log_model as a new version of the registered model NAME. It then tries
mlflow.evaluate on that model URI as logged, on a few rows, and records what happens.

evaluate loads BENCH.csv with pandas, then times mlflow.evaluate(..., model_type=
"classifier", evaluators=["default"]) on it. CONFIG is "default" (the default
evaluator config), "no-explainability" ({"default": {"log_model_explainability": False}})
or "floor": no mlflow.evaluate, only the model run once and scikit-learn's metrics, to
show what the work costs in Python without it. The
model is the registered version loaded by mlflow.pyfunc.load_model (the ONNX flavor: an
onnxruntime session), called as mlflow's ONNX pyfunc wrapper calls it, through a
function that returns the labels and keeps the probabilities for two extra metrics,
roc_auc and log_loss, computed as the default evaluator computes them from
predict_proba (see bench/README.md for why). Each step is timed with the process's CPU
time; Python's start-up and imports are timed apart.
"""
import json
import os
import resource
import sys
import time
import traceback
import warnings

warnings.filterwarnings("ignore")
T_START = time.perf_counter()


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def max_rss():
    """The process's peak resident memory so far, in bytes (ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Step:
    """Times a step: wall and CPU seconds, and the process's peak RSS at its end."""

    def __init__(self, steps, name):
        self.steps, self.name = steps, name

    def __enter__(self):
        self.cpu, self.t = cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.steps[self.name] = {
                "seconds": time.perf_counter() - self.t,
                "cpu_seconds": cpu_seconds() - self.cpu,
                "max_rss_bytes": max_rss(),
            }


def versions():
    import importlib.metadata as md

    out = {}
    for p in ("mlflow", "onnxruntime", "skl2onnx", "scikit-learn", "pandas", "numpy"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:  # mlflow-skinny (the test venv) instead of mlflow
            out[p] = md.version(p + "-skinny") + " (skinny)" if p == "mlflow" else "-"
    return out


def log_model(train_path, name, out_path):
    import mlflow
    import numpy as np
    import pandas as pd
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier

    steps = {}
    frame = pd.read_csv(train_path)
    X = frame.drop(columns="target").to_numpy(np.float32)
    y = frame["target"].to_numpy()
    with Step(steps, "fit"):
        model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    onx = to_onnx(model, X[:1], target_opset=17, options={id(model): {"zipmap": False}})
    with Step(steps, "log_model"), mlflow.start_run():
        info = mlflow.onnx.log_model(onx, name="model", registered_model_name=name)
    version = str(info.registered_model_version)
    result = {
        "steps": steps,
        "model_uri": f"models:/{name}/{version}",
        "version": version,
        "onnx_outputs": [f"{o.name} {shape(o)}" for o in onx.graph.output],
        "onnx_bytes": len(onx.SerializeToString()),
        "train_rows": len(frame),
        "versions": versions(),
        "as_logged": try_as_logged(f"models:/{name}/{version}", frame.head(1000)),
    }
    with open(out_path, "w") as f:
        json.dump(result, f)


def shape(output):
    dims = output.type.tensor_type.shape.dim
    return "[" + ", ".join(d.dim_param or (str(d.dim_value) if d.dim_value else "N") for d in dims) + "]"


def try_as_logged(model_uri, frame):
    """mlflow.evaluate on the registered ONNX model, as a user would first call it."""
    import mlflow

    try:
        r = mlflow.evaluate(model=model_uri, data=frame, targets="target", model_type="classifier",
                            evaluators=["default"])
        return {"ok": True, "metrics": sorted(r.metrics)}
    except Exception as e:  # noqa: BLE001: the failure is the finding
        return {"ok": False, "error": f"{type(e).__name__}: {e}"[:400],
                "where": traceback.extract_tb(e.__traceback__)[-1].filename.split("site-packages/")[-1]}


def onnx_classifier(model_uri):
    """The registered ONNX model as mlflow loads it, as a function mlflow.evaluate
    takes: it returns the labels and keeps the probabilities of the rows it saw."""
    import mlflow
    import numpy as np
    import pandas as pd

    pyfunc = mlflow.pyfunc.load_model(model_uri)
    sess = pyfunc.get_raw_model()  # the onnxruntime.InferenceSession the ONNX flavor built
    feed = sess.get_inputs()[0].name
    kept = {}

    def predict(frame: pd.DataFrame):
        # As mlflow.onnx's pyfunc wrapper: DataFrame.values, float64 cast to float32.
        x = frame.values
        if x.dtype == np.float64:
            x = x.astype(np.float32)
        label, proba = sess.run(["label", "probabilities"], {feed: x})
        kept["proba"], kept["index"] = proba, frame.index
        return label

    return predict, kept


def proba_metrics(kept):
    """roc_auc and log_loss as the default evaluator computes them when it has
    predict_proba: _gen_classifier_curve's roc_curve + auc, and log_loss with labels."""
    import numpy as np
    from mlflow.metrics import MetricValue
    from mlflow.models import make_metric
    from sklearn import metrics as sk

    def rows(targets):
        # mlflow tries each metric on the first row before all of them.
        return kept["proba"][kept["index"].get_indexer(targets.index)]

    def roc_auc(predictions, targets):
        p = rows(targets)
        if targets.nunique() < 2:
            return MetricValue(aggregate_results={"value": float("nan")})
        fpr, tpr, _ = sk.roc_curve(targets, p[:, 1], pos_label=1)
        return MetricValue(aggregate_results={"value": sk.auc(fpr, tpr)})

    def log_loss(predictions, targets):
        return MetricValue(aggregate_results={"value": sk.log_loss(targets, rows(targets), labels=np.array([0, 1]))})

    return [make_metric(eval_fn=roc_auc, greater_is_better=True, name="roc_auc"),
            make_metric(eval_fn=log_loss, greater_is_better=False, name="log_loss")]


def floor_metrics(frame, predict, kept):
    """The same model and metrics without mlflow.evaluate: one onnxruntime run and
    scikit-learn's metrics, as the default evaluator calls them for a binary classifier.
    No run is logged."""
    import numpy as np
    from sklearn import metrics as sk

    y = frame["target"].to_numpy()
    pred = predict(frame.drop(columns="target"))
    p1 = kept["proba"][:, 1]
    tn, fp, fn, tp = sk.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    fpr, tpr, _ = sk.roc_curve(y, p1, pos_label=1)
    return {
        "example_count": float(len(y)),
        "accuracy_score": sk.accuracy_score(y, pred),
        "precision_score": sk.precision_score(y, pred, average="binary", pos_label=1),
        "recall_score": sk.recall_score(y, pred, average="binary", pos_label=1),
        "f1_score": sk.f1_score(y, pred, average="binary", pos_label=1),
        "roc_auc": sk.auc(fpr, tpr),
        "log_loss": sk.log_loss(y, kept["proba"], labels=np.array([0, 1])),
        "true_negatives": float(tn), "false_positives": float(fp),
        "false_negatives": float(fn), "true_positives": float(tp),
    }


def evaluate(bench_path, model_uri, config, out_path):
    steps = {}
    with Step(steps, "import"):
        import mlflow
        import pandas as pd
    steps["import"]["seconds"] = time.perf_counter() - T_START  # the interpreter's start too
    with Step(steps, "load"):
        frame = pd.read_csv(bench_path)
    # With evaluators named in a list, the config is keyed by evaluator name.
    evaluator_config = {"no-explainability": {"default": {"log_model_explainability": False}}}.get(config)
    artifacts = []
    with Step(steps, "evaluate"):
        predict, kept = onnx_classifier(model_uri)
        if config == "floor":
            metrics = floor_metrics(frame, predict, kept)
        else:
            result = mlflow.evaluate(model=predict, data=frame, targets="target", model_type="classifier",
                                     evaluators=["default"], evaluator_config=evaluator_config,
                                     extra_metrics=proba_metrics(kept))
            metrics = {k.removesuffix("/value"): float(v) for k, v in result.metrics.items()}
            artifacts = sorted(result.artifacts)
    out = {
        "config": config,
        "evaluator_config": evaluator_config,
        "rows": len(frame),
        "steps": steps,
        "metrics": metrics,
        "artifacts": artifacts,
        "run_id": mlflow.last_active_run().info.run_id if config != "floor" and mlflow.last_active_run() else "",
        "max_rss_bytes": max_rss(),
        "versions": versions(),
    }
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"log-model": log_model, "evaluate": evaluate}[cmd](*args)
