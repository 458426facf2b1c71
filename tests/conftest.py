"""End-to-end fixtures: one tracking server per test session, driven by the MLflow client.

Target selection (environment):

* default / ``MLSHIP_TEST_TARGET=mlship``: ``$MLSHIP_BIN server --host 127.0.0.1 --port P
  --data-dir D`` (``MLSHIP_BIN`` defaults to ``<repo>/bin/mlship``).
* ``MLSHIP_TEST_TARGET=mlflow``: the real ``mlflow server`` as an oracle, started with
  ``$MLFLOW_SERVER_PYTHON -m mlflow server`` (``MLFLOW_SERVER_PYTHON`` defaults to the
  interpreter running pytest, which then needs the full ``mlflow`` package).

Tests marked ``mlship_only`` check behaviour that only mlship has (or where mlship is meant to
be stricter than MLflow) and are skipped against the oracle.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

# Client settings must be in place before the first request. The client reads them per call,
# but setting them at import keeps every code path (fluent API, artifact repos) consistent.
# No retries: an error test must fail fast instead of backing off for minutes.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "0"
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
# Keep the outer environment from changing what the client does.
for _var in (
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD",
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE",
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE",
    "MLFLOW_TRUNCATE_LONG_VALUES",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_WORKSPACE",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
):
    os.environ.pop(_var, None)

import mlflow  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402
from helpers import IS_MLFLOW, TARGET, unique_name  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
if TARGET not in ("mlship", "mlflow"):
    raise RuntimeError(f"MLSHIP_TEST_TARGET must be 'mlship' or 'mlflow', not {TARGET!r}")

STARTUP_TIMEOUT_S = float(os.environ.get("MLSHIP_TEST_STARTUP_TIMEOUT", "90"))


# The files that take minutes, heaviest first. They run first, so that with the files spread
# over processes (make test: pytest-xdist, --dist loadfile --no-loadscope-reorder) none of them
# is left to run alone at the end; the others follow in their usual order.
HEAVY_FIRST = [
    "test_serving_cli.py",
    "test_serving_traffic.py",
    "test_gates.py",
    "test_readme.py",
    "test_envs.py",
    "test_monitoring.py",
    "test_sandbox.py",
    "test_serving.py",
    "test_registry.py",
    "test_serving_pyfunc.py",
    "test_gates_runtimes.py",
    "test_serving_follow.py",
    "test_ui_scale.py",
    "test_ui_access.py",
    "test_ui_runs.py",
]


# The files that open the SQLite database behind the server's back: skipped on PostgreSQL.
SQLITE_ONLY = {"test_full_disk.py", "test_ui_scale.py"}


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: same order in every process
    if os.environ.get("MLSHIP_E2E_BACKEND") == "postgres":
        sqlite_only = pytest.mark.skip(reason="reads or writes the SQLite file of the data directory")
        for item in items:
            if item.path.name in SQLITE_ONLY:
                item.add_marker(sqlite_only)
    if not IS_MLFLOW:
        return
    skip = pytest.mark.skip(reason="mlship-only behaviour; the target is the real mlflow server")
    for item in items:
        if "mlship_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"mlship e2e target: {TARGET}"


# --------------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------------


class Server:
    """A running tracking server: its base URL, its directories and its log."""

    def __init__(self, target: str, base_dir: Path, extra_args: list[str] | None = None, env: dict | None = None):
        self.target = target
        self.extra_args = list(extra_args or [])  # more flags of `mlship server`
        self.env = dict(env or {})  # the server's environment: a value set, None removed
        self.base_dir = base_dir  # parent of data_dir; nothing the server writes may land here
        self.data_dir = base_dir / "data"
        self.data_dir.mkdir()
        self.log_path = base_dir / "server.log"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def command(self) -> list[str]:
        if self.target == "mlflow":
            python = os.environ.get("MLFLOW_SERVER_PYTHON") or sys.executable
            return [
                python, "-m", "mlflow", "server",
                "--host", self.host,
                "--port", str(self.port),
                "--backend-store-uri", f"sqlite:///{self.data_dir}/mlflow.db",
                "--artifacts-destination", str(self.data_dir / "artifacts"),
                # One uvicorn worker: SQLite behind several processes only adds lock noise.
                "--workers", "1",
            ]  # fmt: skip
        binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
        if not os.path.exists(binary):
            pytest.exit(
                f"mlship binary not found at {binary}: build it with "
                "`go build -o bin/mlship ./cmd/mlship` or set MLSHIP_BIN",
                returncode=2,
            )
        return [
            binary, "server",
            "--host", self.host,
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            *self.backend_args(),
            # Workers inherit nothing of the server's environment: mlflow.sklearn loads
            # pickled models only when the operator passes this on (see start()).
            "--worker-env", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION",
            *self.extra_args,
        ]  # fmt: skip

    def backend_args(self) -> list[str]:
        """``--backend-store-uri`` of a fresh PostgreSQL database when the suite runs on
        PostgreSQL (``MLSHIP_E2E_BACKEND=postgres``, in ``tests/pg/run.sh``, which sets
        ``MLSHIP_TEST_POSTGRES_URI``); nothing on the default SQLite."""
        if os.environ.get("MLSHIP_E2E_BACKEND", "sqlite") != "postgres":
            return []
        admin = os.environ.get("MLSHIP_TEST_POSTGRES_URI")
        if not admin:
            pytest.exit("MLSHIP_E2E_BACKEND=postgres needs MLSHIP_TEST_POSTGRES_URI: run the tests under tests/pg/run.sh",
                        returncode=2)
        if not getattr(self, "pg_uri", None):
            psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
            name = f"e2e_{os.getpid()}_{self.port}"
            subprocess.run([str(psql[-1]) if psql else "psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
            self.pg_uri = urllib.parse.urlunsplit(urllib.parse.urlsplit(admin)._replace(path="/" + name))
        return ["--backend-store-uri", self.pg_uri]

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.setdefault("PYTHONUNBUFFERED", "1")
        # Deployments' Python workers run in the interpreter that runs the tests, which
        # has the packages the test models need.
        env.setdefault("MLSHIP_PYTHON", sys.executable)
        # mlflow.sklearn loads pickled models only when the operator allows it.
        env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.base_dir,  # anything written relative to cwd stays in the temp dir
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.target} server exited with code {self.proc.returncode} during "
                    f"startup.\n--- server log ---\n{self.log_tail()}"
                )
            try:
                r = requests.get(self.url + "/health", timeout=2)
                if r.status_code == 200:
                    return
                last_error = f"/health answered {r.status_code}"
            except requests.RequestException as e:
                last_error = repr(e)
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{self.target} server not healthy after {STARTUP_TIMEOUT_S}s ({last_error})."
            f"\n--- server log ---\n{self.log_tail()}"
        )

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, max_bytes: int = 20000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return data[-max_bytes:].decode("utf-8", "replace")


class Replicas:
    """``n`` mlship servers on one PostgreSQL database and one artifacts store, behind a
    load balancer that sends each request to the next (``tests/lb``), as a scaled-out
    server runs: ``MLSHIP_E2E_REPLICAS=n`` with ``MLSHIP_E2E_BACKEND=postgres``. It
    offers what tests use of a Server; ``servers`` are the replicas themselves."""

    def __init__(self, target: str, base_dir: Path, n: int, extra_args: list[str] | None = None,
                 env: dict | None = None):
        if os.environ.get("MLSHIP_E2E_BACKEND") != "postgres":
            pytest.exit("MLSHIP_E2E_REPLICAS needs MLSHIP_E2E_BACKEND=postgres: replicas share a database", returncode=2)
        self.target, self.base_dir = target, base_dir
        env = {"MLSHIP_S3_PREFIX": f"replicas-{os.getpid()}-{_free_port()}", **(env or {})}
        self.servers = []
        for i in range(n):
            d = base_dir / f"replica-{i}"
            d.mkdir()
            self.servers.append(Server(target, d, extra_args, env))
        self.data_dir = self.servers[0].data_dir
        self.log_path = self.servers[0].log_path
        self.host = "127.0.0.1"
        self.lb: subprocess.Popen | None = None
        self.url = ""
        self.port = 0

    def start(self):
        first = self.servers[0]
        first.start()
        for s in self.servers[1:]:
            s.pg_uri = first.pg_uri
            s.start()
        lb = os.environ.get("MLSHIP_LB") or str(REPO_ROOT / ".tools" / "bin" / "lb")
        self.lb = subprocess.Popen([lb, "--listen", "127.0.0.1:0", *(s.url for s in self.servers)],
                                   stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.url = self.lb.stdout.readline().strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self):
        if self.lb is not None and self.lb.poll() is None:
            self.lb.terminate()
            self.lb.wait(timeout=15)
        for s in self.servers:
            s.stop()

    def log_tail(self, max_bytes: int = 20000) -> str:
        per = max_bytes // len(self.servers)
        return "\n".join(f"--- replica {i} ---\n{s.log_tail(per)}" for i, s in enumerate(self.servers))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SERVER_KEY = pytest.StashKey[Server]()


@pytest.fixture(scope="session")
def server(request) -> Server:
    base = Path(tempfile.mkdtemp(prefix=f"mlship-e2e-{TARGET}-"))
    replicas = int(os.environ.get("MLSHIP_E2E_REPLICAS", "1"))
    srv = Replicas(TARGET, base, replicas) if replicas > 1 else Server(TARGET, base)
    request.config.stash[_SERVER_KEY] = srv
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if request.session.testsfailed == 0 and not os.environ.get("MLSHIP_TEST_KEEP_DIR"):
            shutil.rmtree(base, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the tail of its session server's log. The report is
    what travels from a pytest-xdist worker to the terminal, so the log shows under the
    failure whichever process ran it."""
    report = yield
    srv = item.config.stash.get(_SERVER_KEY, None)
    if report.failed and srv is not None:
        report.sections.append((f"{srv.target} server log (tail of {srv.log_path})", srv.log_tail(8000)))
    return report


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.url


