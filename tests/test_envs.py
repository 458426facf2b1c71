"""Python models served by a server whose own interpreter has no mlflow: with
--env-manager uv each model runs in an environment built from the requirements it was
logged with, shared by versions that ask for the same, and a requirement that cannot be
met fails the deployment with uv's words instead of serving other versions."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from conftest import REPO_ROOT, Server
from helpers import unique_name

pytestmark = pytest.mark.mlship_only

# A cold build downloads mlflow-skinny, scikit-learn, numpy, pandas and scipy.
READY_TIMEOUT_S = 600
# The versions the test venv runs (tests/requirements.txt), so that uv's cache, kept in
# the checkout across runs, already holds them after the first run.
REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn==1.9.1", "numpy==2.4.6", "pandas==3.1.1", "scipy==1.17.1", "skops==0.16.0"]
BARE_PYTHON = "/usr/bin/python3"


def _uv() -> str | None:
    for candidate in (os.environ.get("MLSHIP_TEST_UV"), str(REPO_ROOT / ".tools" / "bin" / "uv"), shutil.which("uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _bare_python() -> str:
    if not os.access(BARE_PYTHON, os.X_OK):
        pytest.skip(f"{BARE_PYTHON} is not here")
    has = subprocess.run([BARE_PYTHON, "-c", "import mlflow"], capture_output=True).returncode == 0
    if has:
        pytest.skip(f"{BARE_PYTHON} has mlflow: the test needs an interpreter without it")
    return BARE_PYTHON


@pytest.fixture(scope="module")
def uv_server(tmp_path_factory):
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make deps puts it in .tools/bin/uv)")
    python = _bare_python()
    srv = Server("mlship", tmp_path_factory.mktemp("envs"),
                 ["--env-manager", "uv", "--uv", uv, "--python", python])  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        # uv's cache outlives the test's data directory, so that only the first run
        # downloads the packages.
        mp.setenv("UV_CACHE_DIR", str(REPO_ROOT / ".cache" / "uv"))
        srv.start()
    prev = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    yield srv
    mlflow.set_tracking_uri(prev)
    srv.stop()


def _log_version(name: str, coef: float, requirements: list[str]):
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2)
    model = LinearRegression().fit(X, X @ [coef, -2.0] + 3)
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name, pip_requirements=requirements)
    return model


def _deployment(server, name):
    return requests.get(f"{server.url}/api/v1/deployments/{name}", timeout=10).json()


def _deploy_and_wait(server, model_uri):
    name = unique_name("env")
    r = requests.post(f"{server.url}/api/v1/deployments", json={"name": name, "model": model_uri, "workers": 1}, timeout=30)
    assert r.status_code == 200, r.text
    stages = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        d = _deployment(server, name)
        stages.add(d["status"]["models"][0].get("loading", ""))
        if d["status"]["state"] in ("ready", "failed"):
            return name, d, stages
        assert time.monotonic() < deadline, f"deployment {name} still loading after {READY_TIMEOUT_S}s: {d}"
        time.sleep(0.1)


def _predict(server, dep, rows):
    r = requests.post(f"{server.url}/deployments/{dep}/invocations", json={"inputs": rows}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def test_sklearn_model_gets_its_environment(uv_server):
    srv = uv_server
    info = requests.get(f"{srv.url}/api/v1/server-info", timeout=10).json()
    assert info["workers"]["python_env_manager"] == "uv", info
    name = unique_name("sk")
    rows = [[1.0, 2.0], [3.0, 5.0]]

    first = _log_version(name, 1.5, REQUIREMENTS)
    start = time.monotonic()
    dep1, d, stages = _deploy_and_wait(srv, f"models:/{name}/1")
    took1 = time.monotonic() - start
    assert d["status"]["state"] == "ready", f"{d}\n--- server log ---\n{srv.log_tail()}"
    assert "building environment" in stages, stages
    env1 = d["status"]["models"][0]["environment"]
    assert "uv environment" in env1 and "built" in env1, env1
    assert np.allclose(_predict(srv, dep1, rows), first.predict(np.array(rows)))

    second = _log_version(name, 4.0, REQUIREMENTS)
    start = time.monotonic()
    dep2, d, stages = _deploy_and_wait(srv, f"models:/{name}/2")
    took2 = time.monotonic() - start
    assert d["status"]["state"] == "ready", d
    env2 = d["status"]["models"][0]["environment"]
    assert "reused" in env2 and env2.split()[2] == env1.split()[2], (env1, env2)
    assert "building environment" not in stages, stages
    assert np.allclose(_predict(srv, dep2, rows), second.predict(np.array(rows)))
    assert "python environment ready" in srv.log_tail(200000) and "reused=true" in srv.log_tail(200000)
    envs = [p for p in (srv.data_dir / "envs").iterdir() if p.is_dir() and not p.name.startswith((".", "uv-"))]
    assert len(envs) == 1, envs
    print(f"\nfirst version ready in {took1:.1f}s (environment built), second in {took2:.1f}s (reused)")


def test_unsatisfiable_requirement_fails_the_deployment(uv_server):
    name = unique_name("sk")
    _log_version(name, 1.0, ["mlflow==3.17.2", "scikit-learn==99"])
    dep, d, _ = _deploy_and_wait(uv_server, f"models:/{name}/1")
    assert d["status"]["state"] == "failed", d
    error = d["status"]["error"]
    assert "No solution found" in error and "scikit-learn==99" in error, error


def test_requirement_naming_an_index_is_refused(uv_server, tmp_path):
    name = unique_name("sk")
    model_dir = _saved_model_dir(tmp_path / name)
    (model_dir / "requirements.txt").write_text("--index-url http://127.0.0.1:9/simple\nscikit-learn==1.9.1\n")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    dep, d, _ = _deploy_and_wait(uv_server, f"models:/{name}/{mv.version}")
    assert d["status"]["state"] == "failed", d
    error = d["status"]["error"]
    assert "refused" in error and "--index-url" in error, error


def _saved_model_dir(path: Path) -> Path:
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2)
    mlflow.sklearn.save_model(LinearRegression().fit(X, X[:, 0]), str(path), pip_requirements=REQUIREMENTS)
    return path


def test_local_interpreter_without_mlflow_says_what_to_do(tmp_path_factory):
    """The README's server (python3 with no mlflow, no uv asked for): the failure says how
    to fix it instead of only naming the missing module."""
    srv = Server("mlship", tmp_path_factory.mktemp("local"), ["--env-manager", "local", "--python", _bare_python()])
    srv.start()
    prev = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    try:
        name = unique_name("sk")
        _log_version(name, 1.0, REQUIREMENTS)
        _, d, _ = _deploy_and_wait(srv, f"models:/{name}/1")
    finally:
        mlflow.set_tracking_uri(prev)
        srv.stop()
    assert d["status"]["state"] == "failed", d
    error = d["status"]["error"]
    assert "No module named" in error and "--env-manager uv" in error and "--python" in error, error
