"""Model code runs sandboxed, and commands are the operator's: the attack chain of an
anonymous client, step by step, through the real binary.

1. A deployment that carries a command line is refused (400) and runs nothing.
2. A pickled model whose ``__reduce__`` writes a file outside its directory, connects to a
   listener on the host's loopback and reads /etc/shadow loads in the sandbox: its code
   runs (it says so in the load error) and achieves none of it.
3. The same from a ``loader_module`` shipped in the model's ``code/``.
4. The server keeps serving a scikit-learn deployment meanwhile.
5. /api/v1/server-info names the sandbox.
6. A server with no sandbox refuses to load Python models unless told it may.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from conftest import Server
from helpers import pinned, unique_name

pytestmark = pytest.mark.mlship_only

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 180


class Listener:
    """A TCP listener on the host's loopback that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def host_dir(tmp_path):
    """A host directory open to every user: only the sandbox keeps a worker out of it."""
    d = tmp_path / "host"
    d.mkdir()
    for p in (tmp_path, d):
        p.chmod(0o777)
    tmp_path.parent.chmod(0o755)
    return d


def _probe_code(host_dir: Path, port: int) -> str:
    """Python that tries what an attacker's model would, then raises with what happened,
    so that the deployment's load error shows the code ran and what it got."""
    return f"""
import os, socket
seen = ["uid=%d" % os.getuid()]
try:
    open({str(host_dir / "pwned")!r}, "w").write("written by a model")
    seen.append("write=ok")
except Exception as e:
    seen.append("write=" + type(e).__name__)
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    seen.append("connect=ok")
except Exception as e:
    seen.append("connect=" + type(e).__name__)
try:
    shadow = open("/etc/shadow").read()
    open({str(host_dir / "shadow")!r}, "w").write(shadow)
    seen.append("shadow=ok")
except Exception as e:
    seen.append("shadow=" + type(e).__name__)
raise RuntimeError("sandbox probe: " + " ".join(seen))
"""


class _Exploit:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _register(model_dir: Path) -> tuple[str, str]:
    name = unique_name("untrusted")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return name, str(mv.version)


def _deployment(server, name):
    return requests.get(f"{server.url}/api/v1/deployments/{name}", timeout=10).json()


def _wait_state(server, name, states=("ready", "failed"), timeout=READY_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        d = _deployment(server, name)
        if d["status"]["state"] in states:
            return d
        assert time.monotonic() < deadline, f"deployment {name} still {d['status']['state']} after {timeout}s: {d}"
        time.sleep(0.3)


def _deploy(server, model, **spec):
    name = unique_name("dep")
    r = requests.post(f"{server.url}/api/v1/deployments", json={"name": name, "model": model, "workers": 1, **spec}, timeout=30)
    assert r.status_code == 200, r.text
    return name


def _delete(server, name):
    requests.delete(f"{server.url}/api/v1/deployments/{name}", timeout=60)


def _assert_contained(d, host_dir: Path, listener: Listener):
    error = d["status"]["models"][0].get("error", "")
    assert "sandbox probe:" in error, f"the model's code did not run, so nothing was tested: {d}"
    assert "write=ok" not in error and "connect=ok" not in error and "shadow=ok" not in error, error
    if os.geteuid() == 0:
        assert "uid=65534" in error, error
    assert list(host_dir.iterdir()) == [], "a model wrote to the host"
    assert listener.accepted == 0, "a model connected to the host's loopback"


@pytest.fixture(scope="module")
def sklearn_deployment(server):
    """A scikit-learn deployment that must keep answering while untrusted models load."""
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2)
    y = X @ [1.5, -2.0] + 3
    model = LinearRegression().fit(X, y)
    name = unique_name("trusted")
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=name)
    dep = _deploy(server, f"models:/{name}/1")
    d = _wait_state(server, dep)
    assert d["status"]["state"] == "ready", d
    yield dep, model
    _delete(server, dep)


def _still_serving(server, sklearn_deployment):
    dep, model = sklearn_deployment
    rows = [[1.0, 2.0], [3.0, 5.0]]
    r = requests.post(f"{server.url}/deployments/{dep}/invocations", json={"inputs": rows}, timeout=60)
    assert r.status_code == 200, r.text
    assert np.allclose(r.json()["predictions"], model.predict(np.array(rows))), r.text
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200


def test_deployment_with_a_command_line_is_refused(server, tmp_path):
    marker = tmp_path / "pwned"
    name = unique_name("cmd")
    for spec in (
        {"runtime": "command", "command": ["sh", "-c", f"id > {marker}"]},
        {"command": ["sh", "-c", f"id > {marker}"]},
    ):
        r = requests.post(f"{server.url}/api/v1/deployments", json={"name": name, "model": "models:/x/1", **spec}, timeout=30)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
        assert "--runtimes-config" in r.json()["message"], r.text
    r = requests.post(f"{server.url}/api/v1/deployments", json={"name": name, "model": "models:/x/1", "runtime": "command"}, timeout=30)
    assert r.status_code == 400 and "unknown runtime" in r.json()["message"], r.text
    assert requests.get(f"{server.url}/api/v1/deployments/{name}", timeout=10).status_code == 404
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    cli = subprocess.run([binary, "deploy", "create", name, "models:/x/1", "--command", f"touch {marker}"],
                         env={**os.environ, "MLSHIP_SERVER": server.url}, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert cli.returncode == 2 and "--runtimes-config" in cli.stderr, cli
    time.sleep(1)
    assert not marker.exists()


def test_pickled_model_runs_contained(server, tmp_path, host_dir, listener, sklearn_deployment):
    model_dir = tmp_path / "pickled"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n"
        "    python_model: python_model.pkl\n    python_version: \"3.11\"\n"
    )
    (model_dir / "python_model.pkl").write_bytes(pickle.dumps(_Exploit(_probe_code(host_dir, listener.port))))
    _deploy_and_check_contained(server, model_dir, host_dir, listener, sklearn_deployment)