@pytest.fixture(scope="session", autouse=True)
def _tracking_uri(request):
    # Autouse but lazy: only tests that talk to the server start it. All of them do.
    srv = request.getfixturevalue("server")
    os.environ["MLFLOW_TRACKING_URI"] = srv.url
    mlflow.set_tracking_uri(srv.url)
    yield
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module", autouse=True)
def _module_tracking_uri(_tracking_uri):
    """A module's fixture may point the fluent API at a server of its own; the next module
    (in the same process) starts again from the session's, whatever the fixture left."""
    uri, env_uri = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    yield
    mlflow.set_tracking_uri(uri)
    if env_uri is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = env_uri


@pytest.fixture
def client(base_url) -> MlflowClient:
    return MlflowClient(tracking_uri=base_url)


@pytest.fixture
def experiment_id(client, request) -> str:
    """A fresh experiment for the calling test, so tests never see each other's runs."""
    name = unique_name(re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60])
    return client.create_experiment(name)


@pytest.fixture(autouse=True)
def _reset_fluent_state():
    """The fluent API keeps process-wide state (active runs, the experiment chosen by
    set_experiment, which it also exports as MLFLOW_EXPERIMENT_ID, and the tracking URI,
    which set_tracking_uri exports as MLFLOW_TRACKING_URI). Reset it after each test, so
    that a test that talked to a server of its own leaves the next one the URI it found
    (the session's, or the one its module's fixture chose)."""
    uri, env_uri = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    # A fixture that unset it would send this test's fluent calls to a local store, and
    # restoring would pass that on to every later test of the process.
    assert uri.startswith("http"), f"a fixture left the tracking URI at {uri!r}: restore the one it found"
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(uri)
    if env_uri is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = env_uri
    fluent = mlflow.tracking.fluent
    if hasattr(fluent, "_active_experiment_id"):
        fluent._active_experiment_id = None
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(var, None)
