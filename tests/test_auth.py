"""Identities on (--auth): the MLflow client signs in with a password or a token, a token's
scopes bound what it may do, revocation is immediate, failed sign-ins are limited, and a server
that would listen beyond loopback with no authentication refuses to start."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import mlflow
import pytest
import requests
from conftest import REPO_ROOT, Server
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-tests"
BIN = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")


@pytest.fixture(scope="module")
def auth_server():
    base = Path(tempfile.mkdtemp(prefix="mlship-auth-"))
    old = os.environ.get("MLSHIP_ADMIN_PASSWORD")
    os.environ["MLSHIP_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    try:
        srv = Server("mlship", base, ["--auth"])
        srv.start()
    finally:
        if old is None:
            os.environ.pop("MLSHIP_ADMIN_PASSWORD", None)
        else:
            os.environ["MLSHIP_ADMIN_PASSWORD"] = old
    yield srv
    srv.stop()


ADMIN = ("admin", ADMIN_PASSWORD)


def api(srv, method, path, auth=ADMIN, **kw):
    headers = kw.pop("headers", {})
    if isinstance(auth, str):
        headers["Authorization"] = f"Bearer {auth}"
        auth = None
    return requests.request(method, srv.url + path, auth=auth, headers=headers, timeout=30, **kw)


def token(srv, scopes, user=None, auth=ADMIN):
    body = {"name": f"test-{scopes}", "scopes": scopes}
    if user:
        body["user"] = user
    r = api(srv, "POST", "/api/v1/tokens", auth=auth, json=body)
    assert r.status_code == 201, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    return r.json()


@pytest.fixture
def as_identity(monkeypatch):
    """Points the MLflow client's credentials at one identity: a (user, password) pair or a token."""

    def use(cred):
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        if isinstance(cred, tuple):
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", cred[0])
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", cred[1])
        elif cred:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", cred)

    return use


def denied(fn, code="PERMISSION_DENIED", status=403):
    with pytest.raises((MlflowException, RestException)) as e:
        fn()
    assert e.value.error_code == code, e.value
    assert e.value.get_http_status_code() == status, e.value
    return e.value


def test_mlflow_client_with_password_and_scoped_tokens(auth_server, as_identity):
    srv = auth_server
    client = MlflowClient(tracking_uri=srv.url)

    as_identity(None)
    denied(lambda: client.search_experiments(), code="UNAUTHENTICATED", status=401)

    as_identity(("admin", "not-the-password"))
    err = denied(lambda: client.search_experiments(), code="UNAUTHENTICATED", status=401)
    assert "invalid credentials" in str(err) and ADMIN_PASSWORD not in str(err)

    # The administrator, by password: writes as the MLflow client always has.
    as_identity(ADMIN)
    exp = client.create_experiment("auth-owned")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "loss", 0.5)
    client.create_registered_model("auth-model")

    # A user and a read-only token for them.
    r = api(srv, "POST", "/api/v1/users", json={"name": "ana", "password": "ana-password-12"})
    assert r.status_code == 201, r.text
    # Under the default permission (READ) ana reads every experiment; writing to this one
    # needs a grant.
    r = api(srv, "POST", "/api/v1/permissions", json={"kind": "experiment", "object": exp, "user": "ana", "level": "EDIT"})
    assert r.status_code == 200, r.text
    reader = token(srv, "read", auth=("ana", "ana-password-12"))
    assert reader["scopes"] == ["read"] and reader["token"].startswith("mls_")

    as_identity(reader["token"])
    assert [e.name for e in client.search_experiments() if e.name == "auth-owned"] == ["auth-owned"]
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}
    denied(lambda: client.log_metric(run.info.run_id, "loss", 0.1))
    denied(lambda: client.delete_registered_model("auth-model"))
    denied(lambda: client.set_registered_model_alias("auth-model", "prod", "1"))
    denied(lambda: client.create_experiment("by-a-reader"))
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}

    # ana herself (password) may write; her token of write scope too.
    as_identity(("ana", "ana-password-12"))
    client.log_metric(run.info.run_id, "loss", 0.25)
    writer = token(srv, "write", auth=("ana", "ana-password-12"))
    assert writer["scopes"] == ["read", "write"]
    as_identity(writer["token"])
    client.set_tag(run.info.run_id, "by", "token")

    # No token of more scopes than its creator's: ana is no administrator.
    r = api(srv, "POST", "/api/v1/tokens", auth=("ana", "ana-password-12"), json={"scopes": "admin"})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    r = api(srv, "POST", "/api/v1/tokens", auth=reader["token"], json={"scopes": "write"})
    assert r.status_code == 403, r.text
    # Nor may a reader's token manage users.
    r = api(srv, "GET", "/api/v1/users", auth=reader["token"])
    assert r.status_code == 403, r.text

    # Revoking takes effect on the next request.
    r = api(srv, "DELETE", f"/api/v1/tokens/{writer['id']}", auth=("ana", "ana-password-12"))
    assert r.status_code == 200, r.text
    denied(lambda: client.set_tag(run.info.run_id, "by", "revoked"), code="UNAUTHENTICATED", status=401)
    listed = api(srv, "GET", "/api/v1/tokens", auth=("ana", "ana-password-12")).json()["tokens"]
    assert {t["id"]: "revoked_at" in t for t in listed} == {writer["id"]: True, reader["id"]: False}
    assert all("token" not in t for t in listed)  # secrets are shown once

    # The fluent API with MLFLOW_TRACKING_TOKEN, as a CI job would.
    ci = token(srv, "write", auth=ADMIN)
    as_identity(ci["token"])
    prev = mlflow.get_tracking_uri()  # set_tracking_uri also sets MLFLOW_TRACKING_URI
    mlflow.set_tracking_uri(srv.url)
    try:
        mlflow.set_experiment("auth-ci")
        with mlflow.start_run():
            mlflow.log_param("p", 1)
            mlflow.log_metric("m", 2.0)
    finally:
        mlflow.set_tracking_uri(prev)


