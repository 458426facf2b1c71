"""From one machine to a team server: a store on SQLite, filled by the official MLflow
client, is copied into an empty PostgreSQL database with `mlship migrate --copy-from`, and
a server on PostgreSQL (with the same artifacts folder) then answers everything the old one
did, and goes on numbering where it stopped. Runs under make test-e2e-shared."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import mlflow
import pytest
from conftest import REPO_ROOT, Server
from helpers import unique_name
from mlflow import MlflowClient

pytestmark = [
    pytest.mark.mlship_only,
    pytest.mark.skipif(os.environ.get("MLSHIP_E2E_BACKEND") != "postgres",
                       reason="copies into PostgreSQL: run under make test-e2e-shared"),
]


def _binary() -> str:
    return os.environ.get("MLSHIP_S3_REAL_BIN") or os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")


class _SQLiteServer(Server):
    """A server on the SQLite default whatever the suite's backend."""

    def backend_args(self) -> list[str]:
        return []

    def command(self) -> list[str]:
        cmd = super().command()
        cmd[0] = _binary()
        return cmd


class _PostgresServer(Server):
    """A server on the given PostgreSQL database and artifacts folder."""

    def __init__(self, base_dir: Path, uri: str, artifacts: Path):
        super().__init__("mlship", base_dir, ["--artifacts-destination", str(artifacts)])
        self.pg_uri = uri

    def command(self) -> list[str]:
        cmd = super().command()
        cmd[0] = _binary()
        return cmd


def test_sqlite_store_copied_into_postgresql(tmp_path):
    old = _SQLiteServer("mlship", Path(tempfile.mkdtemp(prefix="mlship-copy-old-")))
    old.start()
    try:
        mlflow.set_tracking_uri(old.url)
        client = MlflowClient(old.url)
        exp = client.create_experiment(unique_name("moved"), tags={"team": "fraud"})
        runs = []
        for i in range(3):
            with mlflow.start_run(experiment_id=exp) as run:
                mlflow.log_params({"lr": 0.1 * (i + 1), "depth": i})
                for step in range(5):
                    mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
                mlflow.set_tag("stage", f"s{i}")
                mlflow.log_text(f"notes {i}", "notes.txt")
            runs.append(run.info.run_id)
        name = unique_name("moved-model")
        client.create_registered_model(name, description="moved")
        for run_id in runs:
            client.create_model_version(name, f"runs:/{run_id}/notes.txt", run_id=run_id)
        client.set_registered_model_alias(name, "production", "2")
        before = {r.info.run_id: (r.data.params, r.data.metrics, r.data.tags.get("stage"))
                  for r in client.search_runs([exp])}
    finally:
        old.stop()
    pg_uri = Server("mlship", tmp_path).backend_args()[1]  # a fresh database on the suite's PostgreSQL
    sqlite = f"sqlite://{old.data_dir}/mlship.db"
    migrate = [_binary(), "migrate", "--backend-store-uri", pg_uri, "--copy-from", sqlite, "-o", "json"]
    p = subprocess.run(migrate, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    copied = {t["table"]: t["rows"] for t in res["copied"]}
    assert copied["runs"] == 3 and copied["model_versions"] == 3, copied
    # A second copy would merge: refused, nothing written.
    again = subprocess.run(migrate, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "already holds data" in again.stderr, again.stderr

    artifacts = tmp_path / "artifacts"
    shutil.copytree(old.data_dir / "artifacts", artifacts)
    new = _PostgresServer(Path(tempfile.mkdtemp(prefix="mlship-copy-new-")), pg_uri, artifacts)
    shutil.copytree(old.data_dir / "content", new.data_dir / "content")
    new.start()
    try:
        client = MlflowClient(new.url)
        after = {r.info.run_id: (r.data.params, r.data.metrics, r.data.tags.get("stage"))
                 for r in client.search_runs([exp])}
        assert after == before
        assert [m.step for m in client.get_metric_history(runs[0], "loss")] == list(range(5))
        assert client.get_experiment(exp).tags["team"] == "fraud"
        assert client.get_model_version_by_alias(name, "production").version == "2"
        mlflow.set_tracking_uri(new.url)
        assert Path(mlflow.artifacts.download_artifacts(run_id=runs[1], artifact_path="notes.txt",
                                                         dst_path=str(tmp_path / "dl"))).read_text() == "notes 1"
        # Numbering goes on where the old server stopped.
        assert client.create_model_version(name, f"runs:/{runs[0]}/notes.txt", run_id=runs[0]).version == "4"
        assert int(client.create_experiment(unique_name("after"))) > int(exp)
    finally:
        new.stop()
