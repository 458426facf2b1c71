"""MLflow's basic-auth app's client, mlflow.server.get_app_client("basic-auth"), manages
mlship's users unchanged: it creates a user, changes passwords and the administrator flag,
deletes users, and gets MLflow's answers (status, error codes) where it is refused. The user's
own MLflow client sees each change on its next request."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.server
import pytest
import requests
from conftest import Server
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-mlflow-auth"
ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def srv():
    s = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-mlflow-auth-")), ["--auth"],
               env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    s.start()
    yield s
    s.stop()


@pytest.fixture
def signed_in(monkeypatch):
    """Signs MLflow's clients in as (user, password), or as nobody."""

    def use(cred):
        for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        if cred:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", cred[0])
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", cred[1])

    return use


def refused(fn, code, status):
    with pytest.raises((MlflowException, RestException)) as e:
        fn()
    assert e.value.error_code == code, e.value
    assert e.value.get_http_status_code() == status, e.value
    return e.value


def test_app_client_manages_users(srv, signed_in):
    signed_in(ADMIN)
    app = mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)

    user = app.create_user("mia", "mia-password-1")
    assert (user.username, user.is_admin, user.password_hash) == ("mia", False, "REDACTED")
    assert isinstance(user.id, int) and user.id > 0
    got = app.get_user("mia")
    assert (got.id, got.username, got.is_admin) == (user.id, "mia", False)
    refused(lambda: app.create_user("mia", "mia-password-1"), "RESOURCE_ALREADY_EXISTS", 400)
    refused(lambda: app.create_user("short", "too-short"), "INVALID_PARAMETER_VALUE", 400)
    refused(lambda: app.get_user("nobody"), "RESOURCE_DOES_NOT_EXIST", 404)

    # mia's own MLflow client works with her password.
    signed_in(("mia", "mia-password-1"))
    mine = MlflowClient(tracking_uri=srv.url)
    exp = mine.create_experiment("mia-exp")

    # The administrator sets a new password: the old one stops working on the next request.
    signed_in(ADMIN)
    app.update_user_password("mia", "mia-password-2")
    signed_in(("mia", "mia-password-1"))
    refused(lambda: mine.get_experiment(exp), "UNAUTHENTICATED", 401)
    signed_in(("mia", "mia-password-2"))
    assert mine.get_experiment(exp).name == "mia-exp"

    # mia changes her own password only by giving the current one; she may read herself,
    # not others, and manages no user.
    own = mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)
    assert own.get_user("mia").username == "mia"
    refused(lambda: own.update_user_password("mia", "mia-password-3"), "INVALID_PARAMETER_VALUE", 400)
    refused(lambda: own.update_user_password("mia", "mia-password-3", current_password="wrong-password"),
            "INVALID_PARAMETER_VALUE", 400)
    own.update_user_password("mia", "mia-password-3", current_password="mia-password-2")
    signed_in(("mia", "mia-password-3"))
    refused(lambda: own.get_user("admin"), "PERMISSION_DENIED", 403)
    refused(lambda: own.update_user_password("admin", "taken-over-password"), "PERMISSION_DENIED", 403)
    refused(lambda: own.create_user("eve", "eve-password-1"), "PERMISSION_DENIED", 403)
    refused(lambda: own.update_user_admin("mia", True), "PERMISSION_DENIED", 403)
    refused(lambda: own.delete_user("admin"), "PERMISSION_DENIED", 403)

    # Made an administrator, she manages users; nobody deletes their own account.
    signed_in(ADMIN)
    app.update_user_admin("mia", True)
    assert app.get_user("mia").is_admin
    signed_in(("mia", "mia-password-3"))
    assert own.create_user("eve", "eve-password-1").username == "eve"
    refused(lambda: own.delete_user("mia"), "BAD_REQUEST", 400)
    signed_in(ADMIN)
    app.update_user_admin("mia", False)
    app.delete_user("mia")
    refused(lambda: app.get_user("mia"), "RESOURCE_DOES_NOT_EXIST", 404)
    signed_in(("mia", "mia-password-3"))
    refused(lambda: mine.get_experiment(exp), "UNAUTHENTICATED", 401)


