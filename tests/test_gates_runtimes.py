"""Gates on each runtime: a regressor on the native ONNX engine, an R model through the R
worker, and a slow Python model whose evaluation survives the server's kill -9."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import mlflow
import numpy as np
import pytest
import requests
from gates_common import evaluate
from helpers import mlship, pinned, unique_name

pytestmark = pytest.mark.mlship_only


def test_regression_gate_on_the_native_onnx_runtime(server, tmp_path):
    """A regressor logged as ONNX is evaluated by the native runtime; its metrics equal
    scikit-learn's on onnxruntime's predictions, up to the float32 rounding in which the
    two engines' sums may differ (the metrics themselves are exact: see test_gates.py)."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn import metrics
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    frame = load_diabetes(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    model = Ridge(alpha=0.5).fit(X.to_numpy(np.float32), y)
    onx = to_onnx(model, X.to_numpy(np.float32)[:1], target_opset=17)
    name = unique_name("diabetes-onnx")
    mlflow.set_tracking_uri(server.url)
    with mlflow.start_run():
        mlflow.onnx.log_model(onx, name="model", pip_requirements=pinned("onnx"), registered_model_name=name)
    data = unique_name("diabetes")
    path = tmp_path / "diabetes.csv"
    frame.to_csv(path, index=False)
    mlship(server, "data", "add", data, str(path))
    mlship(server, "gate", "set", name, "--dataset", f"{data}/1", "--target", "target", "--task", "regression",
           "--threshold", "root_mean_squared_error<=80", "--protect", "champion")
    code, e = evaluate(server, f"{name}/1", "--alias", "champion")
    assert code == 0 and e["runtime"] == "onnx" and e["passed"] is True, e
    sess = ort.InferenceSession(onx.SerializeToString())
    pred = sess.run(None, {sess.get_inputs()[0].name: X.to_numpy(np.float32)})[0].ravel().astype(np.float64)
    got = e["result"]["metrics"]
    assert got["root_mean_squared_error"] == pytest.approx(metrics.root_mean_squared_error(y, pred), rel=1e-6)
    assert got["r2_score"] == pytest.approx(metrics.r2_score(y, pred), rel=1e-6)
    assert got["mean_absolute_percentage_error"] == pytest.approx(metrics.mean_absolute_percentage_error(y, pred), rel=1e-6)
    assert got["example_count"] == len(y)


SLOW_MODEL = '''
import time

import mlflow
import pandas as pd


class Doubler(mlflow.pyfunc.PythonModel):
    """Predicts twice its first column, slowly: each batch takes half a second."""

    def predict(self, context, model_input, params=None):
        time.sleep(0.5)
        return pd.Series(model_input["x0"].to_numpy() * 2.0)


mlflow.models.set_model(Doubler())
'''


def test_an_evaluation_survives_kill_9(tmp_path):
    """The server is killed (SIGKILL) in the middle of an evaluation; started again, it
    runs the evaluation to the end, with the numbers an uninterrupted run gives."""
    import pandas as pd
    from conftest import Server

    srv = Server("mlship", tmp_path)
    srv.start()
    try:
        mlflow.set_tracking_uri(srv.url)
        script = tmp_path / "doubler.py"
        script.write_text(SLOW_MODEL)
        rng = np.random.default_rng(3)
        n = 80_000
        frame = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
        frame["target"] = 2 * frame["x0"] + rng.normal(scale=0.1, size=n)
        name = unique_name("doubler")
        with mlflow.start_run():
            mlflow.pyfunc.log_model(name="model", pip_requirements=pinned("mlflow", "cloudpickle"), python_model=str(script), registered_model_name=name,
                                    input_example=frame[["x0", "x1"]].head(3))
        path = tmp_path / "data.csv"
        frame.to_csv(path, index=False)
        mlship(srv, "data", "add", "doubler-data", str(path))
        mlship(srv, "gate", "set", name, "--dataset", "doubler-data/1", "--target", "target", "--task", "regression",
               "--threshold", "root_mean_squared_error<=0.2")
        queued = json.loads(mlship(srv, "gate", "evaluate", f"{name}/1", "--no-wait", "-o", "json").stdout)
        url = f"{srv.url}/api/v1/evaluations/{queued['id']}"
        deadline = time.monotonic() + 120
        while True:
            e = requests.get(url, timeout=30).json()
            if e["status"] == "running" and e["rows_done"] > 0:
                break
            assert e["status"] in ("queued", "running") and time.monotonic() < deadline, e
            time.sleep(0.05)
        assert e["rows_done"] < n
        srv.proc.kill()
        srv.proc.wait(timeout=30)
        srv.stop()
        srv.start()
        deadline = time.monotonic() + 180
        while True:
            e = requests.get(url, timeout=30).json()
            if e["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, e
            time.sleep(0.2)
        assert e["status"] == "succeeded" and e["passed"] is True and e["rows_done"] == n, e
        code, again = evaluate(srv, f"{name}/1")
        assert code == 0 and again["result"] == e["result"]
        from sklearn.metrics import root_mean_squared_error

        want = root_mean_squared_error(frame["target"], frame["x0"].to_numpy() * 2.0)
        assert abs(e["result"]["metrics"]["root_mean_squared_error"] - want) <= 1e-9
    finally:
        srv.stop()


_R_TRAIN = """
args <- commandArgs(TRUE)
model <- lm(mpg ~ wt + hp, data = mtcars)
saveRDS(model, file.path(args[1], "model.rds"))
write.csv(mtcars[, c("mpg", "wt", "hp", "cyl")], args[2], row.names = FALSE)
writeLines(sprintf("%.17g", predict(model, newdata = mtcars)), args[3])
"""


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed (make deps installs r-base-core)")
def test_r_model_gated_through_the_r_worker(server, tmp_path):
    """An R model is evaluated by the R worker that serves it; its metrics equal
    scikit-learn's on R's own predictions."""
    from sklearn import metrics

    model_dir = tmp_path / "rmodel"
    model_dir.mkdir()
    data_path, pred_path = tmp_path / "mtcars.csv", tmp_path / "pred.txt"
    subprocess.run(["Rscript", "-e", _R_TRAIN, str(model_dir), str(data_path), str(pred_path)], check=True, timeout=120)
    pred = np.array([float(x) for x in pred_path.read_text().split()])
    mlflow.set_tracking_uri(server.url)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    name = unique_name("mtcars-lm")
    client = mlflow.MlflowClient()
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    data = unique_name("mtcars")
    mlship(server, "data", "add", data, str(data_path))
    mlship(server, "gate", "set", name, "--dataset", f"{data}/1", "--target", "mpg", "--task", "regression",
           "--threshold", "r2_score>=0.8", "--slice-by", "cyl")
    code, e = evaluate(server, f"{name}/1")
    assert code == 0 and e["runtime"] == "r" and e["passed"] is True, e
    import pandas as pd

    truth = pd.read_csv(data_path)
    got = e["result"]["metrics"]
    assert abs(got["r2_score"] - metrics.r2_score(truth["mpg"], pred)) <= 1e-9
    assert abs(got["mean_absolute_error"] - metrics.mean_absolute_error(truth["mpg"], pred)) <= 1e-9
    slices = {s["value"]: s["metrics"] for s in e["result"]["slices"]}
    assert sorted(slices) == ["4", "6", "8"]
    four = (truth["cyl"] == 4).to_numpy()
    assert abs(slices["4"]["mean_absolute_error"] - metrics.mean_absolute_error(truth["mpg"][four], pred[four])) <= 1e-9
