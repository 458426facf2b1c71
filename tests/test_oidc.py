"""Single sign-on: a browser signs in through a real OpenID provider (started here, built
by `make deps` from tests/oidc-provider), lands in the team its group names, works under a
session cookie whose state-changing requests need the session's CSRF token, and signs out.
Forged cookies, a wrong state and a link that would send the user to another site are
refused."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from conftest import REPO_ROOT, Server, _free_port

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-tests"
ADMIN = ("admin", ADMIN_PASSWORD)
CLIENT_SECRET = "client-secret-for-tests"
PROVIDER_BIN = REPO_ROOT / ".tools" / "bin" / "oidc-provider"
USERS = {
    "ana": ("ana-password", "ana@example.com", "ml-team,unknown-group"),
    "admin": ("other-admin-password", "admin@elsewhere.example", ""),  # a name mlship has already
}


@pytest.fixture(scope="module")
def stack():
    if not PROVIDER_BIN.exists():
        pytest.fail(f"{PROVIDER_BIN} is missing: run `make deps`")
    base = Path(tempfile.mkdtemp(prefix="mlship-oidc-"))
    srv = Server("mlship", base, env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD, "MLSHIP_OIDC_CLIENT_SECRET": CLIENT_SECRET})
    provider_url = f"http://127.0.0.1:{_free_port()}"
    args = [str(PROVIDER_BIN), "--addr", provider_url.removeprefix("http://"), "--client-id", "mlship",
            "--client-secret", CLIENT_SECRET, "--redirect-uri", srv.url + "/auth/callback"]
    for name, (password, email, groups) in USERS.items():
        args += ["--user", f"{name}:{password}:{email}:{groups}"]
    log = open(base / "provider.log", "wb")
    provider = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(provider_url + "/.well-known/openid-configuration", provider)
        srv.extra_args = ["--auth", "--default-permission", "NO_PERMISSIONS", "--oidc-issuer", provider_url,
                          "--oidc-client-id", "mlship", "--oidc-redirect-url", srv.url + "/auth/callback"]
        srv.start()
        yield srv, provider_url
    finally:
        srv.stop()
        provider.terminate()
        provider.wait(timeout=10)
        log.close()


def wait_for(url, proc):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the OpenID provider exited"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def api(srv, method, path, auth=ADMIN, **kw):
    return requests.request(method, srv.url + path, auth=auth, timeout=30, **kw)


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def sign_in(srv, provider_url, name, next_path="/api/v1/whoami"):
    """Signs in as a browser does: mlship sends it to the provider's form, the form's
    answer sends it back to mlship's callback, which sets the session cookie."""
    browser = requests.Session()
    form = browser.get(srv.url + "/auth/login", params={"next": next_path}, timeout=30)
    assert form.status_code == 200 and form.url.startswith(provider_url + "/login/username"), (form.status_code, form.url)
    request_id = re.search(r'name="id" value="([^"]+)"', form.text).group(1)
    done = browser.post(provider_url + "/login/username", timeout=30,
                        data={"id": request_id, "username": name, "password": USERS[name][0]})
    assert [h.status_code for h in done.history][-1] == 303, [(h.status_code, h.url) for h in done.history]
    assert done.url == srv.url + next_path, done.url
    assert done.status_code == 200, done.text
    return browser, done.json()


def session_cookie(browser):
    return next(c for c in browser.cookies if c.name == "mlship_session")