def test_wire_answers_as_mlflow(srv):
    url = srv.url + "/api/2.0/mlflow/users"
    r = requests.post(url + "/create", json={"username": "wire-user", "password": "wire-password-1"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic "), r.text
    r = requests.post(url + "/create", json={"username": "wire-user"}, auth=ADMIN)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    r = requests.post(url + "/create", data="username=x&password=y", auth=ADMIN,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400, r.text
    r = requests.post(url + "/create", json={"username": "wire-user", "password": "wire-password-1"}, auth=ADMIN)
    assert r.status_code == 200 and set(r.json()["user"]) == {"id", "username", "is_admin"}, r.text
    r = requests.get(url + "/get", auth=ADMIN)
    assert r.status_code == 400 and "Missing value for required parameter 'username'" in r.json()["message"], r.text
    r = requests.patch(url + "/update-admin", json={"username": "wire-user", "is_admin": "maybe"}, auth=ADMIN)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    # The ajax path MLflow's web UI calls answers too; a DELETE may carry its parameters in the query.
    r = requests.get(srv.url + "/ajax-api/2.0/mlflow/users/get", params={"username": "wire-user"}, auth=ADMIN)
    assert r.status_code == 200 and r.json()["user"]["username"] == "wire-user", r.text
    r = requests.get(url + "/list", auth=ADMIN)
    assert {u["username"] for u in r.json()["users"]} >= {"admin", "wire-user"}, r.text
    r = requests.get(url + "/current", auth=("wire-user", "wire-password-1"))
    assert r.json()["user"]["username"] == "wire-user" and r.json()["is_basic_auth"] is True, r.text
    r = requests.delete(url + "/delete", params={"username": "wire-user"}, auth=ADMIN)
    assert r.status_code == 200 and r.json() == {}, r.text


def test_app_client_grants_and_revokes_permissions(srv, signed_in):
    signed_in(ADMIN)
    app = mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)
    admin = MlflowClient(tracking_uri=srv.url)
    exp = admin.create_experiment("granted-exp")
    app.create_user("gus", "gus-password-1")
    app.create_user("hal", "hal-password-1")

    # Nothing granted: gus reads (the default permission) but does not write.
    signed_in(("gus", "gus-password-1"))
    gus = MlflowClient(tracking_uri=srv.url)
    assert gus.get_experiment(exp).name == "granted-exp"
    refused(lambda: gus.create_run(exp), "PERMISSION_DENIED", 403)
    # Nor does he grant himself anything on an experiment he does not manage.
    own = mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)
    refused(lambda: own.grant_user_permission("gus", "experiment", exp, "EDIT"), "PERMISSION_DENIED", 403)
    assert own.get_user_permission("gus", "experiment", exp).permission == "READ"

    signed_in(ADMIN)
    app.grant_user_permission("gus", "experiment", exp, "EDIT")
    refused(lambda: app.grant_user_permission("gus", "experiment", exp, "MANAGE"), "RESOURCE_ALREADY_EXISTS", 400)
    got = app.get_user_permission("gus", "experiment", exp)
    assert (got.allowed, got.permission) == (True, "EDIT")

    # gus's own client sees the grant on its next request.
    signed_in(("gus", "gus-password-1"))
    run = gus.create_run(exp)
    gus.log_metric(run.info.run_id, "m", 1.0)
    refused(lambda: own.grant_user_permission("hal", "experiment", exp, "READ"), "PERMISSION_DENIED", 403)
    signed_in(("hal", "hal-password-1"))
    hal = mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)
    refused(lambda: hal.get_user_permission("gus", "experiment", exp), "PERMISSION_DENIED", 403)

    signed_in(ADMIN)
    app.revoke_user_permission("gus", "experiment", exp)
    refused(lambda: app.revoke_user_permission("gus", "experiment", exp), "RESOURCE_DOES_NOT_EXIST", 404)
    refused(lambda: app.grant_user_permission("nobody", "experiment", exp, "READ"), "RESOURCE_DOES_NOT_EXIST", 404)
    refused(lambda: app.grant_user_permission("gus", "prompt", "p", "READ"), "INVALID_PARAMETER_VALUE", 400)
    refused(lambda: app.grant_user_permission("gus", "experiment", "*", "READ"), "INVALID_PARAMETER_VALUE", 400)
    refused(lambda: app.grant_user_permission("gus", "experiment", exp, "OWNER"), "INVALID_PARAMETER_VALUE", 400)
    signed_in(("gus", "gus-password-1"))
    refused(lambda: gus.log_metric(run.info.run_id, "m", 2.0), "PERMISSION_DENIED", 403)

    # A registered model: MANAGE lets gus delete it; DENY takes even reading away.
    signed_in(ADMIN)
    admin.create_registered_model("granted-model")
    app.grant_user_permission("hal", "registered_model", "granted-model", "DENY")
    signed_in(("hal", "hal-password-1"))
    refused(lambda: MlflowClient(tracking_uri=srv.url).get_registered_model("granted-model"), "PERMISSION_DENIED", 403)
    signed_in(ADMIN)
    app.grant_user_permission("gus", "registered_model", "granted-model", "MANAGE")
    signed_in(("gus", "gus-password-1"))
    gus.delete_registered_model("granted-model")


def test_routes_not_answered_say_so(srv):
    for path in ("/api/3.0/mlflow/roles/create", "/ajax-api/3.0/mlflow/roles/assign"):
        r = requests.post(srv.url + path, json={"name": "r", "workspace": "default"}, auth=ADMIN)
        assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND", r.text
    r = requests.get(srv.url + "/api/2.0/mlflow/users/create", auth=ADMIN)
    assert r.status_code in (404, 405), r.text
