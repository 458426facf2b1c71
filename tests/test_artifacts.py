"""Run artifacts through the mlflow-artifacts proxy: trees with unicode names, a large file,
the raw list/get/put/delete routes, and multipart upload."""

import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import mlflow
import pytest
import requests
from helpers import ARTIFACTS, IS_MLFLOW, api_url, assert_mlflow_error, quote_path, raw_request

BIG_FILE_BYTES = 200 * 1024 * 1024
UNSUPPORTED_MPU_MESSAGE = "Multipart upload is not supported for the current artifact repository"

TREE = {
    "top.txt": b"top level\n",
    "données/子目录/ファイル.txt": "こんにちは, données, 子目录\n".encode(),
    "données/émoji 🎉.bin": bytes(range(256)) * 4,
    "données/vide.txt": b"",
    "with space/a b.txt": b"\x00\x01\x02binary with NUL\xff",
    "with space/nested deeper/x y z/leaf.json": b'{"a": 1}',
    "plus+and,comma=eq.txt": b"odd punctuation",
}


def _write_tree(root: Path):
    for rel, data in TREE.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _expected_listing(prefix: str, under: str):
    """Immediate children of `under` (relative to the tree root) as (path, is_dir, size)."""
    children = {}
    base = under.strip("/")
    for rel, data in TREE.items():
        if base and not rel.startswith(base + "/"):
            continue
        rest = rel[len(base) + 1 :] if base else rel
        head, sep, _ = rest.partition("/")
        child = f"{base}/{head}" if base else head
        full = f"{prefix}/{child}" if prefix else child
        # An empty file is listed without file_size (MLflow omits the zero).
        children[full] = (full, True, None) if sep else (full, False, len(data) or None)
    return sorted(children.values())


def _listing(client, run_id, path=None):
    return sorted((f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run_id, path))


def _run_artifact_root(run) -> str:
    """Path of the run's artifact root under /api/2.0/mlflow-artifacts/artifacts/."""
    uri = run.info.artifact_uri
    assert uri.startswith("mlflow-artifacts:/"), uri
    return uri[len("mlflow-artifacts:/") :].lstrip("/")


def _attachment_filename(header: str) -> str:
    """The file name a browser would use from a Content-Disposition header (RFC 6266): the
    disposition must be "attachment"; filename* (RFC 5987) wins over filename."""
    disposition, _, rest = header.partition(";")
    assert disposition.strip().lower() == "attachment", header
    ext = re.search(r"(?i)(?:^|;)\s*filename\*\s*=\s*([^;]+)", rest)
    if ext:
        charset, _, tail = ext.group(1).strip().partition("'")
        _, _, encoded = tail.partition("'")
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    plain = re.search(r'(?i)(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)', rest)
    assert plain, header
    value = plain.group(1).strip()
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


@pytest.fixture
def run(client, experiment_id):
    return client.create_run(experiment_id)


