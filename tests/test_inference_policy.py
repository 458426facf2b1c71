"""Who may call a model: a deployment's inference policy (public, or a credential with READ
on it), the scrape token of /metrics, and the identity of `mlship serve`, through the real
binary with requests, tritonclient and the command line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import mlflow
import mlflow.onnx
import numpy as np
import pytest
import requests
from conftest import REPO_ROOT, Server
from helpers import pinned, unique_name

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-policies"
ADMIN = ("admin", ADMIN_PASSWORD)
SCRAPE_TOKEN = "scrape-" + "0123456789abcdef" * 2
BIN = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
N_FEATURES = 4


@pytest.fixture(scope="module")
def onnx_model():
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    return to_onnx(clf, X[:1], options={id(clf): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3}), X


@pytest.fixture(scope="module")
def srv():
    base = Path(tempfile.mkdtemp(prefix="mlship-policy-"))
    token_file = base / "scrape-token"
    token_file.write_text(SCRAPE_TOKEN + "\n")
    s = Server("mlship", base, ["--auth", "--metrics-token-file", str(token_file)],
               env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    s.start()
    yield s
    s.stop()
    shutil.rmtree(base, ignore_errors=True)


def cli(s, token, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLSHIP_"))}
    env.update(MLSHIP_SERVER=s.url, MLSHIP_TOKEN=token)
    p = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, (args, p.stderr)
    return p


def token(s, auth, scopes):
    r = requests.post(s.url + "/api/v1/tokens", auth=auth, json={"name": unique_name("t"), "scopes": scopes}, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def deployment(srv, onnx_model):
    """One deployment, created with the default policy; the tests change it in order."""
    onx, _ = onnx_model
    model = unique_name("policy-model")
    prev = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ.update(MLFLOW_TRACKING_USERNAME=ADMIN[0], MLFLOW_TRACKING_PASSWORD=ADMIN[1])
    uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(srv.url)
    try:
        mlflow.set_experiment(unique_name("policy"))
        with mlflow.start_run():
            mlflow.onnx.log_model(onx, name="model", registered_model_name=model, pip_requirements=pinned("onnx"))
    finally:
        mlflow.set_tracking_uri(uri)
        for k, v in prev.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    admin = token(srv, ADMIN, "admin")
    dep = unique_name("policy-dep")
    cli(srv, admin, "deploy", "create", dep, f"models:/{model}/1", "--wait", "60s")
    r = requests.post(srv.url + "/api/v1/users", auth=ADMIN, json={"name": "rita", "password": "rita-password-12"}, timeout=30)
    assert r.status_code == 201, r.text
    return {"name": dep, "model": model, "admin": admin, "reader": token(srv, ("rita", "rita-password-12"), "read")}


def infer_body(X):
    rows = X[:3]
    return {"inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}


def calls(url, dep, X, headers=None):
    """The status of each inference protocol's call."""
    rows = X[:3].tolist()
    return {
        "v2": requests.post(f"{url}/v2/models/{dep}/infer", json=infer_body(X), headers=headers, timeout=30).status_code,
        "v2 metadata": requests.get(f"{url}/v2/models/{dep}", headers=headers, timeout=30).status_code,
        "invocations": requests.post(f"{url}/deployments/{dep}/invocations", json={"inputs": {"X": rows}},
                                     headers=headers, timeout=30).status_code,
        "v1": requests.post(f"{url}/v1/models/{dep}:predict", json={"instances": rows}, headers=headers, timeout=30).status_code,
    }


def triton(s, dep, X, headers=None):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=f"{s.host}:{s.port}")
    rows = X[:3]
    inp = httpclient.InferInput("X", list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows, binary_data=True)
    return client.infer(dep, inputs=[inp], headers=headers).as_numpy("label")


def test_authenticated_deployment_needs_read(srv, deployment, onnx_model):
    from tritonclient.utils import InferenceServerException

    _, X = onnx_model
    dep = deployment["name"]
    shown = json.loads(cli(srv, deployment["admin"], "deploy", "show", dep, "-o", "json").stdout)
    assert shown["spec"]["inference"] == "authenticated"
    assert set(calls(srv.url, dep, X).values()) == {401}
    reader = {"Authorization": "Bearer " + deployment["reader"]}
    assert set(calls(srv.url, dep, X, reader).values()) == {200}
    with pytest.raises(InferenceServerException) as refused:
        triton(srv, dep, X)
    assert "401" in str(refused.value.status()) or "sign in" in str(refused.value)
    assert triton(srv, dep, X, reader).shape == (3,)


