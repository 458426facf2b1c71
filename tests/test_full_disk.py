"""A full disk: the server's data directory on a 64 MiB tmpfs is filled through the API.
Writes are refused with 507 RESOURCE_EXHAUSTED and a message naming the directory, never a
500; reads keep working; no half-written file or row is left; once space is freed, writes
succeed again, and every stored model version and the database check clean.

Mounting needs root (CI runs as root); the test is skipped otherwise."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from helpers import API, ARTIFACTS, unique_name

pytestmark = pytest.mark.mlship_only

MIB = 1 << 20


@pytest.fixture
def full_disk_server(tmp_path):
    """A server whose data directory is a 64 MiB tmpfs; its log stays outside it."""
    from conftest import Server

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    srv = Server("mlship", tmp_path)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(srv.data_dir)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        subprocess.run(["umount", "-l", str(srv.data_dir)], check=False)


def post(srv, path, body):
    return requests.post(srv.url + API + path, json=body, timeout=60)


def put_artifact(srv, key: str, size: int) -> requests.Response:
    return requests.put(f"{srv.url}{ARTIFACTS}/{key}", data=os.urandom(size),
                        headers={"Content-Type": "application/octet-stream"}, timeout=120)


def assert_full(r: requests.Response, srv):
    assert r.status_code == 507, (r.status_code, r.text[:300])
    body = r.json()
    assert body["error_code"] == "RESOURCE_EXHAUSTED", body
    assert str(srv.data_dir) in body["message"], body
    assert "full" in body["message"], body


def register_version(srv, run_id: str, root: str, model: str) -> str:
    for name, size in [("MLmodel", 0), ("model.bin", 256 * 1024)]:
        data = b"artifact_path: model\nflavors: {}\n" if name == "MLmodel" else os.urandom(size)
        r = requests.put(f"{srv.url}{ARTIFACTS}/{root}/model/{name}", data=data,
                         headers={"Content-Type": "application/octet-stream"}, timeout=60)
        assert r.status_code == 200, r.text
    r = post(srv, "/model-versions/create", {"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id})
    assert r.status_code == 200, r.text
    return r.json()["model_version"]["version"]


def test_a_full_disk_refuses_writes_keeps_reads_and_recovers(full_disk_server):
    srv = full_disk_server
    exp = post(srv, "/experiments/create", {"name": unique_name("disk")}).json()["experiment_id"]
    run = post(srv, "/runs/create", {"experiment_id": exp}).json()["run"]["info"]
    run_id, root = run["run_id"], run["artifact_uri"].removeprefix("mlflow-artifacts:/").lstrip("/")
    model = unique_name("disk-model")
    assert post(srv, "/registered-models/create", {"name": model}).status_code == 200
    first = register_version(srv, run_id, root, model)
    assert put_artifact(srv, f"{root}/kept.bin", MIB).status_code == 200

    # Fill the disk with ever smaller files until even a small one does not fit.
    fillers, refused = [], None
    for size in [4 * MIB, 256 * 1024, 16 * 1024]:
        for _ in range(64):
            key = f"{root}/fill/{uuid.uuid4().hex}.bin"
            r = put_artifact(srv, key, size)
            if r.status_code != 200:
                refused = r
                break
            fillers.append(key)
    assert refused is not None, "the 64 MiB disk never filled up"
    assert_full(refused, srv)
    print(f"\nfilled with {len(fillers)} files; the refusal: {refused.json()['message']}")

    # A database write answers 507 or succeeds; never a 500.
    r = post(srv, "/runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0})
    print(f"log-metric on the full disk: {r.status_code} {r.text[:200]}")
    if r.status_code != 200:
        assert_full(r, srv)
    tags = [{"key": f"t{i}", "value": "x" * 8000} for i in range(100)]
    r = post(srv, "/runs/log-batch", {"run_id": run_id, "tags": tags})
    print(f"log-batch of 800 KB of tags on the full disk: {r.status_code} {r.text[:200]}")
    if r.status_code != 200:
        assert_full(r, srv)
    # A dataset upload (file bytes, then a row) is refused whole: no version appears.
    data_name = unique_name("disk-data")
    csv = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 2) for i in range(300_000))
    r = requests.post(f"{srv.url}/api/v1/datasets/{data_name}/versions?file=data.csv", data=csv,
                      headers={"Content-Type": "text/csv"}, timeout=120)
    assert r.status_code == 507, (r.status_code, r.text[:300])
    assert requests.get(f"{srv.url}/api/v1/datasets/{data_name}/versions", timeout=30).status_code == 404

    # Reads keep working.
    assert requests.get(f"{srv.url}{API}/runs/get", params={"run_id": run_id}, timeout=30).status_code == 200
    listing = requests.get(f"{srv.url}{ARTIFACTS}", params={"path": root}, timeout=30)
    assert listing.status_code == 200 and any(f["path"] == "kept.bin" for f in listing.json()["files"])
    got = requests.get(f"{srv.url}{ARTIFACTS}/{root}/kept.bin", timeout=30)
    assert got.status_code == 200 and len(got.content) == MIB
    assert requests.get(f"{srv.url}/health", timeout=30).status_code == 200
    # No half-written file is left behind.
    temps = [p for p in Path(srv.data_dir).rglob("*") if p.name.startswith(".mlship-tmp-")]
    assert temps == [], temps

    # Free space; writes resume.
    for key in fillers[:8]:
        assert requests.delete(f"{srv.url}{ARTIFACTS}/{key}", timeout=30).status_code == 200
    assert put_artifact(srv, f"{root}/after.bin", MIB).status_code == 200
    r = post(srv, "/runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.25, "timestamp": 2, "step": 1})
    assert r.status_code == 200, r.text
    second = register_version(srv, run_id, root, model)

    # Integrity: both versions' stored files and the database check clean.
    for version in (first, second):
        r = requests.post(f"{srv.url}/api/v1/models/{model}/versions/{version}/verify", timeout=60)
        assert r.status_code == 200 and r.json()["ok"], r.text
    db = sqlite3.connect(f"file:{srv.data_dir / 'mlship.db'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    errors = [line for line in srv.log_tail(200_000).splitlines() if "level=ERROR" in line and "status=500" in line]
    assert errors == [], errors
