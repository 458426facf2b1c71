"""MLflow's basic-auth app's client, mlflow.server.get_app_client("basic-auth"), manages
mlship's users unchanged: it creates a user, changes passwords and the administrator flag,
deletes users, grants permissions, manages roles (mlship's teams), and gets MLflow's answers
(status, error codes) where it is refused. The user's own MLflow client sees each change on
its next request."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import mlflow.server
import pytest
import requests
from conftest import REPO_ROOT, Server
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-mlflow-auth"
ADMIN = ("admin", ADMIN_PASSWORD)
BIN = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")


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
    refused(lambda: app.grant_user_permission("gus", "experiment", "", "READ"), "INVALID_PARAMETER_VALUE", 400)
    refused(lambda: app.grant_user_permission("gus", "experiment", exp, "NO_PERMISSIONS"), "INVALID_PARAMETER_VALUE", 400)
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


def test_user_permissions_listed(srv, signed_in):
    """users/permissions/list and users/current/permissions, which MLflow's web UI calls:
    a user's own grants as those of its synthetic role, then its roles' grants."""
    signed_in(ADMIN)
    app = mlflow.server.get_app_client("basic-auth", tracking_uri=srv.url)
    exp = MlflowClient(tracking_uri=srv.url).create_experiment("listed-exp")
    kit_id = app.create_user("kit", "kit-password-1").id
    app.create_user("lou", "lou-password-1")
    app.grant_user_permission("kit", "experiment", exp, "EDIT")
    role = app.create_role("default", "listed-role")
    app.add_role_permission(role.id, "registered_model", "listed-model", "MANAGE")
    app.assign_role("kit", role.id)
    want = [
        {"role_id": 0, "role_name": f"__user_{kit_id}__", "workspace": "default",
         "resource_type": "experiment", "resource_pattern": exp, "permission": "EDIT"},
        {"role_id": role.id, "role_name": "listed-role", "workspace": "default",
         "resource_type": "registered_model", "resource_pattern": "listed-model", "permission": "MANAGE"},
    ]
    for prefix in ("/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"):
        r = requests.get(srv.url + prefix + "users/current/permissions", auth=("kit", "kit-password-1"))
        assert r.status_code == 200 and r.json() == {"is_admin": False, "permissions": want}, r.text
        r = requests.get(srv.url + prefix + "users/permissions/list", params={"username": "kit"}, auth=ADMIN)
        assert r.status_code == 200 and r.json() == {"is_admin": False, "permissions": want}, r.text
    url = srv.url + "/api/3.0/mlflow/users/permissions/list"
    r = requests.get(url, params={"username": "kit"}, auth=("kit", "kit-password-1"))
    assert r.status_code == 200 and r.json()["permissions"] == want, r.text
    # The creator of an object holds MANAGE on it.
    r = requests.get(srv.url + "/api/3.0/mlflow/users/current/permissions", auth=ADMIN)
    assert r.status_code == 200 and r.json()["is_admin"] is True, r.text
    assert {(p["resource_type"], p["resource_pattern"], p["permission"]) for p in r.json()["permissions"]} >= {("experiment", exp, "MANAGE")}
    # Another user's grants are for the user itself and administrators.
    r = requests.get(url, params={"username": "kit"}, auth=("lou", "lou-password-1"))
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    r = requests.get(url, params={"username": "nobody"}, auth=ADMIN)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", r.text
    r = requests.get(url, auth=ADMIN)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    r = requests.get(srv.url + "/api/3.0/mlflow/users/current/permissions")
    assert r.status_code == 401, r.text


def test_routes_not_answered_say_so(srv):
    for path in ("/api/3.0/mlflow/gateway/secrets/create", "/ajax-api/3.0/mlflow/scorer/invoke"):
        r = requests.post(srv.url + path, json={"name": "r", "workspace": "default"}, auth=ADMIN)
        assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND", r.text
    r = requests.get(srv.url + "/api/2.0/mlflow/users/create", auth=ADMIN)
    assert r.status_code in (404, 405), r.text


@pytest.fixture(scope="module")
def closed():
    """A server where a user without any grant may do nothing with an object."""
    s = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-mlflow-roles-")),
               ["--auth", "--default-permission", "NO_PERMISSIONS"], env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    s.start()
    yield s
    s.stop()


def test_roles_are_teams(closed, signed_in):
    signed_in(ADMIN)
    app = mlflow.server.get_app_client("basic-auth", tracking_uri=closed.url)
    admin = MlflowClient(tracking_uri=closed.url)
    exp = admin.create_experiment("role-exp")
    ivy_id = app.create_user("ivy", "ivy-password-1").id
    IVY = ("ivy", "ivy-password-1")

    role = app.create_role("default", "readers", "reads role-exp")
    assert isinstance(role.id, int) and role.id > 0
    assert (role.name, role.workspace, role.description, role.permissions) == ("readers", "default", "reads role-exp", [])
    perm = app.add_role_permission(role.id, "experiment", exp, "READ")
    assert isinstance(perm.id, int)
    assert (perm.role_id, perm.resource_type, perm.resource_pattern, perm.permission) == (role.id, "experiment", exp, "READ")

    signed_in(IVY)
    ivy = MlflowClient(tracking_uri=closed.url)
    refused(lambda: ivy.get_experiment(exp), "PERMISSION_DENIED", 403)

    # Assigned the role, ivy reads the experiment (and finds it in a search) on her next request.
    signed_in(ADMIN)
    assigned = app.assign_role("ivy", role.id)
    assert (assigned.user_id, assigned.role_id) == (ivy_id, role.id) and isinstance(assigned.id, int)
    refused(lambda: app.assign_role("ivy", role.id), "RESOURCE_ALREADY_EXISTS", 400)
    signed_in(IVY)
    assert ivy.get_experiment(exp).name == "role-exp"
    assert "role-exp" in [e.name for e in ivy.search_experiments()]
    refused(lambda: ivy.create_run(exp), "PERMISSION_DENIED", 403)
    own = mlflow.server.get_app_client("basic-auth", tracking_uri=closed.url)
    [mine] = own.list_user_roles("ivy")
    assert (mine.id, mine.name, mine.workspace) == (role.id, "readers", "default")
    assert [(p.id, p.resource_type, p.resource_pattern, p.permission) for p in mine.permissions] == [
        (perm.id, "experiment", exp, "READ")]
    assert [r.name for r in own.list_roles("default")] == ["readers"]
    refused(lambda: own.list_user_roles("admin"), "PERMISSION_DENIED", 403)
    refused(lambda: own.create_role("default", "mine"), "PERMISSION_DENIED", 403)
    refused(lambda: own.add_role_permission(role.id, "experiment", exp, "MANAGE"), "PERMISSION_DENIED", 403)

    # DENY granted to ivy herself wins over her role's READ.
    signed_in(ADMIN)
    app.grant_user_permission("ivy", "experiment", exp, "DENY")
    got = app.get_user_permission("ivy", "experiment", exp)
    assert (got.allowed, got.permission) == (False, "DENY")
    signed_in(IVY)
    refused(lambda: ivy.get_experiment(exp), "PERMISSION_DENIED", 403)
    assert "role-exp" not in [e.name for e in ivy.search_experiments()]
    signed_in(ADMIN)
    app.revoke_user_permission("ivy", "experiment", exp)

    # The role's permission changed keeps its id; the role renamed is the same team.
    changed = app.update_role_permission(perm.id, "EDIT")
    assert (changed.id, changed.permission) == (perm.id, "EDIT")
    signed_in(IVY)
    ivy.create_run(exp)
    signed_in(ADMIN)
    renamed = app.update_role(role.id, name="editors", description="edits role-exp")
    assert (renamed.id, renamed.name, renamed.description) == (role.id, "editors", "edits role-exp")
    assert [r.name for r in app.list_all_roles()] == ["editors"]
    assert [(a.user_id, a.role_id) for a in app.list_role_users(role.id)] == [(ivy_id, role.id)]
    assert [p.permission for p in app.list_role_permissions(role.id)] == ["EDIT"]
    [team] = requests.get(closed.url + "/api/v1/teams", auth=ADMIN).json()["teams"]
    assert (team["id"], team["name"], team["members"]) == (role.id, "editors", ["ivy"]), team
    # mlship's CLI shows the same team by the role's id; a team it creates is a role.
    env = {**os.environ, "MLSHIP_TRACKING_URI": closed.url, "MLFLOW_TRACKING_URI": closed.url}
    p = subprocess.run([BIN, "teams", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.split("\n")[1].split() == ["editors", str(role.id), "ivy"], p.stdout + p.stderr
    p = subprocess.run([BIN, "teams", "create", "ops"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    [ops] = [r for r in app.list_all_roles() if r.name == "ops"]
    assert ops.id > role.id and ops.permissions == []
    app.delete_role(ops.id)
    users = requests.get(closed.url + "/api/2.0/mlflow/users/list", auth=ADMIN).json()["users"]
    assert {u["username"]: [r["id"] for r in u["roles"]] for u in users} == {"admin": [], "ivy": [role.id]}, users

    # Unassigned, ivy is refused again.
    app.unassign_role("ivy", role.id)
    refused(lambda: app.unassign_role("ivy", role.id), "RESOURCE_DOES_NOT_EXIST", 404)
    signed_in(IVY)
    refused(lambda: ivy.get_experiment(exp), "PERMISSION_DENIED", 403)

    # Bad input gets MLflow's codes.
    signed_in(ADMIN)
    refused(lambda: app.get_role(987654), "RESOURCE_DOES_NOT_EXIST", 404)
    refused(lambda: app.add_role_permission(role.id, "experiment", exp, "NO_PERMISSIONS"), "INVALID_PARAMETER_VALUE", 400)
    refused(lambda: app.add_role_permission(role.id, "experiment", exp, "OWNER"), "INVALID_PARAMETER_VALUE", 400)
    e = refused(lambda: app.add_role_permission(role.id, "prompt", "p", "READ"), "INVALID_PARAMETER_VALUE", 400)
    assert "prompt" in e.message
    e = refused(lambda: app.create_role("team-a", "x"), "INVALID_PARAMETER_VALUE", 400)
    assert "team-a" in e.message
    refused(lambda: app.remove_role_permission(987654), "RESOURCE_DOES_NOT_EXIST", 404)
    app.remove_role_permission(perm.id)
    app.delete_role(role.id)
    refused(lambda: app.get_role(role.id), "RESOURCE_DOES_NOT_EXIST", 404)
    assert requests.get(closed.url + "/api/v1/teams", auth=ADMIN).json()["teams"] == []


def test_workspace_header(closed, signed_in, monkeypatch):
    signed_in(ADMIN)
    exp = MlflowClient(tracking_uri=closed.url).create_experiment("ws-exp")
    # The default workspace is mlship's one: the client naming it works unchanged.
    monkeypatch.setenv("MLFLOW_WORKSPACE", "default")
    assert MlflowClient(tracking_uri=closed.url).get_experiment(exp).name == "ws-exp"
    # Another is refused, never answered from the default one.
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    e = refused(lambda: MlflowClient(tracking_uri=closed.url).get_experiment(exp), "INVALID_PARAMETER_VALUE", 400)
    assert "team-a" in e.message
    r = requests.get(closed.url + "/api/3.0/mlflow/workspaces", auth=ADMIN)
    assert r.status_code == 200 and [w["name"] for w in r.json()["workspaces"]] == ["default"], r.text
