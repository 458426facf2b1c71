"""Deployments under traffic: an alias that moves, a version that cannot load, a worker
killed, canary and shadow versions; no request fails and every answer is the right version's."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest
import requests
from helpers import unique_name
# The module fixtures (data, models, registered, deployed) are used by name.
from serving_common import (  # noqa: F401
    data, models, registered, deployment_url, create_deployment, delete_deployment, oip_infer,
    oip_values, Traffic, _wait,
)

pytestmark = pytest.mark.mlship_only


# --------------------------------------------------------------------------------------------
# Following an alias
# --------------------------------------------------------------------------------------------


def test_alias_move_under_traffic_fails_no_request(server, registered, models, data):
    X, _ = data
    client = mlflow.MlflowClient(server.url)
    name = unique_name("follow")
    client.set_registered_model_alias(registered, "staging-" + name, "1")
    create_deployment(server, {"name": name, "model": f"models:/{registered}@staging-{name}", "workers": 1})
    try:
        with Traffic(server, name, X, models) as traffic:
            _wait(lambda: traffic.count("1") >= 20, "answers from version 1")
            client.set_registered_model_alias(registered, "staging-" + name, "2")
            _wait(lambda: traffic.count("2") >= 20, "answers from version 2")
            before = traffic.count("1")
            time.sleep(0.5)
            assert traffic.count("1") == before, "version 1 still answered after the switch"
        assert traffic.failures == [], traffic.failures[:5]
        d = requests.get(deployment_url(server, name), timeout=10).json()
        assert d["status"]["models"][0]["version"] == "2"
    finally:
        delete_deployment(server, name)


def _log_broken_version(name, tmp_path) -> str:
    """A version whose MLmodel names a loader module that does not exist."""
    model_dir = tmp_path / "broken-model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlship_no_such_module\n    python_version: \"3.11\"\n"
    )
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(model_dir), "model")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    return str(mv.version)


def test_broken_version_leaves_the_old_one_serving(server, registered, models, data, tmp_path):
    X, _ = data
    client = mlflow.MlflowClient(server.url)
    name = unique_name("broken")
    client.set_registered_model_alias(registered, "canary-" + name, "1")
    create_deployment(server, {"name": name, "model": f"models:/{registered}@canary-{name}", "workers": 1})
    try:
        broken = _log_broken_version(registered, tmp_path)
        with Traffic(server, name, X, models, clients=2) as traffic:
            client.set_registered_model_alias(registered, "canary-" + name, broken)

            def failed():
                d = requests.get(deployment_url(server, name), timeout=10).json()
                return d["status"]["models"][0].get("error")

            _wait(failed, "the broken version's load error")
            time.sleep(0.3)
        assert traffic.failures == [], traffic.failures[:5]
        assert set(traffic.versions) == {"1"}
        d = requests.get(deployment_url(server, name), timeout=10).json()
        assert d["status"]["state"] == "ready"
        assert d["status"]["models"][0]["version"] == "1"
        assert "mlship_no_such_module" in d["status"]["models"][0]["error"]
        client.set_registered_model_alias(registered, "canary-" + name, "1")
    finally:
        delete_deployment(server, name)


def _parent(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _worker_pids(server, model_marker="mlship_worker.py"):
    """The Python workers the server started: descendants, since each runs in a sandbox
    that the server starts (bubblewrap), whose processes stand between them."""
    out = subprocess.run(["pgrep", "-f", model_marker], capture_output=True, text=True).stdout.split()
    pids = []
    for pid in map(int, out):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap":
                continue  # the sandbox's own processes name the script too
        except OSError:
            continue
        p = _parent(pid)
        while p > 1 and p != server.proc.pid:
            p = _parent(p)
        if p == server.proc.pid:
            pids.append(pid)
    return pids


def test_worker_killed_under_traffic_is_replaced(server, registered, models, data):
    X, _ = data
    name = unique_name("kill")
    before = set(_worker_pids(server))
    create_deployment(server, {"name": name, "model": f"models:/{registered}/1", "workers": 2})
    try:
        mine = [p for p in _worker_pids(server) if p not in before]
        assert len(mine) == 2, mine
        with Traffic(server, name, X, models) as traffic:
            _wait(lambda: traffic.count("1") >= 20, "traffic")
            os.kill(mine[0], signal.SIGKILL)
            seen = traffic.count("1")
            _wait(lambda: traffic.count("1") >= seen + 50, "answers after the kill")
            _wait(lambda: len([p for p in _worker_pids(server) if p not in before]) == 2, "a replacement worker")
        assert traffic.failures == [], traffic.failures[:5]
        assert mine[0] not in _worker_pids(server)
    finally:
        delete_deployment(server, name)


def test_canary_and_shadow(server, registered, models, data):
    X, _ = data
    name = unique_name("split")
    create_deployment(
        server,
        {
            "name": name,
            "model": f"models:/{registered}/1",
            "workers": 1,
            "canary": {"model": f"models:/{registered}/2", "weight": 0.5},
            "shadow": {"model": f"models:/{registered}/2", "share": 1},
            "payload_log": {"sample_rate": 1},
        },
    )
    try:
        _wait(
            lambda: len(requests.get(deployment_url(server, name), timeout=10).json()["status"]["models"]) == 3
            and all(m.get("version") for m in requests.get(deployment_url(server, name), timeout=10).json()["status"]["models"]),
            "canary and shadow loaded",
        )
        versions = {}
        for _ in range(60):
            got, body = oip_values(oip_infer(server, name, X.to_numpy()[:2]))
            v = body["model_version"]
            assert got.tolist() == models[v].predict(X.iloc[:2]).tolist()
            versions[v] = versions.get(v, 0) + 1
        assert set(versions) == {"1", "2"}, versions
        deadline = time.monotonic() + 10
        while True:
            page = requests.get(deployment_url(server, name) + "/payloads?limit=1000", timeout=10).json()
            roles = {p["role"] for p in page["payloads"]}
            if "shadow" in roles:
                break
            assert time.monotonic() < deadline, roles
            time.sleep(0.1)
    finally:
        delete_deployment(server, name)