def test_expired_and_garbage_tokens_are_refused_alike(auth_server):
    srv = auth_server
    short = token(srv, "read", auth=ADMIN)
    for bad in ("mls_" + "A" * 43, short["token"][:-1] + ("B" if short["token"][-1] != "B" else "C"), "not-a-token"):
        r = api(srv, "GET", "/api/v1/whoami", auth=bad)
        assert r.status_code == 401 and r.json()["message"] == "invalid credentials", (bad, r.text)
    r = api(srv, "POST", "/api/v1/tokens", json={"scopes": "read", "expires_in": "-1h"})
    assert r.status_code == 400, r.text
    assert api(srv, "GET", "/api/v1/whoami", auth=short["token"]).json()["scopes"] == ["read"]


def test_failed_sign_ins_are_limited(auth_server):
    srv = auth_server
    r = api(srv, "POST", "/api/v1/users", json={"name": "target", "password": "target-password"})
    assert r.status_code == 201, r.text
    codes = [api(srv, "GET", "/api/v1/whoami", auth=("target", f"guess-{i}")).status_code for i in range(12)]
    # Ten failures per name (fewer when this client failed before), then 429 until the window passes.
    assert 429 in codes, codes
    first = codes.index(429)
    assert 0 < first <= 10 and set(codes[:first]) == {401} and set(codes[first:]) == {429}, codes
    # Past the limit even the right password waits: the guesser learns nothing.
    r = api(srv, "GET", "/api/v1/whoami", auth=("target", "target-password"))
    assert r.status_code == 429 and "retry" in r.json()["message"], r.text


def test_the_audit_trail_never_takes_a_name_from_the_request(auth_server):
    r = api(auth_server, "PUT", "/api/v1/models/auth-model/aliases/prod", json={"version": "1", "actor": "someone-else"})
    assert r.status_code == 400 and "signed-in identity" in r.json()["message"], r.text


def test_cli_signs_in_with_a_token(auth_server, tmp_path):
    srv = auth_server
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLSHIP_"))}
    env["MLSHIP_SERVER"] = srv.url
    p = subprocess.run([BIN, "whoami"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "sign in" in p.stderr, (p.returncode, p.stderr)
    env["MLSHIP_TOKEN"] = token(srv, "read,deploy", auth=ADMIN)["token"]
    p = subprocess.run([BIN, "whoami", "-o", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["scopes"] == ["read", "deploy"]
    p = subprocess.run([BIN, "users", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "admin scope" in p.stderr, p.stderr
    # Probes stay open for load balancers.
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200


def test_listening_beyond_loopback_needs_auth(tmp_path):
    p = subprocess.run([BIN, "server", "--host", "0.0.0.0", "--port", "1", "--data-dir", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 2 and "--auth" in p.stderr and "--insecure-no-auth" in p.stderr, (p.returncode, p.stderr)
