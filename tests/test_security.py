"""Path traversal and URI tricks on every artifact route, sent byte for byte (http.client; never
requests, which would normalize "../" away), plus request-size limits.

Expected everywhere: 400 with error_code INVALID_PARAMETER_VALUE, and nothing read, written or
deleted outside the server's data directory. A few payloads MLflow answers differently (it is
not less safe there, just not a 400): those cases are marked mlship_only, and the
"nothing outside" checks still run against both targets.
"""

import json
import socket
import threading
import time
import uuid

import pytest
from helpers import API, ARTIFACTS, IS_MLFLOW, quote_path, raw_request

mlship_only = pytest.mark.mlship_only
DEEP = 8  # enough "../" to climb from any data-dir layout up to "/"


ALL = frozenset({"GET", "PUT", "DELETE", "LIST", "RUNLIST"})
NONE = frozenset()


def _payloads(name):
    """(id, raw path text as it appears in the request target, methods where MLflow differs)."""
    up = "../" * DEEP
    enc_up = "%2e%2e%2f" * DEEP
    return [
        ("dotdot", f"../{name}", NONE),
        ("dotdot-deep", f"{up}{name}", NONE),
        ("inner-dotdot", f"a/b/../../../{name}", NONE),
        ("pct-dotdot", f"%2e%2e%2f{name}", NONE),
        ("pct-dotdot-upper-deep", f"{enc_up.upper()}{name}", NONE),
        ("pct-dotdot-mixed", f"..%2f..%2F{name}", NONE),
        ("double-pct", f"%252e%252e%252f{name}", NONE),
        ("double-pct-deep", f"{'%252e%252e%252f' * DEEP}{name}", NONE),
        ("triple-pct", f"%25252e%25252e%25252f{name}", NONE),
        # MLflow (Flask) decodes %2F before routing and answers DELETE with a 308 redirect to
        # the merged-slash URL; GET and PUT are 400 there as here.
        ("pct-slash-abs", f"%2Ftmp%2F{name}", frozenset({"DELETE"})),
        ("fragment-dotdot", f"a%23/../../{name}", NONE),
        ("fragment", f"a%23{name}", NONE),
        ("double-pct-fragment", f"a%2523{name}", NONE),
        ("file-uri", f"file:///tmp/{name}", NONE),
        ("file-uri-pct", f"file%3A%2F%2F%2Ftmp%2F{name}", NONE),
        ("windows-drive", f"C:%5C{name}", NONE),
        ("semicolon-params", f"a;x=1/../../{name}", NONE),
        # MLflow escapes control characters (NUL, \x17) into the literal text "%00"/"%17" and
        # serves/stores that name inside its root; mlship rejects them.
        ("nul", f"a%00{name}", ALL),
        ("control-char", f"a%17{name}", ALL),
        ("nul-dotdot", f"%00/../{name}", NONE),
        # MLflow on POSIX treats a backslash as an ordinary character; mlship rejects it.
        ("backslash-dotdot", f"..%5C..%5C{name}", ALL),
    ]


def _cases(methods):
    for method in methods:
        for pid, _, differs in _payloads("X"):
            marks = [mlship_only] if method in differs else []
            yield pytest.param(method, pid, id=f"{method}-{pid}", marks=marks)


def _payload(pid, name):
    return next(p for i, p, _ in _payloads(name) if i == pid)


@pytest.fixture
def marker():
    return f"escape-probe-{uuid.uuid4().hex}"


@pytest.fixture
def run_root(client, experiment_id):
    run = client.create_run(experiment_id)
    uri = run.info.artifact_uri
    assert uri.startswith("mlflow-artifacts:/")
    return run.info.run_id, uri[len("mlflow-artifacts:/") :].lstrip("/")


def _assert_nothing_outside(server, name, allow_inside_data=False):
    """No file called `name` in any ancestor of the data dir, nor anywhere under the test's
    temp dir except (when allowed) inside the data dir itself."""
    for ancestor in server.data_dir.parents:
        assert not (ancestor / name).exists(), f"{ancestor / name} was created"
    for hit in server.base_dir.rglob(f"*{name}*"):
        inside = server.data_dir in hit.parents
        assert allow_inside_data and inside, f"unexpected file {hit}"


def _assert_invalid_path(resp):
    assert resp.status == 400, resp
    body = json.loads(resp.body)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body