def _deploy_and_check_contained(server, model_dir, host_dir, listener, sklearn_deployment):
    """Registers and deploys the model, whose loading runs the probe, and checks that the
    probe did none of what it tried while the server went on serving."""
    name, version = _register(model_dir)
    dep = _deploy(server, f"models:/{name}/{version}")
    try:
        d = _wait_state(server, dep, states=("failed",))
        _assert_contained(d, host_dir, listener)
        _still_serving(server, sklearn_deployment)
    finally:
        _delete(server, dep)


def _loader_module_model(tmp_path, host_dir, listener):
    """A pyfunc model whose loader_module runs the probe as it loads."""
    model_dir = tmp_path / "loader"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_evil_loader\n    code: code\n    python_version: \"3.11\"\n"
    )
    body = "\n    ".join(_probe_code(host_dir, listener.port).strip().splitlines())
    (model_dir / "code" / "mlship_evil_loader.py").write_text(f"def _load_pyfunc(path):\n    {body}\n")
    return model_dir


def test_loader_module_runs_contained(server, tmp_path, host_dir, listener, sklearn_deployment):
    _deploy_and_check_contained(server, _loader_module_model(tmp_path, host_dir, listener), host_dir, listener,
                                sklearn_deployment)


def test_server_info_names_the_sandbox(server):
    r = requests.get(f"{server.url}/api/v1/server-info", timeout=10)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["version"], info
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed here (make system-deps installs it)")
    workers = info["workers"]
    assert workers["sandbox"] == "bubblewrap", info
    assert workers["limits"]["memory_bytes"] == 8 << 30 and workers["limits"]["processes"] == 1024, info
    assert {"auto", "python", "r", "onnx"} <= set(workers["runtimes"]), info


@pytest.fixture(scope="module")
def unsandboxed_server(tmp_path_factory):
    srv = Server("mlship", tmp_path_factory.mktemp("nosandbox"), ["--worker-sandbox", "none"])
    srv.start()
    yield srv
    srv.stop()


def test_no_sandbox_refuses_python_models(unsandboxed_server, tmp_path, host_dir, listener):
    srv = unsandboxed_server
    assert requests.get(f"{srv.url}/api/v1/server-info", timeout=10).json()["workers"]["sandbox"] == "none"
    prev = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    try:
        name, version = _register(_loader_module_model(tmp_path, host_dir, listener))
        dep = _deploy(srv, f"models:/{name}/{version}")
        d = _wait_state(srv, dep, states=("failed",))
    finally:
        mlflow.set_tracking_uri(prev)
    error = d["status"]["error"]
    assert "no sandbox" in error and "--unsafe-unsandboxed-workers" in error and "bubblewrap" in error, d
    assert "sandbox probe" not in error, d
    assert list(host_dir.iterdir()) == [] and listener.accepted == 0


def test_declared_runtime_runs_sandboxed(tmp_path_factory, tmp_path):
    """A runtime the operator declares runs in the same sandbox, reading what it declares:
    here the Python worker of this checkout, run as a command."""
    import sys

    script_dir = REPO_ROOT / "runtimes" / "python"
    config = tmp_path / "runtimes.yaml"
    config.write_text(
        "runtimes:\n"
        "  pyworker:\n"
        f"    command: [{sys.executable!r}, '-u', {str(script_dir / 'mlship_worker.py')!r}]\n"
        f"    read_only: [{sys.prefix!r}, {sys.base_prefix!r}, {str(script_dir)!r}]\n"
        "    env: {MLSHIP_DECLARED: 'yes'}\n"
    )
    srv = Server("mlship", tmp_path_factory.mktemp("declared"), ["--runtimes-config", str(config)])
    srv.start()
    prev = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    try:
        info = requests.get(f"{srv.url}/api/v1/server-info", timeout=10).json()
        assert "pyworker" in info["workers"]["runtimes"], info
        from sklearn.linear_model import LinearRegression

        X = np.arange(20, dtype=float).reshape(10, 2)
        model = LinearRegression().fit(X, X @ [1.5, -2.0] + 3)
        name = unique_name("declared")
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=name)
        dep = _deploy(srv, f"models:/{name}/1", runtime="pyworker")
        d = _wait_state(srv, dep)
        assert d["status"]["state"] == "ready" and d["status"]["models"][0]["runtime"] == "pyworker", d
        r = requests.post(f"{srv.url}/deployments/{dep}/invocations", json={"inputs": [[1.0, 2.0]]}, timeout=60)
        assert r.status_code == 200 and np.allclose(r.json()["predictions"], model.predict([[1.0, 2.0]])), r.text
    finally:
        mlflow.set_tracking_uri(prev)
        srv.stop()
