"""Permissions on objects (--auth): grants of READ, EDIT and MANAGE to users and teams on
experiments and registered models, the default permission for objects nobody granted the
caller anything on, and searches that list only what the caller may read."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from conftest import REPO_ROOT, Server
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-perms"
ADMIN = ("admin", ADMIN_PASSWORD)
BIN = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")


def start(default_permission):
    base = Path(tempfile.mkdtemp(prefix="mlship-perms-"))
    srv = Server("mlship", base, ["--auth", "--default-permission", default_permission],
                 env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    srv.start()
    return srv


@pytest.fixture(scope="module")
def closed_server():
    srv = start("NO_PERMISSIONS")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def open_server():
    srv = start("READ")
    yield srv
    srv.stop()


def api(srv, method, path, auth=ADMIN, **kw):
    r = requests.request(method, srv.url + path, auth=auth, timeout=30, **kw)
    return r


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def user(srv, name):
    password = f"{name}-password-long"
    ok(api(srv, "POST", "/api/v1/users", json={"name": name, "password": password}), 201)
    return (name, password)


def grant(srv, auth=ADMIN, **body):
    return ok(api(srv, "POST", "/api/v1/permissions", auth=auth, json=body))


def client_as(monkeypatch, srv, cred):
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", cred[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", cred[1])
    return MlflowClient(tracking_uri=srv.url)


def denied(fn):
    with pytest.raises((MlflowException, RestException)) as e:
        fn()
    assert e.value.error_code == "PERMISSION_DENIED", e.value
    assert e.value.get_http_status_code() == 403, e.value
    return e.value


def test_editor_of_one_experiment_cannot_read_another(closed_server, monkeypatch):
    srv = closed_server
    owner, editor = user(srv, "owner"), user(srv, "editor")
    c = client_as(monkeypatch, srv, owner)
    a = c.create_experiment("perm-a")  # the creator manages what it creates
    b = c.create_experiment("perm-b")
    run_b = c.create_run(b).info.run_id
    grant(srv, auth=owner, kind="experiment", object=a, user="editor", level="EDIT")

    e = client_as(monkeypatch, srv, editor)
    run_a = e.create_run(a).info.run_id
    e.log_metric(run_a, "loss", 0.5)
    assert e.get_run(run_a).data.metrics == {"loss": 0.5}
    denied(lambda: e.get_experiment(b))
    denied(lambda: e.get_run(run_b))
    denied(lambda: e.log_metric(run_b, "loss", 1.0))
    denied(lambda: e.delete_experiment(a))  # deleting needs MANAGE
    names = [x.name for x in e.search_experiments()]
    assert names == ["perm-a"], names
    assert [r.info.run_id for r in e.search_runs([a, b])] == [run_a]
    # Granting needs MANAGE on the object.
    r = api(srv, "POST", "/api/v1/permissions", auth=editor,
            json={"kind": "experiment", "object": a, "user": "owner", "level": "READ"})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text


def test_team_grant_gives_every_member_access(closed_server, monkeypatch):
    srv = closed_server
    admin = client_as(monkeypatch, srv, ADMIN)
    exp = admin.create_experiment("perm-team")
    admin.create_registered_model("perm-team-model")
    ana, bo, cy = user(srv, "ana"), user(srv, "bo"), user(srv, "cy")
    ok(api(srv, "POST", "/api/v1/teams", json={"name": "fraud"}), 201)
    for m in ("ana", "bo"):
        ok(api(srv, "PUT", f"/api/v1/teams/fraud/members/{m}", json={}))
    grant(srv, kind="experiment", object=exp, team="fraud", level="EDIT")
    grant(srv, kind="registered_model", object="perm-team-model", team="fraud", level="READ")

    for cred in (ana, bo):
        c = client_as(monkeypatch, srv, cred)
        run = c.create_run(exp).info.run_id
        c.log_param(run, "who", cred[0])
        assert c.get_registered_model("perm-team-model").name == "perm-team-model"
        assert [m.name for m in c.search_registered_models()] == ["perm-team-model"]
    c = client_as(monkeypatch, srv, cy)
    denied(lambda: c.get_experiment(exp))
    denied(lambda: c.get_registered_model("perm-team-model"))
    assert c.search_registered_models() == []

    # Leaving the team takes the access away on the next request.
    ok(api(srv, "DELETE", "/api/v1/teams/fraud/members/bo", json={}))
    c = client_as(monkeypatch, srv, bo)
    denied(lambda: c.get_experiment(exp))
    listed = ok(api(srv, "GET", f"/api/v1/permissions?kind=experiment&object={exp}"))["grants"]
    assert {"team": "fraud", "level": "EDIT"}.items() <= listed[-1].items(), listed


def test_reader_cannot_write(closed_server, monkeypatch):
    srv = closed_server
    admin = client_as(monkeypatch, srv, ADMIN)
    exp = admin.create_experiment("perm-read")
    run = admin.create_run(exp).info.run_id
    admin.log_metric(run, "loss", 0.25)
    admin.create_registered_model("perm-read-model")
    mv = admin.create_model_version("perm-read-model", "mlflow-artifacts:/x", run_id=run)
    reader = user(srv, "reader")
    grant(srv, kind="experiment", object=exp, user="reader", level="READ")
    grant(srv, kind="registered_model", object="perm-read-model", user="reader", level="READ")

    c = client_as(monkeypatch, srv, reader)
    assert c.get_run(run).data.metrics == {"loss": 0.25}
    assert [r.info.run_id for r in c.search_runs([exp])] == [run]
    assert [v.version for v in c.search_model_versions("name = 'perm-read-model'")] == [mv.version]
    denied(lambda: c.log_metric(run, "loss", 0.1))
    denied(lambda: c.set_tag(run, "k", "v"))
    denied(lambda: c.set_registered_model_alias("perm-read-model", "champion", mv.version))
    denied(lambda: c.delete_registered_model("perm-read-model"))
    # Revoking leaves the default, NO_PERMISSIONS here.
    ok(api(srv, "DELETE", "/api/v1/permissions", json={"kind": "experiment", "object": exp, "user": "reader"}))
    denied(lambda: c.get_run(run))


def test_default_read_and_explicit_denial(open_server, monkeypatch):
    srv = open_server
    admin = client_as(monkeypatch, srv, ADMIN)
    exp = admin.create_experiment("perm-open")
    hidden = admin.create_experiment("perm-hidden")
    run = admin.create_run(exp).info.run_id
    dee = user(srv, "dee")
    grant(srv, kind="experiment", object=hidden, user="dee", level="DENY")
    # NO_PERMISSIONS is no grant: granting it is refused (revoke instead), as MLflow 3 refuses it.
    r = api(srv, "POST", "/api/v1/permissions", json={"kind": "experiment", "object": exp, "user": "dee",
                                                       "level": "NO_PERMISSIONS"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text

    c = client_as(monkeypatch, srv, dee)
    assert c.get_experiment(exp).name == "perm-open"  # READ by default
    denied(lambda: c.log_metric(run, "loss", 0.1))  # but not EDIT
    denied(lambda: c.get_experiment(hidden))
    names = {x.name for x in c.search_experiments()}
    assert "perm-open" in names and "perm-hidden" not in names, names
    mine = c.create_experiment("perm-dee")  # and a creator manages its own
    c.delete_experiment(mine)


def test_cli_grants(closed_server, monkeypatch):
    srv = closed_server
    admin = client_as(monkeypatch, srv, ADMIN)
    exp = admin.create_experiment("perm-cli")
    user(srv, "eve")
    env = {**os.environ, "MLSHIP_TRACKING_URI": srv.url, "MLFLOW_TRACKING_URI": srv.url,
           "MLFLOW_TRACKING_USERNAME": ADMIN[0], "MLFLOW_TRACKING_PASSWORD": ADMIN[1]}
    env.pop("MLFLOW_TRACKING_TOKEN", None)

    def cli(*args):
        return subprocess.run([BIN, "permissions", *args], env=env, capture_output=True, text=True, timeout=60)

    p = cli("grant", "experiment", exp, "--user", "eve", "--level", "edit")
    assert p.returncode == 0, p.stderr
    p = cli("list", "experiment", exp)
    assert p.returncode == 0 and "eve" in p.stdout and "EDIT" in p.stdout, p.stdout + p.stderr
    p = cli("revoke", "experiment", exp, "--user", "eve")
    assert p.returncode == 0, p.stderr
    p = cli("grant", "experiment", exp, "--user", "eve", "--level", "ALL")
    assert p.returncode != 0 and "unknown permission" in p.stderr, p.stderr


def test_registering_a_version_needs_read_on_its_source_run(closed_server, monkeypatch):
    """Registering copies the run's files into the version, so a version of another team's
    run would let its artifacts be read: the caller must read the run's experiment."""
    srv = closed_server
    alice, mallory = user(srv, "src-alice"), user(srv, "src-mallory")
    a = client_as(monkeypatch, srv, alice)
    secret = a.create_experiment("src-secret")
    run = a.create_run(secret).info.run_id
    a.log_text(run, "the secret", "model/MLmodel")

    m = client_as(monkeypatch, srv, mallory)
    m.create_registered_model("src-stolen")  # mallory manages her own model
    for source in (f"runs:/{run}/model", f"mlflow-artifacts:/{secret}/{run}/artifacts/model"):
        denied(lambda: m.create_model_version("src-stolen", source, run_id=run))
        denied(lambda: m.create_model_version("src-stolen", source))
    assert m.search_model_versions("name='src-stolen'") == []

    # Once she may read the experiment, she may register its run.
    grant(srv, auth=alice, kind="experiment", object=secret, user="src-mallory", level="READ")
    v = m.create_model_version("src-stolen", f"runs:/{run}/model", run_id=run)
    assert v.version == "1" and v.run_id == run