def test_tree_with_unicode_names_round_trip(client, run, tmp_path):
    src = tmp_path / "src"
    _write_tree(src)
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(src), "tree")

    assert _listing(client, run_id) == [("tree", True, None)]
    dirs = {""} | {rel.rsplit("/", 1)[0] for rel in TREE if "/" in rel}
    for rel_dir in list(dirs):  # include every intermediate level
        parts = rel_dir.split("/")
        dirs |= {"/".join(parts[:i]) for i in range(1, len(parts))}
    for rel_dir in sorted(dirs):
        where = f"tree/{rel_dir}" if rel_dir else "tree"
        assert _listing(client, run_id, where) == _expected_listing("tree", rel_dir), where

    # A file path or a missing path lists as empty.
    assert _listing(client, run_id, "tree/top.txt") == []
    assert _listing(client, run_id, "tree/nope") == []

    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(client.download_artifacts(run_id, "tree", str(dst)))
    got = {str(p.relative_to(out)).replace(os.sep, "/"): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == TREE

    one = Path(client.download_artifacts(run_id, "tree/données/子目录/ファイル.txt", str(tmp_path / "one")))
    assert one.name == "ファイル.txt"
    assert one.read_bytes() == TREE["données/子目录/ファイル.txt"]


def test_fluent_log_artifact_into_subdir(client, experiment_id, tmp_path):
    f = tmp_path / "résumé final.md"
    f.write_text("# hi\n")
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_artifact(str(f), "docs/v1")
        mlflow.log_text("plain", "notes/n.txt")
        mlflow.log_dict({"k": [1, 2]}, "cfg/config.json")
    run_id = active.info.run_id
    assert _listing(client, run_id) == [("cfg", True, None), ("docs", True, None), ("notes", True, None)]
    assert _listing(client, run_id, "docs/v1") == [("docs/v1/résumé final.md", False, 5)]
    out = client.download_artifacts(run_id, "cfg/config.json", str(tmp_path / "d"))
    assert json.loads(Path(out).read_text()) == {"k": [1, 2]}
    out = client.download_artifacts(run_id, "notes/n.txt", str(tmp_path / "d"))
    assert Path(out).read_text() == "plain"


@pytest.mark.slow
def test_large_file_round_trip(client, run, tmp_path):
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    chunk = 4 * 1024 * 1024
    with open(big, "wb") as f:
        for _ in range(BIG_FILE_BYTES // chunk):
            block = os.urandom(chunk)
            digest.update(block)
            f.write(block)
    run_id = run.info.run_id
    client.log_artifact(run_id, str(big), "large")
    assert _listing(client, run_id, "large") == [("large/big.bin", False, BIG_FILE_BYTES)]
    big.unlink()

    out = Path(client.download_artifacts(run_id, "large/big.bin", str(tmp_path / "down")))
    got = hashlib.sha256()
    with open(out, "rb") as f:
        while block := f.read(chunk):
            got.update(block)
    assert out.stat().st_size == BIG_FILE_BYTES
    assert got.hexdigest() == digest.hexdigest()


def test_raw_list_get_and_headers(base_url, client, run, tmp_path):
    src = tmp_path / "src"
    _write_tree(src)
    client.log_artifacts(run.info.run_id, str(src))
    root = _run_artifact_root(run)

    r = requests.get(base_url + ARTIFACTS, params={"path": root})
    assert r.status_code == 200, r.text
    files = sorted((f["path"], f["is_dir"], f.get("file_size")) for f in r.json()["files"])
    # The proxy lists basenames only; directories carry no file_size.
    assert files == sorted(
        (p.rsplit("/", 1)[-1], d, s) for p, d, s in _expected_listing("", "")
    )

    r = requests.get(base_url + ARTIFACTS, params={"path": f"{root}/données"})
    assert sorted(f["path"] for f in r.json()["files"]) == ["vide.txt", "émoji 🎉.bin", "子目录"]

    # A file or a missing path lists as empty: that is how the client tells files from dirs.
    for path in [f"{root}/top.txt", f"{root}/does-not-exist"]:
        r = requests.get(base_url + ARTIFACTS, params={"path": path})
        assert r.status_code == 200, r.text
        assert r.json().get("files", []) == []

    r = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/données/子目录/ファイル.txt')}")
    assert r.status_code == 200
    assert r.content == TREE["données/子目录/ファイル.txt"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert _attachment_filename(r.headers["Content-Disposition"]) == "ファイル.txt"

    r = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/with space/a b.txt')}")
    assert r.content == TREE["with space/a b.txt"]
    assert _attachment_filename(r.headers["Content-Disposition"]) == "a b.txt"
    r = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/top.txt')}")
    assert r.content == TREE["top.txt"]
    assert _attachment_filename(r.headers["Content-Disposition"]) == "top.txt"

    r = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/nope.txt')}")
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")

    # A directory is not a downloadable file.
    r = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/données')}")
    assert r.status_code == 400


def test_raw_put_then_get(base_url, client, run):
    root = _run_artifact_root(run)
    payload = os.urandom(100_000)
    target = f"{base_url}{ARTIFACTS}/{quote_path(root + '/raw/日本 語.bin')}"
    r = requests.put(target, data=payload, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    r = requests.get(target)
    assert r.status_code == 200 and r.content == payload
    assert _listing(client, run.info.run_id, "raw") == [("raw/日本 語.bin", False, 100_000)]

    # Overwrite in place.
    r = requests.put(target, data=b"v2")
    assert r.status_code == 200
    assert requests.get(target).content == b"v2"

    # A PUT must name a file.
    r = requests.put(f"{base_url}{ARTIFACTS}/{quote_path(root + '/raw/')}", data=b"x")
    assert r.status_code == 400


def test_raw_delete(base_url, client, run, tmp_path):
    src = tmp_path / "src"
    _write_tree(src)
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(src))
    root = _run_artifact_root(run)

    r = requests.delete(f"{base_url}{ARTIFACTS}/{quote_path(root + '/top.txt')}")
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert "top.txt" not in [p for p, _, _ in _listing(client, run_id)]
    r = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/top.txt')}")
    assert r.status_code == 404

    # Deleting a directory removes everything under it.
    r = requests.delete(f"{base_url}{ARTIFACTS}/{quote_path(root + '/with space')}")
    assert r.status_code == 200, r.text
    assert _listing(client, run_id, "with space") == []
    names = [p for p, _, _ in _listing(client, run_id)]
    assert "with space" not in names and "données" in names

    # Deleting something that is not there is not an error.
    r = requests.delete(f"{base_url}{ARTIFACTS}/{quote_path(root + '/never-existed.txt')}")
    assert r.status_code == 200, r.text


def test_tracking_artifacts_list(base_url, client, run, tmp_path):
    src = tmp_path / "src"
    _write_tree(src)
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(src), "t")

    r = requests.get(api_url(base_url, "artifacts/list"), params={"run_id": run_id})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["root_uri"] == run.info.artifact_uri
    assert body["files"] == [{"path": "t", "is_dir": True}]

    r = requests.get(api_url(base_url, "artifacts/list"), params={"run_id": run_id, "path": "t/données"})
    files = sorted((f["path"], f["is_dir"], f.get("file_size")) for f in r.json()["files"])
    assert files == _expected_listing("t", "données")

    r = requests.get(api_url(base_url, "artifacts/list"), params={"run_id": "0" * 32})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_multipart_enabled_client_round_trip(client, run, tmp_path, monkeypatch):
    """With proxy multipart switched on in the client, a file above the threshold first goes to
    mpu/create. A server that answers 501 (MLflow on local storage) gets a single PUT instead;
    a server that supports it gets parts. Either way the bytes must arrive intact."""
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    data = os.urandom(12 * 1024 * 1024 + 12345)
    f = tmp_path / "parts.bin"
    f.write_bytes(data)
    run_id = run.info.run_id
    client.log_artifact(run_id, str(f), "mpu")
    assert _listing(client, run_id, "mpu") == [("mpu/parts.bin", False, len(data))]
    out = client.download_artifacts(run_id, "mpu/parts.bin", str(tmp_path / "down"))
    assert Path(out).read_bytes() == data


@pytest.mark.mlship_only
def test_server_info_turns_on_multipart_for_large_files(base_url, client, run, tmp_path, monkeypatch):
    """mlship advertises multipart uploads in /api/3.0/mlflow/server-info, so the client moves
    a file above the size threshold in parallel parts with no client setting."""
    info = requests.get(f"{base_url}/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is True
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    data = os.urandom(11 * 1024 * 1024 + 7)
    f = tmp_path / "auto.bin"
    f.write_bytes(data)
    client.log_artifact(run.info.run_id, str(f), "auto-mpu")
    out = client.download_artifacts(run.info.run_id, "auto-mpu/auto.bin", str(tmp_path / "down"))
    assert Path(out).read_bytes() == data


def _raw_multipart_upload(base_url, dir_path, name, data, part_size):
    """Drive mpu/create, part PUTs and mpu/complete the way the MLflow client does."""
    num_parts = -(-len(data) // part_size)
    r = requests.post(
        f"{base_url}/api/2.0/mlflow-artifacts/mpu/create/{quote_path(dir_path)}",
        json={"path": f"/local/somewhere/{name}", "num_parts": num_parts},
    )
    if r.status_code != 200:
        return r, None
    create = r.json()
    creds = sorted(create["credentials"], key=lambda c: c["part_number"])
    assert [c["part_number"] for c in creds] == list(range(1, num_parts + 1))
    parts = []
    for i, cred in enumerate(creds):
        chunk = data[i * part_size : (i + 1) * part_size]
        pr = requests.put(cred["url"], data=chunk, headers=cred.get("headers") or {})
        assert pr.status_code in (200, 201, 204), pr.text
        parts.append({"part_number": cred["part_number"], "etag": pr.headers.get("ETag", ""), "url": cred["url"]})
    r = requests.post(
        f"{base_url}/api/2.0/mlflow-artifacts/mpu/complete/{quote_path(dir_path)}",
        json={"path": f"/local/somewhere/{name}", "upload_id": create["upload_id"], "parts": parts},
    )
    return r, create


def test_multipart_raw_flow_or_not_implemented(base_url, client, run):
    """TARGET-DEPENDENT, on purpose: MLflow with a local artifacts destination answers
    mpu/create with 501 NOT_IMPLEMENTED and this exact message (the client matches on it to
    fall back to a single PUT); mlship implements multipart on local disk. Either answer is
    accepted here, and whichever one the target gives must be complete and correct."""
    root = _run_artifact_root(run)
    data = os.urandom(3 * 1024 * 1024 + 17)
    r, create = _raw_multipart_upload(base_url, f"{root}/mpu-raw", "joined.bin", data, 1024 * 1024)
    if r.status_code == 501:
        body = assert_mlflow_error(r, 501, "NOT_IMPLEMENTED")
        assert body["message"].startswith(UNSUPPORTED_MPU_MESSAGE)
        return
    assert not IS_MLFLOW, "MLflow on local storage is expected to answer 501"
    assert r.status_code == 200, r.text
    assert create["upload_id"]
    got = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/mpu-raw/joined.bin')}")
    assert got.status_code == 200 and got.content == data


@pytest.mark.mlship_only
def test_multipart_supported_on_local_disk(base_url, client, run):
    """mlship-only: multipart upload works against the local blob store (MLflow answers 501)."""
    root = _run_artifact_root(run)
    data = os.urandom(5 * 1024 * 1024 + 3)
    r, create = _raw_multipart_upload(base_url, f"{root}/mpu-local", "whole.bin", data, 2 * 1024 * 1024)
    assert r.status_code == 200, r.text
    got = requests.get(f"{base_url}{ARTIFACTS}/{quote_path(root + '/mpu-local/whole.bin')}")
    assert got.status_code == 200 and got.content == data
    assert _listing(client, run.info.run_id, "mpu-local") == [("mpu-local/whole.bin", False, len(data))]

    # Abort of a fresh upload is accepted and leaves nothing behind.
    r = requests.post(
        f"{base_url}/api/2.0/mlflow-artifacts/mpu/create/{quote_path(root + '/mpu-abort')}",
        json={"path": "/x/aborted.bin", "num_parts": 2},
    )
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{base_url}/api/2.0/mlflow-artifacts/mpu/abort/{quote_path(root + '/mpu-abort')}",
        json={"path": "/x/aborted.bin", "upload_id": r.json()["upload_id"]},
    )
    assert r.status_code == 200, r.text
    assert _listing(client, run.info.run_id, "mpu-abort") == []


def test_raw_request_helper_sends_target_verbatim(server, run):
    """Sanity check for the security tests: raw_request keeps the target byte for byte."""
    root = _run_artifact_root(run)
    r = raw_request(server, "PUT", f"{ARTIFACTS}/{quote_path(root)}/verbatim.txt", b"abc")
    assert r.status == 200, r
    r = raw_request(server, "GET", f"{ARTIFACTS}/{quote_path(root)}/sub/../verbatim.txt")
    assert r.status == 400, r  # a literal ".." reached the server instead of being normalized
