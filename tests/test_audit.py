"""The audit trail: every state change is recorded with who made it, from where, on which
object, and its outcome, through the MLflow client and the command line alike; refused
requests are recorded too, records outlive their objects, and a server without --auth
records its actions as well."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import requests
from conftest import REPO_ROOT, Server
from helpers import mlship, pinned, unique_name
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-audit"
ADMIN = ("admin", ADMIN_PASSWORD)
BIN = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")


@pytest.fixture(scope="module")
def auth_server():
    base = Path(tempfile.mkdtemp(prefix="mlship-audit-"))
    srv = Server("mlship", base, ["--auth"], env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    srv.start()
    yield srv
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


def api(srv, method, path, auth=ADMIN, **kw):
    return requests.request(method, srv.url + path, auth=auth, timeout=30, **kw)


def cli(srv, token, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLSHIP_"))}
    env.update(MLSHIP_SERVER=srv.url, MLSHIP_TOKEN=token)
    p = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, (args, p.stderr)
    return p


@pytest.fixture
def signed_in(monkeypatch):
    def use(user=None, password=None, token=None):
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        if user:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        if token:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    return use


def find(entries, **want):
    return [e for e in entries if all(e.get(k) == v for k, v in want.items())]


def test_a_session_of_mixed_actions_names_who_did_what(auth_server, signed_in, tmp_path):
    from sklearn.dummy import DummyClassifier

    srv = auth_server
    for name in ("alice", "bob"):
        r = api(srv, "POST", "/api/v1/users", json={"name": name, "password": f"{name}-password-12"})
        assert r.status_code == 201, r.text
    r = api(srv, "POST", "/api/v1/tokens", auth=("bob", "bob-password-12"), json={"name": "laptop", "scopes": "read,write"})
    assert r.status_code == 201, r.text
    bob_token, bob_token_id = r.json()["token"], r.json()["id"]
    client = MlflowClient(tracking_uri=srv.url)

    # alice tracks a run with her password.
    signed_in("alice", "alice-password-12")
    exp = client.create_experiment(unique_name("audit-alice"))
    run = client.create_run(exp).info.run_id
    client.log_metric(run, "loss", 0.5)
    client.log_batch(run, params=[mlflow.entities.Param("depth", "3")])
    client.set_terminated(run)
    # ... and is refused what only an administrator may do.
    r = api(srv, "POST", "/api/v1/users", auth=("alice", "alice-password-12"), json={"name": "eve", "password": "eve-password-123"})
    assert r.status_code == 403, r.text

    # bob registers a model with his token, through the MLflow client.
    signed_in(token=bob_token)
    model = unique_name("audit-model")
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "target": [0, 1, 0, 1]})
    prev = mlflow.get_tracking_uri()  # set_tracking_uri also sets MLFLOW_TRACKING_URI
    mlflow.set_tracking_uri(srv.url)
    try:
        mlflow.set_experiment(unique_name("audit-bob"))
        with mlflow.start_run() as bob_run:
            mlflow.sklearn.log_model(DummyClassifier().fit(frame[["x"]], frame["target"]), name="model",
                                     pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=model, input_example=frame[["x"]].head(1))
    finally:
        mlflow.set_tracking_uri(prev)

    # bob, on the command line with the same token: a dataset, a benchmark protecting
    # production, and an override of the gate.
    path = tmp_path / "holdout.csv"
    frame.to_csv(path, index=False)
    data = unique_name("audit-holdout")
    cli(srv, bob_token, "data", "add", data, str(path))
    cli(srv, bob_token, "gate", "set", model, "--dataset", f"{data}/1", "--target", "target", "--task", "classification",
        "--threshold", "accuracy_score>=0.99")
    refused = cli(srv, bob_token, "models", "alias", model, "production", "1", check=False)
    assert refused.returncode != 0
    cli(srv, bob_token, "models", "alias", model, "production", "1", "--override", "audit drill")
    # Deleting the model keeps its records.
    signed_in(token=bob_token)
    client.delete_registered_model(model)

    # An unauthenticated request is recorded with no actor.
    assert requests.post(f"{srv.url}/api/2.0/mlflow/experiments/create", json={"name": "anon"}, timeout=30).status_code == 401

    admin_token = api(srv, "POST", "/api/v1/tokens", json={"name": "audit", "scopes": "admin"}).json()["token"]
    entries = json.loads(cli(srv, admin_token, "audit", "--all", "--limit", "50", "-o", "json").stdout)["entries"]
    assert all(e["address"] == "127.0.0.1" for e in entries), entries

    assert find(entries, actor="alice", action="POST runs/log-metric", object_kind="run", object=run, outcome="succeeded")
    assert find(entries, actor="alice", action="POST runs/log-batch", object=run, outcome="succeeded")
    assert find(entries, actor="alice", action="POST experiments/create", object_kind="experiment", outcome="succeeded")
    denied = find(entries, actor="alice", action="POST users", outcome="denied")
    assert len(denied) == 1 and denied[0]["status"] == 403, denied

    created = find(entries, actor="bob", action="POST registered-models/create", object_kind="registered_model", object=model)
    assert created and created[0]["token_id"] == bob_token_id and created[0]["outcome"] == "succeeded", created
    assert find(entries, actor="bob", object_kind="artifact", outcome="succeeded")
    assert find(entries, actor="bob", object_kind="run", object=bob_run.info.run_id)
    assert find(entries, actor="bob", object_kind="dataset", object=data, outcome="succeeded")
    assert find(entries, actor="bob", object_kind="benchmark", object=model, outcome="succeeded")
    moves = find(entries, actor="bob", object_kind="alias", object=f"{model}@production")
    assert [(m["outcome"], m.get("status")) for m in moves] == [("succeeded", None), ("failed", 409)], moves
    assert find(entries, actor="bob", action="DELETE registered-models/delete", object=model, outcome="succeeded")
    anonymous = find(entries, action="POST experiments/create", outcome="denied")
    assert [a["actor"] for a in anonymous] == [""] and anonymous[0]["status"] == 401, anonymous
    # The gate's own trail of the override names the same identity.
    overrides = api(srv, "GET", f"/api/v1/models/{model}/alias-audit").json()["entries"]
    assert [(o["action"], o["actor"]) for o in overrides] == [("override", "bob")], overrides

    # Filters, and the admin scope: bob may not read the trail.
    only = json.loads(cli(srv, admin_token, "audit", "--actor", "bob", "--object-kind", "alias", "-o", "json").stdout)
    assert only["entries"] == moves
    p = cli(srv, bob_token, "audit", check=False)
    assert p.returncode != 0 and "admin" in p.stderr, p.stderr
    p = cli(srv, admin_token, "audit", "--since", "yesterday", check=False)
    assert p.returncode == 2, p.stderr


def test_without_auth_actions_are_recorded_as_local(server):
    client = MlflowClient(tracking_uri=server.url)
    exp = client.create_experiment(unique_name("audit-local"))
    run = client.create_run(exp).info.run_id
    client.log_metric(run, "loss", 0.25)
    with pytest.raises(MlflowException):
        client.log_metric(run, "", 1.0)
    entries = json.loads(mlship(server, "audit", "--object", run, "-o", "json").stdout)["entries"]
    assert [(e["action"], e["actor"], e["address"], e["outcome"]) for e in entries] == [
        ("POST runs/log-metric", "local", "127.0.0.1", "failed"),
        ("POST runs/log-metric", "local", "127.0.0.1", "succeeded"),
        ("POST runs/create", "local", "127.0.0.1", "succeeded"),  # by the id the run was given
    ], entries


def test_created_objects_and_refusals_before_any_route(auth_server, signed_in):
    """A creation is recorded with the id its object was given; a request refused before any
    route ran (a foreign Host, a cross-origin change, a form body, a read without
    credentials) is recorded too, once a minute per address and check."""
    srv = auth_server
    signed_in(*ADMIN)
    client = MlflowClient(tracking_uri=srv.url)
    exp = client.create_experiment(unique_name("audit-ids"))
    run = client.create_run(exp).info.run_id
    model = unique_name("audit-ids-model")
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run}/model", run_id=run).version

    create = f"{srv.url}/api/2.0/mlflow/experiments/create"
    for _ in range(3):
        assert requests.get(f"{srv.url}/api/2.0/mlflow/experiments/search", headers={"Host": "evil.example"}, timeout=30).status_code == 403
    assert requests.post(create, json={"name": "csrf"}, auth=ADMIN, timeout=30,
                         headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert requests.post(create, data="name=form", auth=ADMIN, timeout=30,
                         headers={"Content-Type": "text/plain"}).status_code == 400
    assert requests.get(f"{srv.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": exp}, timeout=30).status_code == 401

    entries = api(srv, "GET", "/api/v1/audit", params={"max_results": 200}).json()["entries"]
    assert find(entries, action="POST experiments/create", object=exp, outcome="succeeded")
    assert find(entries, action="POST runs/create", object_kind="run", object=run, outcome="succeeded")
    assert find(entries, action="POST model-versions/create", object=f"{model}/{version}", outcome="succeeded")
    assert len(find(entries, route="edge host", outcome="denied", status=403)) == 1
    assert find(entries, route="edge cross-origin", actor="admin", outcome="denied")
    assert find(entries, route="POST /api/2.0/mlflow/experiments/create", actor="admin", status=400, outcome="denied")
    assert find(entries, route="GET /api/2.0/mlflow/experiments/get", actor="", status=401, outcome="denied")