@pytest.mark.parametrize("method, pid", list(_cases(["GET", "PUT", "DELETE"])))
def test_artifact_path_route(server, marker, method, pid):
    target = f"{ARTIFACTS}/{_payload(pid, marker)}"
    body = b"owned" if method == "PUT" else None
    headers = {"Content-Type": "application/octet-stream"} if method == "PUT" else {}
    resp = raw_request(server, method, target, body, headers)
    _assert_invalid_path(resp)
    _assert_nothing_outside(server, marker)


# Payloads that are only dangerous at the top: below a run root, "//tmp/x", "file:///x" and
# "C:\\x" are odd names inside the run's own directory, not escapes (see test_odd_names_stay_inside).
NOT_ESCAPES_BELOW_ROOT = {"pct-slash-abs", "file-uri", "file-uri-pct", "windows-drive"}


@pytest.mark.parametrize(
    "method, pid",
    [c for c in _cases(["GET", "PUT", "DELETE"]) if c.values[1] not in NOT_ESCAPES_BELOW_ROOT],
)
def test_artifact_path_route_below_run_root(server, run_root, marker, method, pid):
    _, root = run_root
    target = f"{ARTIFACTS}/{quote_path(root)}/{_payload(pid, marker)}"
    body = b"owned" if method == "PUT" else None
    resp = raw_request(server, method, target, body, {"Content-Type": "text/plain"} if body else {})
    _assert_invalid_path(resp)
    _assert_nothing_outside(server, marker)


@pytest.mark.parametrize("method", ["GET", "PUT", pytest.param("DELETE", marks=mlship_only)])
def test_absolute_path_in_artifact_route(server, marker, method):
    """`artifacts//tmp/x`: an absolute path right after the prefix. MLflow (Flask) answers the
    DELETE with a 308 redirect to the merged-slash URL instead of a 400: mlship-only there."""
    target = f"{ARTIFACTS}//tmp/{marker}"
    body = b"owned" if method == "PUT" else None
    resp = raw_request(server, method, target, body, {"Content-Type": "text/plain"} if body else {})
    _assert_invalid_path(resp)
    _assert_nothing_outside(server, marker)


@pytest.mark.parametrize("method, pid", list(_cases(["LIST"])))
def test_proxy_listing_path_param(server, marker, method, pid):
    resp = raw_request(server, "GET", f"{ARTIFACTS}?path={_payload(pid, marker)}")
    _assert_invalid_path(resp)


@pytest.mark.parametrize("method, pid", list(_cases(["RUNLIST"])))
def test_run_artifact_listing_path_param(server, run_root, marker, method, pid):
    run_id, _ = run_root
    resp = raw_request(server, "GET", f"{API}/artifacts/list?run_id={run_id}&path={_payload(pid, marker)}")
    _assert_invalid_path(resp)


@pytest.mark.parametrize("absolute", ["/etc", "%2Fetc", "/tmp/x"])
def test_listing_absolute_paths(server, run_root, absolute):
    run_id, _ = run_root
    _assert_invalid_path(raw_request(server, "GET", f"{ARTIFACTS}?path={absolute}"))
    _assert_invalid_path(raw_request(server, "GET", f"{API}/artifacts/list?run_id={run_id}&path={absolute}"))


@pytest.mark.parametrize("action", ["create", "complete", "abort"])
@pytest.mark.parametrize("pid", ["dotdot-deep", "pct-dotdot", "double-pct", "fragment-dotdot"])
def test_multipart_routes_validate_path(server, marker, action, pid):
    body = {"path": f"/local/{marker}", "num_parts": 1, "upload_id": "u", "parts": [{"part_number": 1, "etag": "e"}]}
    resp = raw_request(
        server,
        "POST",
        f"/api/2.0/mlflow-artifacts/mpu/{action}/{_payload(pid, 'dir')}",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    _assert_invalid_path(resp)
    _assert_nothing_outside(server, marker)


@pytest.fixture
def sentinels(server):
    """Files outside the data dir that traversal would reach; removed afterwards."""
    name = f"sentinel-{uuid.uuid4().hex}.txt"
    secret = f"secret {uuid.uuid4().hex}".encode()
    paths = []
    for d in [server.data_dir, server.base_dir, server.base_dir.parent]:
        p = d / name
        p.write_bytes(secret)
        paths.append(p)
    yield name, secret, paths
    for p in paths:
        p.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "encoding",
    [
        lambda k, n: "../" * k + n,
        lambda k, n: "%2e%2e%2f" * k + n,
        lambda k, n: "%252e%252e%252f" * k + n,
        lambda k, n: "..%2F" * k + n,
    ],
    ids=["plain", "pct", "double-pct", "mixed"],
)
def test_traversal_cannot_read_or_delete_outside(server, run_root, sentinels, encoding):
    name, secret, paths = sentinels
    _, root = run_root
    for prefix in ["", quote_path(root) + "/"]:
        for depth in range(1, DEEP + 1):
            target = f"{ARTIFACTS}/{prefix}{encoding(depth, name)}"
            got = raw_request(server, "GET", target)
            assert secret not in got.body, target
            _assert_invalid_path(got)
            _assert_invalid_path(raw_request(server, "DELETE", target))
    for p in paths:
        assert p.read_bytes() == secret, f"{p} was touched"


