"""Artifacts on S3: mlship started with --artifacts-destination s3://BUCKET/PREFIX against a
real S3-compatible server that checks request signatures (moto, tests/s3/server.py, which
`make deps` installs in .venv-s3). The official MLflow client logs artifacts and a model
through the server, registers a version (the content store copies it within the bucket) and
downloads both back byte for byte; the objects are where the bucket says they are."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from conftest import REPO_ROOT, Server
from helpers import pinned, unique_name
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.mlship_only

S3_PYTHON = REPO_ROOT / ".venv-s3" / "bin" / "python"
BUCKET = "mlship-e2e"
PREFIX = "team/artifacts"

# Lists a bucket with boto3 (in moto's venv): argv endpoint, access key, secret, bucket, prefix.
LIST_OBJECTS = """
import json, sys, boto3
ep, ak, sk, bucket, prefix = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
keys = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    keys.update({o["Key"]: [o["Size"], o["ETag"]] for o in page.get("Contents", [])})
print(json.dumps(keys))
"""


@pytest.fixture(scope="module")
def s3():
    if not S3_PYTHON.exists():
        pytest.fail(f"{S3_PYTHON} is missing: run `make deps`")
    proc = subprocess.Popen([str(S3_PYTHON), str(REPO_ROOT / "tests" / "s3" / "server.py"), "--bucket", BUCKET],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        yield info
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(timeout=10)


def list_bucket(s3, prefix: str, secret: str | None = None, etags: bool = False) -> dict:
    """The bucket's objects under prefix: their sizes, or [size, ETag] pairs."""
    p = subprocess.run([str(S3_PYTHON), "-c", LIST_OBJECTS, s3["endpoint"], s3["access_key"],
                        secret or s3["secret_key"], BUCKET, prefix], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    found = json.loads(p.stdout)
    return found if etags else {k: v[0] for k, v in found.items()}


@pytest.fixture(scope="module")
def s3_server(s3):
    base = Path(tempfile.mkdtemp(prefix="mlship-s3-"))
    srv = Server("mlship", base, extra_args=[
        "--artifacts-destination", f"s3://{BUCKET}/{PREFIX}", "--s3-region", s3["region"]],
        env={"AWS_ACCESS_KEY_ID": s3["access_key"], "AWS_SECRET_ACCESS_KEY": s3["secret_key"],
             "MLFLOW_S3_ENDPOINT_URL": s3["endpoint"], "AWS_EC2_METADATA_DISABLED": "true",
             "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_wrong_secret_is_refused(s3):
    """The server checks signatures: a client with a wrong secret lists nothing."""
    with pytest.raises(RuntimeError, match="SignatureDoesNotMatch"):
        list_bucket(s3, "", secret="not-" + s3["secret_key"])


def test_server_refuses_to_start_with_a_wrong_secret(s3):
    base = Path(tempfile.mkdtemp(prefix="mlship-s3-bad-"))
    srv = Server("mlship", base, extra_args=["--artifacts-destination", f"s3://{BUCKET}/x", "--s3-endpoint", s3["endpoint"]],
                 env={"AWS_ACCESS_KEY_ID": s3["access_key"], "AWS_SECRET_ACCESS_KEY": "wrong",
                      "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                      "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    with pytest.raises(RuntimeError, match="exited with code"):
        srv.start()
    assert "403" in srv.log_tail()


def test_artifacts_and_model_versions_on_s3(s3, s3_server, tmp_path):
    mlflow.set_tracking_uri(s3_server.url)
    client = MlflowClient(tracking_uri=s3_server.url)
    exp = client.create_experiment(unique_name("s3"))
    files = {"notes.txt": b"hello from S3\n", "data/blob.bin": os.urandom(3 << 20), "data/empty": b""}
    src = tmp_path / "src"
    for rel, body in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(body)

    name = unique_name("s3-model")
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.9]])
    y = np.array([0, 1, 1, 0])
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_artifacts(str(src))
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                        pip_requirements=pinned("scikit-learn", "skops"),
                                        registered_model_name=name)
    run_id = run.info.run_id

    # The run's artifacts come back byte for byte, listed as the client expects.
    listed = {f.path for f in client.list_artifacts(run_id)}
    assert {"notes.txt", "data"} <= listed
    out = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="", dst_path=str(tmp_path / "out")))
    for rel, body in files.items():
        assert (out / rel).read_bytes() == body, rel

    # The version was registered into the content store in the same bucket; it loads and
    # downloads back identical to what was logged.
    mv = client.get_model_version(name, "1")
    assert mv.status == "READY"
    model = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert list(model.predict(X)) == list(LogisticRegression().fit(X, y).predict(X))
    logged = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "logged")))
    version = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=str(tmp_path / "version")))
    # registered_model_meta is what the client writes beside a model it downloads.
    logged_files = {p.relative_to(logged): p.read_bytes() for p in logged.rglob("*")
                    if p.is_file() and p.name != "registered_model_meta"}
    version_files = {p.relative_to(version): p.read_bytes() for p in version.rglob("*")
                     if p.is_file() and p.name != "registered_model_meta"}
    assert Path("MLmodel") in version_files
    assert version_files == logged_files

    # The bytes are in the bucket: the run's artifacts under the prefix, the version's
    # files in the content store beside them, and nothing was written to the data dir.
    objects = list_bucket(s3, PREFIX + "/")
    notes = [k for k in objects if k.endswith(f"/{run_id}/artifacts/notes.txt")]
    assert notes and objects[notes[0]] == len(files["notes.txt"]), sorted(objects)[:20]
    assert any(k.endswith("/data/blob.bin") and v == len(files["data/blob.bin"]) for k, v in objects.items())
    content = [k for k in objects if k.startswith(PREFIX + "/.mlship-content/")]
    assert content, sorted(objects)[:20]
    assert sum(objects[k] for k in content) >= sum(len(b) for b in version_files.values())
    local = [p for p in (s3_server.data_dir / "artifacts").rglob("*") if p.is_file()] if (s3_server.data_dir / "artifacts").exists() else []
    assert local == []
    assert not (s3_server.data_dir / "content").exists() or not any(p.is_file() for p in (s3_server.data_dir / "content").rglob("*"))