def test_sign_in_lands_in_team(stack):
    srv, provider_url = stack
    ok(api(srv, "POST", "/api/v1/teams", json={"name": "ml-team"}), 201)
    ok(api(srv, "POST", "/api/v1/teams", json={"name": "set-by-hand"}), 201)
    shared = ok(api(srv, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "sso-shared"}))["experiment_id"]
    private = ok(api(srv, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "sso-private"}))["experiment_id"]
    ok(api(srv, "POST", "/api/v1/permissions", json={"kind": "experiment", "object": shared, "team": "ml-team", "level": "READ"}))

    browser, me = sign_in(srv, provider_url, "ana")
    assert me["auth"] and me["name"] == "ana" and not me["admin"], me
    assert me["csrf_token"], me
    cookie = session_cookie(browser)
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/", cookie
    assert ok(api(srv, "GET", "/api/v1/teams/ml-team"))["members"] == ["ana"]
    # A group no team is named after makes no team (--oidc-create-teams is off).
    assert api(srv, "GET", "/api/v1/teams/unknown-group").status_code == 404

    r = browser.get(srv.url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": shared}, timeout=30)
    assert ok(r)["experiment"]["name"] == "sso-shared"
    r = browser.get(srv.url + "/api/2.0/mlflow/experiments/get", params={"experiment_id": private}, timeout=30)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text

    # Membership follows the groups at every sign-in: a team set by hand is left, the
    # same user (not a new one) signs in again.
    ok(api(srv, "PUT", "/api/v1/teams/set-by-hand/members/ana", json={}))
    _, again = sign_in(srv, provider_url, "ana")
    assert again["name"] == "ana"
    assert ok(api(srv, "GET", "/api/v1/teams/set-by-hand"))["members"] == []
    assert ok(api(srv, "GET", "/api/v1/teams/ml-team"))["members"] == ["ana"]
    users = [u for u in ok(api(srv, "GET", "/api/v1/users"))["users"] if u["name"].startswith("ana")]
    assert users == [dict(users[0], name="ana", has_password=False)], users
    # Each sign-in is in the audit trail, and so is the logout.
    trail = ok(api(srv, "GET", "/api/v1/audit", params={"actor": "ana", "action": "sign in"}))["entries"]
    assert len(trail) == 2 and {e["outcome"] for e in trail} == {"succeeded"}, trail
    assert trail[0]["route"] == "GET /auth/callback" and trail[0]["object"] == "ana", trail


def test_provider_name_never_signs_in_as_existing_user(stack):
    srv, provider_url = stack
    _, me = sign_in(srv, provider_url, "admin")
    assert me["name"] == "admin-2" and not me["admin"], me


def test_csrf_token_needed_under_session(stack):
    srv, provider_url = stack
    browser, me = sign_in(srv, provider_url, "ana")
    create = srv.url + "/api/2.0/mlflow/experiments/create"
    r = browser.post(create, json={"name": "sso-no-token"}, timeout=30)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    assert "X-CSRF-Token" in r.json()["message"]
    r = browser.post(create, json={"name": "sso-no-token"}, headers={"X-CSRF-Token": "A" * 43}, timeout=30)
    assert r.status_code == 403, r.text
    r = browser.post(create, json={"name": "sso-with-token"}, headers={"X-CSRF-Token": me["csrf_token"]}, timeout=30)
    ok(r)
    # Another session's token is not this one's.
    _, other = sign_in(srv, provider_url, "ana")
    r = browser.post(create, json={"name": "sso-other-token"}, headers={"X-CSRF-Token": other["csrf_token"]}, timeout=30)
    assert r.status_code == 403, r.text
    # Passwords and tokens need no CSRF token: a browser never sends them for another site.
    ok(api(srv, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "sso-basic"}))


def test_logout_ends_session(stack):
    srv, provider_url = stack
    browser, me = sign_in(srv, provider_url, "ana")
    assert browser.post(srv.url + "/auth/logout", timeout=30).status_code == 403
    assert ok(browser.get(srv.url + "/api/v1/whoami", timeout=30))["name"] == "ana"
    stolen = session_cookie(browser).value
    r = browser.post(srv.url + "/auth/logout", headers={"X-CSRF-Token": me["csrf_token"]}, timeout=30)
    assert r.status_code == 204, r.text
    trail = ok(api(srv, "GET", "/api/v1/audit", params={"actor": "ana", "outcome": "succeeded"}))["entries"]
    assert any(e["route"] == "POST /auth/logout" for e in trail), trail
    r = requests.get(srv.url + "/api/v1/whoami", cookies={"mlship_session": stolen}, timeout=30)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED", r.text
    assert "sign in again" in r.json()["message"]


@pytest.mark.parametrize("value", ["mlss_" + "A" * 43, "forged", "mlss_" + "é" * 10, ""])
def test_forged_cookie_refused(stack, value):
    srv, _ = stack
    r = requests.get(srv.url + "/api/v1/whoami", headers={"Cookie": f"mlship_session={value}"}, timeout=30)
    assert r.status_code == 401, r.text
    assert r.json()["error_code"] == "UNAUTHENTICATED"
    # The public sign-in route still answers, so a stale cookie does not lock anyone out.
    r = requests.get(srv.url + "/auth/login", headers={"Cookie": f"mlship_session={value}"}, allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text


def test_callback_with_wrong_state_refused(stack):
    srv, provider_url = stack
    browser = requests.Session()
    r = browser.get(srv.url + "/auth/login", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith(provider_url), r.headers
    assert "code_challenge_method=S256" in r.headers["Location"] and "nonce=" in r.headers["Location"]
    r = browser.get(srv.url + "/auth/callback", params={"state": "not-the-state", "code": "x"}, timeout=30)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    assert "state does not match" in r.json()["message"]
    refused = ok(api(srv, "GET", "/api/v1/audit", params={"action": "sign in", "outcome": "denied"}))["entries"]
    assert refused and refused[0]["status"] == 400 and refused[0]["actor"] == "", refused
    # Without the login's cookie (another browser), no state can match.
    r = requests.get(srv.url + "/auth/callback", params={"state": "x", "code": "x"}, timeout=30)
    assert r.status_code == 400 and "state cookie" in r.json()["message"], r.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_login_refuses_other_sites_as_next(stack, target):
    srv, _ = stack
    r = requests.get(srv.url + "/auth/login", params={"next": target}, allow_redirects=False, timeout=30)
    assert r.status_code == 400, (r.status_code, r.headers)
    assert "Location" not in r.headers
    assert "path on this server" in r.json()["message"]