def test_listing_cannot_escape(server, run_root, sentinels):
    name, _, _ = sentinels
    run_id, _ = run_root
    for depth in range(1, DEEP + 1):
        for text in ["../" * depth, "%252e%252e%252f" * depth]:
            for target in (f"{ARTIFACTS}?path={text}", f"{API}/artifacts/list?run_id={run_id}&path={text}"):
                resp = raw_request(server, "GET", target)
                assert name.encode() not in resp.body, target
                _assert_invalid_path(resp)


def test_nul_and_backslash_stay_inside(server, run_root, marker):
    """Whatever a server does with NUL or a backslash (MLflow stores the escaped/literal name,
    mlship rejects it), nothing may land outside the data dir."""
    _, root = run_root
    for text in [f"a%00{marker}", f"..%5C..%5C{marker}", f"..%5C{'..%5C' * DEEP}{marker}"]:
        for prefix in ["", quote_path(root) + "/"]:
            resp = raw_request(server, "PUT", f"{ARTIFACTS}/{prefix}{text}", b"x", {"Content-Type": "text/plain"})
            assert resp.status in (200, 400), resp
            if not IS_MLFLOW:
                _assert_invalid_path(resp)
    _assert_nothing_outside(server, marker, allow_inside_data=IS_MLFLOW)


@pytest.mark.parametrize("pid", sorted(NOT_ESCAPES_BELOW_ROOT))
def test_odd_names_stay_inside(server, run_root, marker, pid):
    """Below a run root these are not escapes: a server may store them as odd names inside the
    run (MLflow does) or reject them with 400, but nothing may land outside the data dir."""
    _, root = run_root
    target = f"{ARTIFACTS}/{quote_path(root)}/{_payload(pid, marker)}"
    resp = raw_request(server, "PUT", target, b"x", {"Content-Type": "text/plain"})
    # MLflow answers some of these ("root//tmp/x", "root/file:///x") with 500 INTERNAL_ERROR
    # ("Invalid artifact path"); mlship must never answer a deterministic failure with 5xx,
    # since the client retries those.
    allowed = (200, 400, 500) if IS_MLFLOW else (200, 400)
    assert resp.status in allowed, resp
    if resp.status == 400:
        _assert_invalid_path(resp)
    for method in ("GET", "DELETE"):
        resp = raw_request(server, method, target)
        assert resp.status in allowed + (404,), resp
    _assert_nothing_outside(server, marker, allow_inside_data=True)


# --------------------------------------------------------------------------------------------
# Request size limits (mlship-only)
# --------------------------------------------------------------------------------------------

OVERSIZED_BODY = 64 * 1024 * 1024 + 1


def _send_oversized(server, path, total, content_type="application/json", timeout=60):
    """POST `total` bytes while reading the response concurrently: a server that enforces a
    limit answers before the body is complete and may close the connection on us."""
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
    ).encode()
    received = bytearray()

    def reader():
        try:
            while chunk := sock.recv(65536):
                received.extend(chunk)
        except OSError:
            pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    sent = 0
    try:
        sock.sendall(head + b'{"run_id": "')
        block = b"a" * (1024 * 1024)
        sent = len(b'{"run_id": "')
        while sent < total:
            n = min(len(block), total - sent)
            sock.sendall(block[:n])
            sent += n
    except OSError:
        pass  # the server stopped reading: expected once it has answered
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    t.join(timeout)
    sock.close()
    status_line = bytes(received).split(b"\r\n", 1)[0]
    return status_line, bytes(received), sent


@pytest.mark.mlship_only
def test_oversized_json_body_is_413(server):
    """mlship-only: a JSON body over the server's limit gets 413 (MLflow has no such limit on
    log-batch and would try to parse the whole body)."""
    start = time.monotonic()
    status_line, raw, _ = _send_oversized(server, f"{API}/runs/log-batch", OVERSIZED_BODY)
    assert status_line.split(b" ")[1:2] == [b"413"], raw[:500]
    assert time.monotonic() - start < 60
    # The server is still healthy afterwards.
    assert raw_request(server, "GET", "/health").status == 200
