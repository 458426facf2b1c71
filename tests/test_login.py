"""mlship login keeps a token for a server in the user's configuration directory (mode 0600,
by server URL), later commands sign in with it when no variable names credentials, and mlship
logout revokes it on the server and forgets it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from conftest import REPO_ROOT, Server

pytestmark = pytest.mark.mlship_only

ADMIN_PASSWORD = "admin-password-for-login"
BIN = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")


@pytest.fixture(scope="module")
def srv():
    s = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-login-")), ["--auth"],
               env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    s.start()
    r = requests.post(s.url + "/api/v1/users", json={"name": "lou", "password": "lou-password-1"},
                      auth=("admin", ADMIN_PASSWORD), timeout=30)
    assert r.status_code == 201, r.text
    yield s
    s.stop()


@pytest.fixture
def home(tmp_path):
    """A user's environment with a home of its own and no credentials in variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLSHIP_"))}
    env["HOME"] = str(tmp_path)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env


def mlship(env, *args, stdin=None):
    return subprocess.run([BIN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_login_keeps_a_token_that_commands_use_and_logout_revokes(srv, home, tmp_path):
    p = mlship(home, "whoami", "--server", srv.url)
    assert p.returncode == 1 and "sign in" in p.stderr, p.stderr

    p = mlship(home, "login", "--server", srv.url, "--user", "lou", "--password-stdin", stdin="lou-password-1\n")
    assert p.returncode == 0, p.stderr
    assert f"signed in to {srv.url} as lou" in p.stdout and "lou-password-1" not in p.stdout + p.stderr

    path = tmp_path / "config" / "mlship" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = json.loads(path.read_text())["servers"][srv.url]
    assert kept["user"] == "lou" and kept["token"].startswith("mls_") and "lou-password-1" not in path.read_text()

    # Commands sign in with it: lou's own scopes, a token named for this machine.
    p = mlship(home, "whoami", "--server", srv.url, "-o", "json")
    assert p.returncode == 0, p.stderr
    me = json.loads(p.stdout)
    assert (me["name"], me["scopes"], me["token_id"]) == ("lou", ["read", "write", "deploy"], kept["token_id"])
    p = mlship(home, "tokens", "list", "--server", srv.url, "-o", "json")
    listed = {t["id"]: t for t in json.loads(p.stdout)["tokens"]}
    assert listed[kept["token_id"]]["name"].startswith("mlship login on ") and "expires_at" in listed[kept["token_id"]]

    # A variable still wins over the kept token.
    p = mlship({**home, "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD},
               "whoami", "--server", srv.url, "-o", "json")
    assert json.loads(p.stdout)["name"] == "admin", p.stderr

    # Another server is not sent lou's token.
    p = mlship(home, "whoami", "--server", srv.url.replace("127.0.0.1", "localhost"))
    assert p.returncode == 1 and "sign in" in p.stderr, p.stderr

    p = mlship(home, "logout", "--server", srv.url)
    assert p.returncode == 0 and "revoked" in p.stdout, p.stderr
    assert json.loads(path.read_text())["servers"] == {}
    r = requests.get(srv.url + "/api/v1/whoami", headers={"Authorization": f"Bearer {kept['token']}"}, timeout=30)
    assert r.status_code == 401, r.text
    p = mlship(home, "logout", "--server", srv.url)
    assert p.returncode == 1 and "not signed in" in p.stderr, p.stderr


def test_login_refusals(srv, home):
    p = mlship(home, "login", "--server", srv.url, "--user", "lou", "--password-stdin", stdin="wrong-password\n")
    assert p.returncode == 1 and "invalid credentials" in p.stderr and "wrong-password" not in p.stderr, p.stderr
    p = mlship(home, "login", "--server", srv.url, "--password-stdin", stdin="lou-password-1\n")
    assert p.returncode == 2 and "--user" in p.stderr, p.stderr
    p = mlship(home, "login", "--server", srv.url, "--user", "lou", stdin="")
    assert p.returncode == 2 and "--password-stdin" in p.stderr, p.stderr
    assert not (Path(home["XDG_CONFIG_HOME"]) / "mlship" / "credentials.json").exists()


def test_a_revoked_kept_token_is_forgotten_on_logout(srv, home):
    p = mlship(home, "login", "--server", srv.url, "--user", "lou", "--password-stdin", stdin="lou-password-1\n")
    assert p.returncode == 0, p.stderr
    kept = json.loads((Path(home["XDG_CONFIG_HOME"]) / "mlship" / "credentials.json").read_text())["servers"][srv.url]
    r = requests.delete(f"{srv.url}/api/v1/tokens/{kept['token_id']}", auth=("admin", ADMIN_PASSWORD), timeout=30)
    assert r.status_code == 200, r.text
    p = mlship(home, "whoami", "--server", srv.url)
    assert p.returncode == 1 and "invalid credentials" in p.stderr, p.stderr
    p = mlship(home, "logout", "--server", srv.url)
    assert p.returncode == 0, p.stderr
    p = mlship(home, "whoami", "--server", srv.url)
    assert "sign in" in p.stderr, p.stderr
