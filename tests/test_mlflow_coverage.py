"""Which of MLflow's REST endpoints mlship answers, read from the pinned MLflow package itself:
the Flask handlers' get_endpoints() and the FastAPI routers of MLflow's server. Each endpoint
is called once (path parameters filled in, an empty JSON body) and counts as answered unless
the server says it has no such endpoint (404 ENDPOINT_NOT_FOUND, a bare 404, or 405). The
table by family is printed; an endpoint in tests/testdata/mlflow_endpoints_answered.json that
is no longer answered fails the test, so no family loses a route unnoticed.

MLSHIP_UPDATE_COVERAGE=1 rewrites the file from what the server answers now."""

from __future__ import annotations

import collections
import json
import os
import re

import tempfile
from pathlib import Path

import pytest
import requests
from conftest import REPO_ROOT, Server

pytestmark = pytest.mark.mlship_only

BASELINE = REPO_ROOT / "tests" / "testdata" / "mlflow_endpoints_answered.json"

# Families mlship does not aim to serve (docs/tracking.md says so): the AI gateway, the
# MCP server registry, the assistant, Databricks-only routes and MLflow's own UI helpers.
OUT_OF_SCOPE = {"gateway", "mcp", "assistant", "get-online-trace-details", "graphql", "prompt-optimization",
                "review-queues", "issues", "label-schemas", "workspaces", "jobs", "unified-traces"}


def mlflow_endpoints() -> list[tuple[str, str]]:
    """(method, path) of every endpoint MLflow's server registers, from the package."""
    from mlflow.server.handlers import get_endpoints

    eps = {(m, path) for path, _handler, methods in get_endpoints() for m in methods}
    routers = []
    for module, name in [("mlflow.server.otel_api", "otel_router"), ("mlflow.server.job_api", "job_api_router"),
                         ("mlflow.server.artifact_router", "artifact_router"),
                         ("mlflow.server.server_info_api", "server_info_router"),
                         ("mlflow.server.gateway_api", "gateway_router")]:
        try:
            routers.append(getattr(__import__(module, fromlist=[name]), name))
        except Exception:  # noqa: BLE001 - a router whose optional dependencies are missing
            continue
    for r in routers:
        for route in r.routes:
            for m in getattr(route, "methods", None) or ():
                eps.add((m, route.path))
    return sorted((m, p) for m, p in eps if m not in ("HEAD", "OPTIONS"))


def family(path: str) -> str:
    """The endpoint's family: the path segment after .../mlflow/ (or mlflow-artifacts/)."""
    if path.startswith("/v1/traces"):
        return "traces"
    parts = [p for p in re.sub(r"^/(ajax-)?api/\d\.\d/", "/", path).split("/") if p]
    if parts and parts[0] in ("mlflow", "mlflow-artifacts"):
        parts = parts[1:] or parts
    return parts[0] if parts else path


def concrete(path: str) -> str:
    """The path with its parameters filled in."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"x\1", path)
    return re.sub(r"\{(\w+)(?::path)?\}", r"x\1", path)


def answered(base_url: str, method: str, path: str) -> bool:
    kw = {} if method == "GET" else {"json": {}}
    r = requests.request(method, base_url + concrete(path), timeout=30, **kw)
    if r.status_code == 405:
        return False
    if r.status_code == 404:
        try:
            return r.json().get("error_code") != "ENDPOINT_NOT_FOUND"
        except ValueError:
            return False  # a bare 404: nothing is routed there
    return True


@pytest.fixture(scope="module")
def own_server():
    """A server of the test's own: the probes create and change things (an empty runs/create
    makes a run in the default experiment) that other files' servers must not see."""
    s = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-coverage-")))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_mlflow_endpoint_coverage_by_family(own_server, capsys):
    base_url = own_server.url
    eps = mlflow_endpoints()
    got = {f"{m} {p}" for m, p in eps if answered(base_url, m, p)}
    by_family = collections.defaultdict(lambda: [0, 0])
    for m, p in eps:
        f = family(p)
        by_family[f][1] += 1
        by_family[f][0] += f"{m} {p}" in got
    with capsys.disabled():
        print(f"\nMLflow endpoints answered by mlship: {len(got)} of {len(eps)}")
        for f, (a, n) in sorted(by_family.items(), key=lambda kv: (kv[0] in OUT_OF_SCOPE, kv[0])):
            print(f"  {f:28} {a:4} / {n:<4}{'  (out of scope)' if f in OUT_OF_SCOPE else ''}")
    if os.environ.get("MLSHIP_UPDATE_COVERAGE"):
        BASELINE.write_text(json.dumps(sorted(got), indent=1) + "\n")
        return
    known = set(json.loads(BASELINE.read_text()))
    lost = sorted(known - got)
    assert not lost, f"endpoints mlship answered before and no longer does: {lost}"
    unknown = sorted(e for e in known if tuple(e.split(" ", 1)) not in set(eps))
    assert not unknown, f"endpoints in {BASELINE.name} that the pinned MLflow no longer has: {unknown}"