def test_public_deployment_answers_anyone_but_not_its_management(srv, deployment, onnx_model):
    _, X = onnx_model
    dep, model = deployment["name"], deployment["model"]
    # A reader may not open it: changing the policy needs the deploy scope and MANAGE.
    refused = cli(srv, deployment["reader"], "deploy", "update", dep, f"models:/{model}/1", "--public", check=False)
    assert refused.returncode != 0 and "scope" in refused.stderr
    cli(srv, deployment["admin"], "deploy", "update", dep, f"models:/{model}/1", "--public")
    listed = cli(srv, deployment["admin"], "deploy", "list").stdout
    assert any(dep in line and "public" in line for line in listed.splitlines()), listed

    assert set(calls(srv.url, dep, X).values()) == {200}
    assert triton(srv, dep, X).shape == (3,)
    # Its management routes are not public.
    for method, path in (("GET", f"/api/v1/deployments/{dep}"), ("GET", f"/api/v1/deployments/{dep}/payloads"),
                         ("DELETE", f"/api/v1/deployments/{dep}")):
        assert requests.request(method, srv.url + path, timeout=30).status_code == 401, path
    # A wrong credential is refused even on a public route.
    assert calls(srv.url, dep, X, {"Authorization": "Bearer mls_" + "A" * 43})["v2"] == 401

    # The change is in the audit trail, by whom it was made.
    r = requests.get(srv.url + "/api/v1/audit", params={"object": dep}, auth=ADMIN, timeout=30)
    actions = [(e["actor"], e["action"]) for e in r.json()["entries"]]
    assert ("admin", "PUT deployments/{name} (inference: public)") in actions, actions

    # Updated without --public, it needs credentials again.
    cli(srv, deployment["admin"], "deploy", "update", dep, f"models:/{model}/1")
    assert set(calls(srv.url, dep, X).values()) == {401}


def test_metrics_scrape_token(srv, deployment):
    get = lambda **kw: requests.get(srv.url + "/metrics", timeout=30, **kw)  # noqa: E731
    scraped = get(headers={"Authorization": "Bearer " + SCRAPE_TOKEN})
    assert scraped.status_code == 200 and "mlship_" in scraped.text
    assert get().status_code == 401
    assert get(headers={"Authorization": "Bearer " + SCRAPE_TOKEN[:-1]}).status_code == 401
    assert get(headers={"Authorization": "Bearer " + deployment["reader"]}).status_code == 403
    assert get(auth=ADMIN).status_code == 200


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlship_serve_beyond_loopback_needs_an_identity(tmp_path):
    p = subprocess.run([BIN, "serve", str(tmp_path / "missing.onnx"), "--host", "0.0.0.0", "--port", str(_free_port())],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert "--token-file" in p.stderr and "--public" in p.stderr


def test_mlship_serve_with_a_token_file(onnx_model, tmp_path):
    from tritonclient.utils import InferenceServerException

    onx, X = onnx_model
    path = tmp_path / "policy.onnx"
    path.write_bytes(onx.SerializeToString())
    tokens = tmp_path / "tokens"
    tokens.write_text("# scorers\nscorer-token-0123456789abcdef\n")
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([BIN, "serve", str(path), "--port", str(port), "--token-file", str(tokens)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # the probes need no token
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if requests.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        good = {"Authorization": "Bearer scorer-token-0123456789abcdef"}
        bad = {"Authorization": "Bearer scorer-token-0123456789abcdeF"}
        body = infer_body(X)
        assert requests.post(url + "/v2/models/policy/infer", json=body, timeout=30).status_code == 401
        assert requests.post(url + "/v2/models/policy/infer", json=body, headers=bad, timeout=30).status_code == 401
        assert requests.post(url + "/v2/models/policy/infer", json=body, headers=good, timeout=30).status_code == 200
        assert requests.post(url + "/invocations", json={"inputs": {"X": X[:2].tolist()}}, headers=good, timeout=30).status_code == 200
        assert requests.get(url + "/metrics", timeout=30).status_code == 401
        assert requests.get(url + "/metrics", headers=good, timeout=30).status_code == 200

        import tritonclient.http as httpclient

        client = httpclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        inp = httpclient.InferInput("X", [2, N_FEATURES], "FP32")
        inp.set_data_from_numpy(X[:2], binary_data=True)
        assert client.infer("policy", inputs=[inp], headers=good).as_numpy("label").shape == (2,)
        with pytest.raises(InferenceServerException):
            client.infer("policy", inputs=[inp])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
