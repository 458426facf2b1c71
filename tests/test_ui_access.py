"""The web UI with identities on (--auth, default permission NO_PERMISSIONS), in Debian's
chromium driven by Playwright as test_ui_pages.py does: each user sees only the actions the
server would allow them (GET /api/v1/permissions/effective), a reader forcing one through the
API is still refused, and a deployment of a registered ONNX model is created through the
form, then changed (a canary added) while its page shows its status."""

from __future__ import annotations

import os
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
from test_ui_pages import browser, check, page, shots  # noqa: F401  (the shared browser fixtures)

pytestmark = pytest.mark.mlship_only

ADMIN = ("admin", "admin-password-for-ui-access")
USERS = ("reader", "editor", "manager")


def cred(name):
    return ADMIN if name == "admin" else (name, f"{name}-password-long")


def cli(srv, who, *args):
    """Runs the mlship command line as who."""
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    env = {k: v for k, v in os.environ.items() if k not in ("MLSHIP_TOKEN", "MLFLOW_TRACKING_TOKEN")}
    env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = cred(who)
    p = subprocess.run([binary, *args, "--server", srv.url], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr


def api(srv, who, method, path, **kw):
    return requests.request(method, srv.url + path, auth=cred(who), timeout=30, **kw)


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def site():
    """A server with identities on; manager owns an experiment and a registered ONNX model
    (one version, a benchmark protecting @production), editor holds EDIT on both, reader READ."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    base = Path(tempfile.mkdtemp(prefix="mlship-ui-access-"))
    srv = Server("mlship", base, ["--auth", "--default-permission", "NO_PERMISSIONS"], env={"MLSHIP_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    try:
        for u in USERS:
            ok(api(srv, "admin", "POST", "/api/v1/users", json={"name": u, "password": cred(u)[1]}), 201)
        experiment, model = unique_name("ui-access"), unique_name("ui-access-model")
        X, y = load_diabetes(return_X_y=True)
        Xf = X.astype(np.float32)
        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI")}
        prev = mlflow.get_tracking_uri()
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = cred("manager")
        try:
            mlflow.set_tracking_uri(srv.url)
            exp_id = mlflow.set_experiment(experiment).experiment_id
            with mlflow.start_run():
                mlflow.onnx.log_model(to_onnx(Ridge().fit(Xf, y), Xf[:1], target_opset=17), name="model",
                                      registered_model_name=model, pip_requirements=pinned("onnx"))
        finally:
            mlflow.set_tracking_uri(prev)  # the session's server, for the files that come after
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        for kind, obj in (("experiment", exp_id), ("registered_model", model)):
            for u, level in (("reader", "READ"), ("editor", "EDIT")):
                ok(api(srv, "manager", "POST", "/api/v1/permissions", json={"kind": kind, "object": obj, "user": u, "level": level}))
        data = base / "holdout.csv"
        load_diabetes(as_frame=True).frame.to_csv(data, index=False)
        dataset = unique_name("ui-access-data")
        cli(srv, "manager", "data", "add", dataset, str(data))
        cli(srv, "manager", "gate", "set", model, "--dataset", f"{dataset}/1", "--target", "target", "--task", "regression",
            "--threshold", "root_mean_squared_error<=60")
        token = ok(api(srv, "manager", "POST", "/api/v1/tokens", json={"name": "read-only", "scopes": "read"}), 201)["token"]
        yield {"srv": srv, "experiment": experiment, "exp_id": exp_id, "model": model, "token": token}
    finally:
        srv.stop()


def sign_in(page, srv, user, password=None, at="#/experiments"):
    page.goto(f"{srv.url}/{at}")
    page.get_by_role("heading", name="Sign in to mlship").wait_for()
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password or API token").fill(password or cred(user)[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(user, exact=True).wait_for()


def visit(page, srv, at):
    """Opens a page afresh (a new document: no answer kept from the page before), still
    signed in (the password is kept for the tab)."""
    page.goto(f"{srv.url}/{at}")
    page.reload()


def settled(page):
    """Waits until the page's questions about permissions are answered, then for the page
    to draw them."""
    page.wait_for_function("""() => {
        const asked = performance.getEntriesByType('resource').filter(e => e.name.includes('/permissions/effective'));
        return asked.length > 0 && asked.every(e => e.responseEnd > 0) && performance.now() - Math.max(...asked.map(e => e.responseEnd)) > 400;
    }""", polling=100)


def experiments_row(page, site):
    page.get_by_role("heading", name="Experiments").wait_for()
    page.get_by_role("link", name=site["experiment"]).wait_for()
    settled(page)
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=site["experiment"]))


def deployment_of(site, who="manager"):
    name = unique_name("ui-access-dep")
    ok(api(site["srv"], who, "POST", "/api/v1/deployments", json={"name": name, "model": f"models:/{site['model']}/1"}))
    return name


@pytest.mark.parametrize("who,create,manage,move_alias", [
    ("reader", True, False, False),
    ("editor", True, False, True),
    ("manager", True, True, True),
])
def test_each_user_sees_the_actions_it_may_take(page, site, who, create, manage, move_alias):
    srv = site["srv"]
    sign_in(page, srv, who)
    row = experiments_row(page, site)
    assert (page.get_by_label("New experiment").count() == 1) == create
    assert row.get_by_role("button", name=f"Rename {site['experiment']}").count() == int(manage)
    assert row.get_by_role("button", name=f"Delete {site['experiment']}").count() == int(manage)
    assert (page.get_by_role("columnheader", name="Actions").count() == 1) == manage

    visit(page, srv, f"#/models/{site['model']}/versions/1")
    page.get_by_role("heading", name=f"{site['model']} version 1").wait_for()
    settled(page)
    assert (page.get_by_role("heading", name="Move an alias here").count() == 1) == move_alias
    if move_alias:  # @production is protected by the benchmark: moving it needs MANAGE
        page.get_by_label("Alias").fill("production")
        assert (page.get_by_role("button", name="Move alias").count() == 1) == manage
        assert (page.get_by_text("moving it needs MANAGE").count() == 1) != manage
        page.get_by_label("Alias").fill("staging")
        page.get_by_role("button", name="Move alias").wait_for()

    visit(page, srv, "#/deployments")
    page.get_by_role("heading", name="Deployments").wait_for()
    settled(page)
    assert page.get_by_role("button", name="New deployment").count() == 1  # every user has the deploy scope


def test_a_read_scoped_token_sees_no_change(page, site):
    """The manager signed in with a read-only token: MANAGE on the experiment, no write scope."""
    srv = site["srv"]
    sign_in(page, srv, "manager", site["token"])
    row = experiments_row(page, site)
    assert page.get_by_label("New experiment").count() == 0
    assert row.get_by_role("button").count() == 0
    eff = ok(requests.get(srv.url + "/api/v1/permissions/effective", params={"kind": "experiment", "object": site["exp_id"]},
                          headers={"Authorization": f"Bearer {site['token']}"}, timeout=30))
    assert eff["objects"][site["exp_id"]] == {"permission": "MANAGE", "can": {"read": True, "use": True, "edit": False, "manage": False}}
    visit(page, srv, "#/deployments")
    page.get_by_role("heading", name="Deployments").wait_for()
    settled(page)
    assert page.get_by_role("button", name="New deployment").count() == 0
    visit(page, srv, f"#/models/{site['model']}/versions/1")
    page.get_by_role("heading", name=f"{site['model']} version 1").wait_for()
    settled(page)
    assert page.get_by_role("heading", name="Move an alias here").count() == 0


def test_runs_page_signed_in_on_it_and_reopened(page, site):
    """The runs page's first calls start before the app (ui/src/early.ts), with the session
    cookie alone: signed out, they are refused, and signing in on the page shows its runs;
    reopened with a password kept for the tab, the app asks each refused one again with it,
    and the page shows its runs, not the sign-in form."""
    srv, runs_page = site["srv"], f"#/experiments/{site['exp_id']}"
    refused = []
    page.on("response", lambda r: r.status == 401 and refused.append(r.url.split("/api/", 1)[-1]))
    sign_in(page, srv, "reader", at=runs_page)
    page.get_by_role("heading", name=site["experiment"]).wait_for()
    page.get_by_text("1 run loaded").wait_for()
    assert sorted(refused) == sorted(["v1/whoami", f"2.0/mlflow/experiments/get?experiment_id={site['exp_id']}",
                                      "2.0/mlflow/runs/search"]), refused  # the early calls, each once

    refused.clear()
    asked = []
    page.on("request", lambda r: "/api/" in r.url and asked.append((r.url.split("/api/", 1)[1], r.headers.get("authorization", "")[:6])))
    page.reload()
    page.get_by_text("1 run loaded").wait_for()
    page.get_by_text("reader", exact=True).wait_for()
    assert page.get_by_role("heading", name="Sign in to mlship").count() == 0
    first = ["v1/whoami", f"2.0/mlflow/experiments/get?experiment_id={site['exp_id']}", "2.0/mlflow/runs/search"]
    assert sorted(refused) == sorted(first), refused
    assert sorted(a for a in asked if a[0] in first) == sorted([(f, "") for f in first] + [(f, "Basic ") for f in first]), asked


def test_a_reader_forcing_an_action_through_the_api_is_refused(site):
    srv, exp_id = site["srv"], site["exp_id"]
    r = api(srv, "reader", "POST", "/api/2.0/mlflow/experiments/update", json={"experiment_id": exp_id, "new_name": "taken"})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    r = api(srv, "reader", "PUT", f"/api/v1/models/{site['model']}/aliases/production", json={"version": "1"})
    assert r.status_code == 403, r.text
    dep = deployment_of(site)
    ok(api(srv, "manager", "POST", "/api/v1/permissions", json={"kind": "deployment", "object": dep, "user": "reader", "level": "READ"}))
    spec = ok(api(srv, "reader", "GET", f"/api/v1/deployments/{dep}"))["spec"]
    assert api(srv, "reader", "PUT", f"/api/v1/deployments/{dep}", json=spec).status_code == 403
    assert api(srv, "reader", "DELETE", f"/api/v1/deployments/{dep}", json={}).status_code == 403
    ok(api(srv, "manager", "DELETE", f"/api/v1/deployments/{dep}", json={}))


def wait_ready(srv, name, roles=1, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        d = ok(api(srv, "manager", "GET", f"/api/v1/deployments/{name}"))
        served = [m for m in d["status"]["models"] if m.get("version")]
        if d["status"]["state"] == "ready" and len(served) == roles:
            return d
        assert d["status"]["state"] != "failed" and time.monotonic() < deadline, d
        time.sleep(0.1)


def test_deployment_created_and_changed_through_the_form(page, site, shots):
    srv, model = site["srv"], site["model"]
    name = unique_name("ui-form-dep")
    sign_in(page, srv, "manager", at="#/deployments")
    page.get_by_role("heading", name="Deployments").wait_for()
    page.get_by_role("button", name="New deployment").click()
    form = page.locator("form.deploy-form")
    form.get_by_label("Name").fill(name)
    # Completion offers the registered model's versions.
    page.wait_for_function("() => [...document.querySelectorAll('datalist option')].some(o => o.value.startsWith('models:/'))")
    options = page.locator("datalist#new-deployment-models option").evaluate_all("os => os.map(o => o.value)")
    assert f"models:/{model}/1" in options
    form.get_by_label("Model", exact=True).fill(f"models:/{model}/1")
    form.get_by_label("Workers").fill("1")
    check(page, shots, "deployment-new")
    form.get_by_role("button", name="Create deployment").click()

    # The deployment's page, its status as the version loads.
    page.get_by_role("heading", name=name).wait_for()
    page.wait_for_function("() => location.hash.endsWith('/deployments/' + %r)" % name)
    page.locator(".state-ready").first.wait_for(timeout=60_000)
    d = wait_ready(srv, name)
    assert d["spec"]["workers"] == 1 and d["spec"]["model"] == f"models:/{model}/1"
    page.get_by_role("link", name=f"{model} v1").first.wait_for()

    # Edit: a canary on the same version, 25% of the requests.
    page.get_by_role("button", name="Edit").click()
    edit = page.locator("form.deploy-form")
    edit.get_by_label("Canary: a second model").check()
    edit.get_by_label("Canary model").fill(f"models:/{model}/1")
    edit.get_by_label("Canary weight (%)").fill("25")
    check(page, shots, "deployment-edit")
    edit.get_by_role("button", name="Save changes").click()
    page.get_by_text("(25% of requests)").wait_for()
    page.get_by_text("canary:").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('dd div')].some(d => d.textContent.startsWith('canary:') && / v1/.test(d.textContent))",
                           timeout=60_000)
    d = wait_ready(srv, name, roles=2)
    assert d["spec"]["canary"] == {"model": f"models:/{model}/1", "weight": 0.25}
    assert d["spec"]["workers"] == 1  # what the form did not show is kept
    check(page, shots, "deployment-edited")

    # The server's refusal is shown next to the form: the name is taken.
    page.goto(f"{srv.url}/#/deployments")
    page.get_by_role("button", name="New deployment").click()
    form = page.locator("form.deploy-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Model", exact=True).fill(f"models:/{model}/1")
    form.get_by_role("button", name="Create deployment").click()
    alert = form.get_by_role("alert")
    alert.wait_for()
    assert name in alert.text_content() and "exist" in alert.text_content()

    # Who holds less sees less: EDIT changes it (not its policy) and cannot delete it; READ only looks.
    for u, level in (("editor", "EDIT"), ("reader", "READ")):
        ok(api(srv, "manager", "POST", "/api/v1/permissions", json={"kind": "deployment", "object": name, "user": u, "level": level}))
    page.goto(f"{srv.url}/#/deployments/{name}")
    page.get_by_role("button", name=f"Delete {name}").wait_for()
    for u, edit_ok in (("editor", True), ("reader", False)):
        pg = page.context.browser.new_context().new_page()
        sign_in(pg, srv, u, at=f"#/deployments/{name}")
        pg.get_by_role("heading", name=name).wait_for()
        settled(pg)
        assert pg.get_by_role("button", name=f"Delete {name}").count() == 0
        assert (pg.get_by_role("button", name="Edit").count() == 1) == edit_ok
        if edit_ok:
            pg.get_by_role("button", name="Edit").click()
            assert pg.get_by_label("Inference").count() == 0  # changing the policy needs MANAGE
        pg.context.close()
    ok(api(srv, "manager", "DELETE", f"/api/v1/deployments/{name}", json={}))
