"""The serving command line: `mlship deploy` against the server, and `mlship serve` on a
model of the server's registry or a local directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import mlflow
import pytest
import requests
from helpers import assert_mlflow_error, pinned, unique_name
from mlflow.models import infer_signature
# The module fixtures (data, models, registered, deployed) are used by name.
from serving_common import (  # noqa: F401
    REPO_ROOT, N_FEATURES, READY_TIMEOUT_S, TRUSTED, data, models, registered, deployment_url,
    wait_ready, delete_deployment, _csv, _wait,
)

pytestmark = pytest.mark.mlship_only


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def _mlship(server, *args, check=True):
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    p = subprocess.run([binary, *args, "--server", server.url], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_deploy_cli_create_list_show_delete(server, registered):
    name = unique_name("cli")
    out = json.loads(_mlship(server, "deploy", "create", name, f"models:/{registered}/1", "--workers", "1", "--wait", "3m", "-o", "json").stdout)
    assert out["status"]["state"] == "ready"
    listed = json.loads(_mlship(server, "deploy", "list", "-o", "json").stdout)["deployments"]
    assert name in [d["name"] for d in listed]
    table = _mlship(server, "deploy", "show", name).stdout
    assert "ready" in table and f"/v2/models/{name}/infer" in table
    _mlship(server, "deploy", "delete", name)
    missing = _mlship(server, "deploy", "show", name, check=False)
    assert missing.returncode == 3, (missing.returncode, missing.stderr)
    dup = _mlship(server, "deploy", "create", "../../x", f"models:/{registered}/1", check=False)
    assert dup.returncode != 0 and "invalid deployment name" in dup.stderr


def _raising_version(tmp_path) -> str:
    """Registers a pyfunc model whose loader raises, and returns models:/NAME/1."""
    model_dir = tmp_path / "raising-model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_raising_loader\n    code: code\n    python_version: \"3.11\"\n"
    )
    (model_dir / "code" / "mlship_raising_loader.py").write_text(
        "def _load_pyfunc(path):\n    raise RuntimeError('this model refuses to load')\n"
    )
    name = unique_name("raising")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return f"models:/{name}/1"


def test_deploy_cli_create_again_after_a_failed_load(server, registered, tmp_path):
    bad, good, name = _raising_version(tmp_path), f"models:/{registered}/1", unique_name("again")
    try:
        # --wait sees the load fail, and deletes what it created.
        p = _mlship(server, "deploy", "create", name, bad, "--workers", "1", "--wait", "3m", check=False)
        assert p.returncode != 0 and "this model refuses to load" in p.stderr, p.stderr
        assert "was deleted" in p.stderr, p.stderr
        assert _mlship(server, "deploy", "show", name, check=False).returncode == 3
        # --keep-failed keeps it; creating it again over the failed one replaces it.
        p = _mlship(server, "deploy", "create", name, bad, "--workers", "1", "--wait", "3m", "--keep-failed", check=False)
        assert p.returncode != 0 and "was deleted" not in p.stderr, p.stderr
        assert json.loads(_mlship(server, "deploy", "show", name, "-o", "json").stdout)["status"]["state"] == "failed"
        out = _mlship(server, "deploy", "create", name, good, "--workers", "1", "--wait", "3m", "-o", "json").stdout
        assert json.loads(out)["status"]["state"] == "ready"
        # A deployment that serves is never replaced by a creation.
        dup = _mlship(server, "deploy", "create", name, bad, check=False)
        assert dup.returncode != 0 and "already exists" in dup.stderr, dup.stderr
        r = requests.post(deployment_url(server), json={"name": name, "model": bad}, timeout=30)
        assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS", "already exists")
        assert wait_ready(server, name)["spec"]["model"] == good
    finally:
        delete_deployment(server, name)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def standalone(server, tmp_path):
    """Starts `mlship serve` processes and stops them after the test."""
    procs = []

    def start(*args):
        port = _free_port()
        binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(MLSHIP_PYTHON=sys.executable, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true")
        log = open(tmp_path / f"serve-{port}.log", "wb")
        p = subprocess.Popen(
            [binary, "serve", *args, "--port", str(port), "--cache-dir", str(tmp_path / "cache"), "--workers", "1",
             "--worker-env", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        procs.append(p)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert p.poll() is None, (tmp_path / f"serve-{port}.log").read_text()[-3000:]
            try:
                if requests.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (tmp_path / f"serve-{port}.log").read_text()[-3000:]
            time.sleep(0.2)

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def test_mlship_serve_by_alias_from_the_server(server, registered, models, data, standalone):
    X, _ = data
    url = standalone(f"models:/{registered}@production", "--server", server.url)
    assert requests.get(url + "/ping", timeout=10).status_code == 200
    assert requests.get(url + "/version", timeout=10).status_code == 200
    df = X.iloc[:4]
    r = requests.post(url + "/invocations", json={"dataframe_split": df.to_dict(orient="split")}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": models["1"].predict(df).tolist()}
    r = requests.post(
        url + f"/v2/models/{registered}/infer",
        json={"inputs": [{"name": "x", "shape": [4, N_FEATURES], "datatype": "FP64", "data": df.to_numpy().ravel().tolist()}]},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == models["1"].predict(df).tolist()
    assert "mlship_inference_requests_total" in requests.get(url + "/metrics", timeout=10).text


def _serve(tmp_path, *args, **kw):
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLSHIP_PYTHON=sys.executable)
    cmd = [binary, "serve", *args, "--port", str(_free_port()), "--cache-dir", str(tmp_path / "cache"), "--workers", "1"]
    return cmd, env


def test_mlship_serve_a_local_model_that_cannot_load_exits_1(tmp_path):
    """Its files will not change, so it exits as `mlflow models serve` does, not 503 forever."""
    model_dir = tmp_path / "raising-model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_raising_loader\n    code: code\n"
    )
    (model_dir / "code" / "mlship_raising_loader.py").write_text(
        "def _load_pyfunc(path):\n    raise RuntimeError('this model refuses to load')\n"
    )
    (tmp_path / "garbage.onnx").write_bytes(b"not an onnx model")
    for path, says in [(model_dir, "this model refuses to load"), (tmp_path / "garbage.onnx", "invalid ONNX model")]:
        cmd, env = _serve(tmp_path, str(path))
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=READY_TIMEOUT_S)
        assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
        last = p.stderr.strip().splitlines()[-1]
        assert last.startswith("mlship: ") and "cannot be served" in last and says in last, last


def test_mlship_serve_by_alias_outlives_a_version_that_cannot_load(server, tmp_path):
    """An alias may move to a version that loads, so a models:/ reference keeps serving 503."""
    cmd, env = _serve(tmp_path, _raising_version(tmp_path), "--server", server.url)
    port = cmd[cmd.index("--port") + 1]
    with open(tmp_path / "serve.log", "wb") as log:
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: b"failed to load" in (tmp_path / "serve.log").read_bytes(), "the load error")
        time.sleep(1)
        assert p.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
        assert requests.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=10).status_code == 503
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_mlship_serve_a_local_directory(models, data, standalone, tmp_path):
    X, _ = data
    path = tmp_path / "local-model"
    mlflow.sklearn.save_model(
        models["2"], str(path), signature=infer_signature(X, models["2"].predict(X)), skops_trusted_types=TRUSTED,
        pip_requirements=pinned("scikit-learn", "skops"),
    )
    url = standalone(str(path))
    df = X.iloc[5:8]
    r = requests.post(url + "/invocations", data=_csv(df), headers={"Content-Type": "text/csv"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": models["2"].predict(df).tolist()}
    r = requests.post(url + "/v1/models/local-model:predict", json={"instances": df.to_numpy().tolist()}, timeout=60)
    assert r.status_code == 200, r.text
