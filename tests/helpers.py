"""Helpers shared by the end-to-end tests (imported as ``helpers``; tests/ is on sys.path)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import urllib.parse
import uuid
from pathlib import Path

TARGET = os.environ.get("MLSHIP_TEST_TARGET", "mlship").strip().lower() or "mlship"
IS_MLFLOW = TARGET == "mlflow"


def unique_name(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------------
# Raw HTTP helpers
# --------------------------------------------------------------------------------------------

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.body[:300]!r}>"


def raw_request(
    server,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> RawResponse:
    """Send ``target`` byte for byte as the request target (http.client does no dot-segment
    normalization or re-quoting, unlike requests/urllib3). A ``Host`` in ``headers`` is sent
    instead of the server's own."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        own_host = any(k.lower() == "host" for k in hdrs)
        conn.putrequest(method, target, skip_host=own_host, skip_accept_encoding=True)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Length", str(len(body or b"")))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def api_url(base_url: str, path: str) -> str:
    return f"{base_url}{API}/{path.lstrip('/')}"


def quote_path(path: str) -> str:
    return urllib.parse.quote(path, safe="/")


def assert_mlflow_error(resp, status: int, error_code: str, message_substring: str | None = None):
    """Check an MLflow error response, from requests or raw_request."""
    code = resp.status_code if hasattr(resp, "status_code") else resp.status
    text = resp.text if hasattr(resp, "text") else resp.body.decode("utf-8", "replace")
    assert code == status, f"expected HTTP {status}, got {code}: {text[:500]}"
    body = json.loads(text)
    assert body.get("error_code") == error_code, body
    if message_substring is not None:
        assert message_substring in body.get("message", ""), body
    return body


REPO_ROOT = Path(__file__).resolve().parent.parent


def mlship(server, *args, check=True) -> subprocess.CompletedProcess:
    """Runs the mlship command line against the test server; with check, it must succeed."""
    binary = os.environ.get("MLSHIP_BIN") or str(REPO_ROOT / "bin" / "mlship")
    p = subprocess.run([binary, *args, "--server", server.url], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def pinned(*packages: str) -> list[str]:
    """The installed versions of packages as pip requirements: what MLflow infers for a model,
    given up front so that the client does not infer them by loading each model in a new
    Python process (seconds of CPU per logged model)."""
    from importlib.metadata import version

    import mlflow

    # MLflow names itself "mlflow" in a model's requirements, whichever of its packages is installed.
    return [f"{p}=={mlflow.__version__ if p == 'mlflow' else version(p)}" for p in packages]
