"""What a web page can do to a server on 127.0.0.1 that the user merely has open: a
cross-site POST with a text/plain or form body (CSRF: no preflight needed), and requests
to a host name the attacker rebinds to 127.0.0.1 (DNS rebinding). Every state-changing
route family refuses them with 403 and nothing changes; CORS is off unless
--cors-allowed-origins names an origin; every answer carries the security headers;
request bodies that dribble in are cut. The real clients keep working: the other test
files drive the same server with the MLflow client, tritonclient and the CLI."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from pathlib import Path

import pytest
import requests
from helpers import API, ARTIFACTS, raw_request, unique_name

pytestmark = pytest.mark.mlship_only

EVIL = "https://evil.example"
REBOUND = "rebind.evil.example"
PWNED = Path("/tmp/pwned-by-browser-attack")


def send(server, method, target, body=b"", headers=None, timeout=30):
    """One request, byte for byte, with the Host the caller gives."""
    r = raw_request(server, method, target, body, {"Host": f"{server.host}:{server.port}", **(headers or {})}, timeout)
    return r.status, r.headers, r.body


def attacks(server):
    """The three things a page can send, as (name, headers, body)."""
    port = server.port
    return [
        ("cross-site text/plain", {"Content-Type": "text/plain", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}, None),
        ("form with a foreign Origin", {"Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL}, b"name=pwned"),
        ("rebound Host", {"Content-Type": "application/json", "Host": f"{REBOUND}:{port}",
                          "Origin": f"http://{REBOUND}:{port}", "Sec-Fetch-Site": "same-origin"}, None),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def victim(server):
    """Things an attack would change: an experiment with a run, a registered model, an
    artifact."""
    exp = requests.post(f"{server.url}{API}/experiments/create", json={"name": unique_name("victim")}).json()["experiment_id"]
    run = requests.post(f"{server.url}{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
    model = unique_name("victim-model")
    assert requests.post(f"{server.url}{API}/registered-models/create", json={"name": model}).status_code == 200
    key = f"victim-{run}/kept.txt"
    assert requests.put(f"{server.url}{ARTIFACTS}/{key}", data=b"kept").status_code == 200
    return {"experiment": exp, "run": run, "model": model, "artifact": key}


def snapshot(server, victim):
    """Everything the attacked routes could change, as seen by a plain client."""
    u = server.url
    return json.dumps([
        requests.post(f"{u}{API}/experiments/search", json={"max_results": 1000, "view_type": "ALL"}).json(),
        requests.get(f"{u}{API}/runs/get", params={"run_id": victim["run"]}).json(),
        requests.get(f"{u}{API}/registered-models/search", params={"max_results": 1000}).json(),
        requests.get(f"{u}{ARTIFACTS}/{victim['artifact']}").text,
        requests.get(f"{u}{ARTIFACTS}", params={"path": victim["artifact"].split("/")[0]}).json(),
        requests.get(f"{u}/api/v1/deployments").json(),
        requests.get(f"{u}/api/v1/datasets").json(),
    ], sort_keys=True)  # fmt: skip


def routes(victim):
    """One or more state-changing routes of each family, with the body an attacker would
    send."""
    exp, run, model, key = victim["experiment"], victim["run"], victim["model"], victim["artifact"]
    batch = {"run_id": run, "params": [{"key": "pwned", "value": "1"}]}
    command = {"name": "pwned", "model": f"models:/{model}/1", "runtime": "command",
               "command": ["sh", "-c", f"id > {PWNED}"]}  # fmt: skip
    return [
        ("POST", f"{API}/experiments/create", {"name": "pwned"}),
        ("POST", f"{API}/experiments/delete", {"experiment_id": exp}),
        ("POST", f"{API}/runs/log-batch", batch),
        ("POST", "/ajax-api/2.0/mlflow/runs/log-batch", batch),
        ("POST", "/ajax-api/2.0/mlflow/registered-models/rename", {"name": model, "new_name": "pwned"}),
        ("DELETE", f"{API}/registered-models/delete", {"name": model}),
        ("PATCH", f"{API}/registered-models/update", {"name": model, "description": "pwned"}),
        ("POST", "/api/3.0/mlflow/jobs/", {"job_name": "run_task"}),
        ("POST", "/ajax-api/3.0/jobs/", {"job_name": "run_task"}),
        ("PUT", f"{ARTIFACTS}/{key}", "pwned"),
        ("DELETE", f"{ARTIFACTS}/{key}", None),
        ("POST", "/api/2.0/mlflow-artifacts/mpu/create/victim", {"path": "x", "num_parts": 1}),
        ("POST", "/api/v1/deployments", command),
        ("DELETE", "/api/v1/deployments/pwned", None),
        ("POST", "/api/v1/datasets/pwned/versions?file=a.csv", "a,b\n1,2\n"),
        ("PUT", f"/api/v1/models/{model}/aliases/prod", {"version": "1"}),
        ("POST", "/v2/models/pwned/infer", {"inputs": []}),
        ("POST", "/v1/models/pwned:predict", {"instances": []}),
        ("POST", "/deployments/pwned/invocations", {"inputs": []}),
    ]


def test_browser_attacks_are_refused_and_change_nothing(server, victim):
    before = snapshot(server, victim)
    table = []
    for method, target, payload in routes(victim):
        body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode() if payload else b""
        for name, headers, override in attacks(server):
            status, hdrs, got = send(server, method, target, override if override is not None else body, headers)
            table.append(f"{method:6} {target[:60]:60} {name:28} {status}")
            assert status == 403, (method, target, name, status, got[:300])
            assert json.loads(got)["error_code"] == "PERMISSION_DENIED", got
            assert hdrs.get("x-content-type-options") == "nosniff", hdrs
    print("\n".join(table))
    assert snapshot(server, victim) == before
    assert not PWNED.exists()


def test_refusals_name_the_host_and_the_flag(server):
    status, _, body = send(server, "GET", f"{API}/experiments/search?max_results=1", headers={"Host": f"{REBOUND}:{server.port}"})
    assert status == 403
    msg = json.loads(body)["message"]
    assert REBOUND in msg and "--allowed-hosts" in msg, msg
    # A read is refused too: DNS rebinding reads data as well as it writes it.
    status, _, _ = send(server, "GET", f"{API}/registered-models/search", headers={"Host": REBOUND})
    assert status == 403
    # Probes answer whatever the Host: Kubernetes addresses a pod by its IP.
    for path in ("/health", "/healthz", "/readyz"):
        assert send(server, "GET", path, headers={"Host": "10.1.2.3:8080"})[0] == 200, path
    # The loopback names are served on the default configuration.
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"LOCALHOST:{server.port}"):
        assert send(server, "GET", f"{API}/experiments/search?max_results=1", headers={"Host": host})[0] == 200, host


@pytest.mark.parametrize(
    "target",
    [f"{API}/experiments/search", "/api/v1/drift", "/v2/models/any/infer", "/v1/models/any:predict"],
)
@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_json_routes_refuse_other_content_types(server, target, ctype):
    """From a same-origin client too: MLflow's routes answer 400 as MLflow does, the
    others 415."""
    status, _, body = send(server, "POST", target, b'{"max_results": 1}', {"Content-Type": ctype})
    want = 400 if target.startswith(API) else 415
    assert status == want, (status, body)
    assert "Content-Type" in json.loads(body)["message"]


def test_cors_is_off_by_default(server):
    status, hdrs, _ = send(server, "OPTIONS", f"{API}/experiments/create",
                           headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert status == 403 and "access-control-allow-origin" not in hdrs
    status, hdrs, _ = send(server, "GET", f"{API}/experiments/search?max_results=1", headers={"Origin": EVIL})
    assert status == 200 and "access-control-allow-origin" not in hdrs


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    """A server told the names it is reached by and the one origin it trusts."""
    from conftest import Server

    srv = Server("mlship", tmp_path_factory.mktemp("edge"), [
        "--allowed-hosts", "mlship.example.test,*.internal.test,127.0.0.1",
        "--cors-allowed-origins", "https://ui.example.test",
    ])  # fmt: skip
    srv.start()
    yield srv
    srv.stop()


def test_allowed_hosts(configured):
    ok = f"{API}/experiments/search?max_results=1"
    for host, want in [
        ("mlship.example.test", 200), ("MLSHIP.example.test:443", 200), ("a.b.internal.test:8080", 200),
        (f"127.0.0.1:{configured.port}", 200), (f"localhost:{configured.port}", 403), (REBOUND, 403),
        ("internal.test", 403),
    ]:  # fmt: skip
        assert send(configured, "GET", ok, headers={"Host": host})[0] == want, host


def test_cors_for_the_trusted_origin_only(configured):
    ui, port = "https://ui.example.test", configured.port
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    status, hdrs, _ = send(configured, "OPTIONS", f"{API}/experiments/create", headers={"Origin": ui, **preflight})
    assert status == 204, hdrs
    assert hdrs["access-control-allow-origin"] == ui and "POST" in hdrs["access-control-allow-methods"]
    assert hdrs["access-control-allow-headers"] == "content-type"
    status, hdrs, _ = send(configured, "OPTIONS", f"{API}/experiments/create", headers={"Origin": EVIL, **preflight})
    assert status == 403 and "access-control-allow-origin" not in hdrs
    # The trusted origin's page may change state, in JSON only.
    page = {"Origin": ui, "Sec-Fetch-Site": "cross-site", "Host": f"127.0.0.1:{port}"}
    body = json.dumps({"name": unique_name("from-ui")}).encode()
    status, hdrs, got = send(configured, "POST", f"{API}/experiments/create", body, {**page, "Content-Type": "application/json"})
    assert status == 200 and hdrs["access-control-allow-origin"] == ui, got
    status, _, _ = send(configured, "POST", f"{API}/experiments/create", body, {**page, "Content-Type": "text/plain"})
    assert status == 400
    status, _, _ = send(configured, "POST", f"{API}/experiments/create", body,
                        {**page, "Origin": EVIL, "Content-Type": "application/json"})  # fmt: skip
    assert status == 403


def test_security_headers_on_every_answer(server):
    for method, target, headers in [
        ("GET", f"{API}/experiments/search?max_results=1", {}),
        ("GET", f"{API}/no-such-endpoint", {}),
        ("GET", "/api/v1/openapi.json", {}),
        ("GET", "/v2", {}),
        ("GET", "/metrics", {}),
        ("POST", f"{API}/experiments/create", {"Origin": EVIL, "Content-Type": "text/plain"}),
        ("GET", "/health", {"Host": REBOUND}),
    ]:
        _, hdrs, _ = send(server, method, target, b"", headers)
        assert hdrs.get("x-content-type-options") == "nosniff", (target, hdrs)
        assert hdrs.get("x-frame-options") == "DENY", (target, hdrs)
        assert hdrs.get("referrer-policy") == "no-referrer", (target, hdrs)


def test_html_artifact_downloads_as_attachment_with_csp(server):
    key = f"{unique_name('page')}/index.html"
    page = b"<html><script>fetch('/api/2.0/mlflow/experiments/create')</script></html>"
    assert requests.put(f"{server.url}{ARTIFACTS}/{key}", data=page, headers={"Content-Type": "text/html"}).status_code == 200
    r = requests.get(f"{server.url}{ARTIFACTS}/{key}")
    assert r.status_code == 200 and r.content == page
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# --------------------------------------------------------------------------------------------
# Bodies that dribble in
# --------------------------------------------------------------------------------------------

GRACE_S = 10  # the server's default --min-body-rate-grace
DRIBBLERS = 50


def _dribble(server, target, ctype, results, i):
    """Sends headers promising 100 kB, then a byte a second, until the server answers."""
    start = time.monotonic()
    sock = socket.create_connection((server.host, server.port), timeout=1)
    try:
        sock.sendall(
            f"{target[0]} {target[1]} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: 100000\r\n\r\n".encode()
        )
        answer = b""
        while time.monotonic() - start < GRACE_S + 30:
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass
                continue
            except OSError:  # reset after the answer: closed all the same
                chunk = b""
            if not chunk:  # closed by the server
                results[i] = (answer, time.monotonic() - start, True)
                return
            answer += chunk
        results[i] = (answer, time.monotonic() - start, False)
    finally:
        sock.close()


def test_dribbling_bodies_are_cut_and_health_answers_meanwhile(server, victim):
    targets = [(("POST", f"{API}/runs/log-batch"), "application/json"),
               (("PUT", f"{ARTIFACTS}/dribble/{victim['run']}.bin"), "application/octet-stream")]  # fmt: skip
    results = [None] * DRIBBLERS
    threads = [threading.Thread(target=_dribble, args=(server, *targets[i % 2], results, i)) for i in range(DRIBBLERS)]
    for t in threads:
        t.start()
    latencies = []
    while any(t.is_alive() for t in threads):
        t0 = time.monotonic()
        assert requests.get(server.url + "/health", timeout=10).status_code == 200
        latencies.append((time.monotonic() - t0) * 1000)
        time.sleep(0.25)
    for t in threads:
        t.join()
    took = sorted(r[1] for r in results)
    print(f"/health during {DRIBBLERS} dribbling bodies: {len(latencies)} probes, median "
          f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms; bodies cut after "
          f"{took[0]:.1f}-{took[-1]:.1f} s")  # fmt: skip
    for answer, seconds, closed in results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"DEADLINE_EXCEEDED" in answer, answer
        assert closed, "the connection was left open"
        assert seconds < GRACE_S + 15, seconds
    assert requests.get(f"{server.url}{ARTIFACTS}", params={"path": "dribble"}).json().get("files", []) == []
