"""The README's whole path, run as written: every shell block of its section "The whole path",
pasted into bash in order, against a fresh server started as `make run` starts it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from conftest import REPO_ROOT, Server
from helpers import IS_MLFLOW

pytestmark = pytest.mark.mlship_only

SECTION = "## The whole path"


def blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.S)


def test_the_readme_has_the_whole_path():
    got = "\n".join(blocks())
    for step in ("registered_model_name", "mlship data add", "mlship gate set", "mlship gate evaluate",
                 "mlship models alias", "mlship deploy create", "/invocations", "mlship drift"):  # fmt: skip
        assert step in got, step


@pytest.fixture
def fresh_server():
    """A server as `make run` starts it: no interpreter given, so Python models run in
    environments uv builds from their logged requirements."""
    uv = REPO_ROOT / ".tools" / "bin" / "uv"
    if not os.access(uv, os.X_OK):
        pytest.skip("uv is not installed (make deps puts it in .tools/bin/uv)")
    base = Path(tempfile.mkdtemp(prefix="mlship-readme-"))
    # uv's cache outlives the data directory (as tests/test_envs.py keeps it), so that only
    # the first run downloads the packages.
    srv = Server("mlship", base, ["--uv", str(uv)], env={"MLSHIP_PYTHON": None, "UV_CACHE_DIR": str(REPO_ROOT / ".cache" / "uv")})
    srv.start()
    yield srv
    srv.stop()


def run_block(block: str, srv: Server, cwd: Path, env: dict) -> str:
    # The README speaks of the server `make run` starts; this one listens elsewhere.
    script = block.replace("127.0.0.1:5000", f"127.0.0.1:{srv.port}").replace("localhost:5000", f"localhost:{srv.port}")
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, f"{script}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.mark.skipif(IS_MLFLOW, reason="mlship's command line")
def test_the_readme_whole_path_works_as_pasted(fresh_server, tmp_path):
    srv = fresh_server
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mlship").symlink_to(os.environ.get("MLSHIP_BIN") or REPO_ROOT / "bin" / "mlship")
    # A shell with mlship and a Python that has mlflow and scikit-learn on its PATH, and
    # nothing of the test process's MLflow settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLSHIP_"))}
    env["PATH"] = os.pathsep.join([str(bindir), os.path.dirname(sys.executable), env.get("PATH", "")])
    env["MLSHIP_SERVER"] = srv.url
    work = tmp_path / "work"
    work.mkdir()

    write, first, second = blocks()
    run_block(write, srv, work, env)
    assert (work / "train.py").exists()

    out = run_block(first, srv, work, env)
    assert "PASSED" in out, out
    answer = json.loads(out[out.rindex('{"predictions"') :])
    assert answer["predictions"] in ([0], [1]), answer

    out = run_block(second, srv, work, env)
    assert "fraud@production -> version 2" in out, out
    deadline = time.monotonic() + 180
    while True:
        d = requests.get(f"{srv.url}/api/v1/deployments/fraud", timeout=10).json()
        primary = [m for m in d["status"]["models"] if m["role"] == "primary"]
        if d["status"]["state"] == "ready" and [m["version"] for m in primary] == ["2"]:
            break
        assert time.monotonic() < deadline, d
        time.sleep(1)
    r = requests.post(f"{srv.url}/deployments/fraud/invocations",
                      json={"dataframe_split": {"columns": ["amount", "age", "tenure", "score"], "data": [[0.5, -1.2, 0.3, 1.1]]}})  # fmt: skip
    assert r.status_code == 200, r.text