@pytest.fixture(scope="module")
def presigned_server(s3):
    base = Path(tempfile.mkdtemp(prefix="mlship-s3-presigned-"))
    srv = Server("mlship", base, extra_args=[
        "--artifacts-destination", f"s3://{BUCKET}/presigned", "--s3-endpoint", s3["endpoint"],
        "--s3-presigned-urls"],
        env={"AWS_ACCESS_KEY_ID": s3["access_key"], "AWS_SECRET_ACCESS_KEY": s3["secret_key"],
             "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
             "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("presigned", [False, True], ids=["through-server", "presigned"])
def test_multipart_upload(s3, s3_server, presigned_server, presigned, tmp_path, monkeypatch):
    """MLflow's multipart upload of a large artifact: its parts go through the server, or
    with --s3-presigned-urls straight to the bucket with the URLs mpu/create hands out."""
    srv = presigned_server if presigned else s3_server
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1 << 20))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 << 20))  # S3's smallest part
    client = MlflowClient(tracking_uri=srv.url)
    run = client.create_run(client.create_experiment(unique_name("mpu")))
    body = os.urandom((12 << 20) + 123)  # three parts
    (tmp_path / "weights.bin").write_bytes(body)

    # What mpu/create hands out: URLs of the bucket, or of the server.
    created = requests.post(f"{srv.url}/api/2.0/mlflow-artifacts/mpu/create/probe",
                            json={"path": "probe.bin", "num_parts": 2}, timeout=30)
    assert created.status_code == 200, created.text
    urls = [c["url"] for c in created.json()["credentials"]]
    assert all(u.startswith(s3["endpoint"] if presigned else srv.url) for u in urls), urls
    requests.post(f"{srv.url}/api/2.0/mlflow-artifacts/mpu/abort/probe",
                  json={"path": "probe.bin", "upload_id": created.json()["upload_id"]}, timeout=30)

    mlflow.set_tracking_uri(srv.url)
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_artifact(str(tmp_path / "weights.bin"), "model")
    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model/weights.bin",
                                              dst_path=str(tmp_path / "out"))
    assert Path(out).read_bytes() == body
    prefix = "presigned/" if presigned else PREFIX + "/"
    objects = list_bucket(s3, prefix, etags=True)
    stored = [v for k, v in objects.items() if k.endswith(f"{run.info.run_id}/artifacts/model/weights.bin")]
    # A multipart object's ETag ends in its number of parts: the client did use multipart.
    assert len(stored) == 1 and stored[0][0] == len(body) and stored[0][1].endswith('-3"'), stored


def test_presigned_downloads(s3, presigned_server, tmp_path, monkeypatch):
    """With --s3-presigned-urls the server tells clients (server-info) to download from the
    bucket: the MLflow client asks mlflow-artifacts/presigned for each file and reads it in
    ranged chunks from the URL, run artifacts and a registered version's files alike."""
    srv = presigned_server
    info = requests.get(f"{srv.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_downloads_enabled"] is True, info
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(1 << 20))
    client = MlflowClient(tracking_uri=srv.url)
    mlflow.set_tracking_uri(srv.url)
    body = os.urandom((3 << 20) + 5)  # four chunks
    (tmp_path / "data.bin").write_bytes(body)
    name = unique_name("presigned")
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.9]])
    y = np.array([0, 1, 1, 0])
    with mlflow.start_run(experiment_id=client.create_experiment(unique_name("presigned"))) as run:
        mlflow.log_artifact(str(tmp_path / "data.bin"))
        mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                 pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=name)

    # What the client is given: a URL of the bucket, signed for the object's version.
    exp_id = run.info.experiment_id
    r = requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/presigned/{exp_id}/{run.info.run_id}/artifacts/data.bin", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["url"].startswith(s3["endpoint"] + "/") and r.json()["file_size"] == len(body)
    assert "If-Match" in r.json()["headers"]
    missing = requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/presigned/{exp_id}/{run.info.run_id}/artifacts/nope", timeout=30)
    assert missing.status_code == 404, missing.text

    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="data.bin", dst_path=str(tmp_path / "a"))
    assert Path(out).read_bytes() == body
    model = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert list(model.predict(X)) == list(LogisticRegression().fit(X, y).predict(X))


def test_no_presigned_downloads_without_the_flag(s3_server):
    info = requests.get(f"{s3_server.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["multipart_downloads_enabled"] is False
    r = requests.get(f"{s3_server.url}/api/2.0/mlflow-artifacts/presigned/0/x", timeout=30)
    assert r.status_code == 501 and r.json()["error_code"] == "NOT_IMPLEMENTED", r.text


def test_presigned_upload_and_download_urls(s3, s3_server, presigned_server, tmp_path):
    """MLflow 3's artifacts/presigned-upload-url and presigned-download-url: a client puts a
    run's (or a logged model's) file straight into the bucket and reads it back from it; the
    server sees it as any other artifact."""
    srv = presigned_server
    api = f"{srv.url}/api/2.0/mlflow/artifacts"
    info = requests.get(f"{srv.url}/api/3.0/mlflow/server-info", timeout=30).json()
    assert info["presigned_upload_run_id_supported"] is True and info["presigned_upload_model_id_supported"] is True
    client = MlflowClient(tracking_uri=srv.url)
    exp = client.create_experiment(unique_name("presign"))
    run = client.create_run(exp)
    body = os.urandom(70_000)
    r = requests.post(f"{api}/presigned-upload-url", json={"run_id": run.info.run_id, "path": "direct/w.bin"}, timeout=30)
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["presigned_url"].startswith(s3["endpoint"] + "/"), up
    put = requests.put(up["presigned_url"], data=body, headers=up.get("headers", {}), timeout=30)
    assert put.status_code == 200, put.text
    # The server lists and serves what the client put in the bucket.
    assert [f.path for f in client.list_artifacts(run.info.run_id, "direct")] == ["direct/w.bin"]
    mlflow.set_tracking_uri(srv.url)
    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="direct/w.bin", dst_path=str(tmp_path))
    assert Path(out).read_bytes() == body

    r = requests.post(f"{api}/presigned-download-url", json={"run_id": run.info.run_id, "path": "direct/w.bin",
                                                              "expiration": 60}, timeout=30)
    assert r.status_code == 200, r.text
    down = r.json()
    assert int(down["file_size"]) == len(body)
    got = requests.get(down["presigned_url"], headers=down.get("headers", {}), timeout=30)
    assert got.status_code == 200 and got.content == body

    model = client.create_logged_model(exp, name="m")
    r = requests.post(f"{api}/presigned-upload-url", json={"model_id": model.model_id, "path": "MLmodel"}, timeout=30)
    assert r.status_code == 200, r.text
    assert requests.put(r.json()["presigned_url"], data=b"flavors: {}\n", headers=r.json().get("headers", {}),
                        timeout=30).status_code == 200
    assert [f.path for f in client.list_logged_model_artifacts(model.model_id)] == ["MLmodel"]

    for body, status, code in [
        ({"run_id": run.info.run_id, "model_id": model.model_id, "path": "x"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"path": "x"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": run.info.run_id, "path": "../other-run/x"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": run.info.run_id}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": run.info.run_id, "path": "x", "expiration": 0}, 400, "INVALID_PARAMETER_VALUE"),
        ({"run_id": "0" * 32, "path": "x"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ]:
        r = requests.post(f"{api}/presigned-upload-url", json=body, timeout=30)
        assert (r.status_code, r.json().get("error_code")) == (status, code), (body, r.text)
    # Without --s3-presigned-urls the server hands out no URL.
    other = MlflowClient(tracking_uri=s3_server.url)
    run2 = other.create_run(other.create_experiment(unique_name("nopresign")))
    for route in ("presigned-upload-url", "presigned-download-url"):
        r = requests.post(f"{s3_server.url}/api/2.0/mlflow/artifacts/{route}", json={"run_id": run2.info.run_id,
                                                                                   "path": "x"}, timeout=30)
        assert r.status_code == 501 and r.json()["error_code"] == "NOT_IMPLEMENTED", r.text
