"""MLflow 3 tracing against the server with the official client, unchanged: @mlflow.trace and
start_span traces read back whole, search_traces with filters and ordering, traces of a run,
tags, deletion, assessments, and OpenTelemetry spans sent to /v1/traces (protobuf and JSON),
bad OTLP requests refused whole."""

from __future__ import annotations

import json
import logging
import os
import time

import mlflow
import pytest
import requests
from mlflow.entities import AssessmentSource, AssessmentSourceType
from mlflow.exceptions import MlflowException
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OTLPSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from helpers import IS_MLFLOW, api_url

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def last_trace() -> str:
    """The id of the trace just ended, once the client's background export has sent it."""
    mlflow.flush_trace_async_logging()
    return mlflow.get_last_active_trace_id()


@pytest.fixture
def traced_experiment(experiment_id):
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@mlflow.trace(span_type="TOOL")
def add(a, b):
    return a + b


@mlflow.trace(name="pipeline", attributes={"team": "fraud"})
def pipeline(x):
    with mlflow.start_span(name="retrieve", span_type="RETRIEVER") as span:
        span.set_inputs({"q": x})
        span.set_attribute("k", 3)
        span.add_event(mlflow.entities.SpanEvent("cache-miss", attributes={"key": "q1"}))
        span.set_outputs(["doc-a", "doc-b"])
    return add(x, 1) * 2


def test_trace_decorator_and_spans_read_back_whole(traced_experiment):
    logged = []
    warnings = logging.Handler(logging.WARNING)
    warnings.emit = lambda record: logged.append(record.getMessage())
    logging.getLogger("mlflow").addHandler(warnings)  # it does not propagate to the root logger
    try:
        assert pipeline(20) == 42
        trace_id = last_trace()
    finally:
        logging.getLogger("mlflow").removeHandler(warnings)
    assert logged == []  # before this server: "Failed to send trace ... ENDPOINT_NOT_FOUND"
    trace = mlflow.get_trace(trace_id)
    assert trace is not None
    info = trace.info
    assert info.experiment_id == traced_experiment
    assert info.state.value == "OK" and info.execution_duration >= 0
    assert info.tags["mlflow.traceName"] == "pipeline"
    spans = {s.name: s for s in trace.data.spans}
    assert set(spans) == {"pipeline", "retrieve", "add"}
    root = spans["pipeline"]
    assert root.parent_id is None and root.get_attribute("team") == "fraud"
    assert root.inputs == {"x": 20} and root.outputs == 42
    retrieve = spans["retrieve"]
    assert retrieve.parent_id == root.span_id and retrieve.span_type == "RETRIEVER"
    assert retrieve.inputs == {"q": 20} and retrieve.outputs == ["doc-a", "doc-b"]
    assert retrieve.get_attribute("k") == 3
    assert [(e.name, e.attributes) for e in retrieve.events] == [("cache-miss", {"key": "q1"})]
    assert spans["add"].inputs == {"a": 20, "b": 1} and spans["add"].outputs == 21


def test_search_traces_filters_and_order(traced_experiment, client):
    ids = []
    for i in range(4):
        add(i, i)
        tid = last_trace()
        ids.append(tid)
        client.set_trace_tag(tid, "parity", "even" if i % 2 == 0 else "odd")
    client.set_trace_tag(ids[3], "to-drop", "x")
    client.delete_trace_tag(ids[3], "to-drop")

    found = mlflow.search_traces(locations=[traced_experiment], return_type="list")
    assert [t.info.trace_id for t in found] == ids[::-1]  # newest first
    assert all(len(t.data.spans) == 1 for t in found)
    assert "to-drop" not in found[0].info.tags
    frame = mlflow.search_traces(locations=[traced_experiment])  # the default: a pandas DataFrame
    assert list(frame["trace_id"]) == ids[::-1] and all(len(spans) == 1 for spans in frame["spans"])

    even = mlflow.search_traces(
        locations=[traced_experiment], filter_string="tags.parity = 'even'", return_type="list"
    )
    assert {t.info.trace_id for t in even} == {ids[0], ids[2]}
    ok = mlflow.search_traces(
        locations=[traced_experiment], filter_string="trace.status = 'OK'", return_type="list"
    )
    assert len(ok) == 4
    t2 = client.get_trace(ids[2]).info.request_time
    later = mlflow.search_traces(
        locations=[traced_experiment], filter_string=f"timestamp_ms >= {t2}", return_type="list"
    )
    assert {t.info.trace_id for t in later} >= {ids[2], ids[3]} and ids[0] not in {t.info.trace_id for t in later}
    asc = mlflow.search_traces(
        locations=[traced_experiment], order_by=["timestamp_ms ASC"], return_type="list", include_spans=False
    )
    assert [t.info.trace_id for t in asc] == ids

    page = client.search_traces(locations=[traced_experiment], max_results=3, order_by=["timestamp_ms ASC"])
    assert [t.info.trace_id for t in page] == ids[:3] and page.token
    rest = client.search_traces(
        locations=[traced_experiment], max_results=3, order_by=["timestamp_ms ASC"], page_token=page.token
    )
    assert [t.info.trace_id for t in rest] == ids[3:] and not rest.token

    with pytest.raises(MlflowException, match="Invalid"):
        client.search_traces(locations=[traced_experiment], filter_string="metrics.x > 1")


def test_traces_of_a_run(traced_experiment, client):
    with mlflow.start_run() as run:
        add(1, 2)
        in_run = last_trace()
    add(3, 4)
    outside = last_trace()
    assert client.get_trace(in_run).info.request_metadata["mlflow.sourceRun"] == run.info.run_id
    found = mlflow.search_traces(run_id=run.info.run_id, locations=[traced_experiment], return_type="list")
    assert [t.info.trace_id for t in found] == [in_run]

    client.link_traces_to_run([outside], run.info.run_id)
    found = mlflow.search_traces(run_id=run.info.run_id, locations=[traced_experiment], return_type="list")
    assert {t.info.trace_id for t in found} == {in_run, outside}


def test_delete_traces(traced_experiment, client):
    ids = []
    for i in range(3):
        add(i, 0)
        ids.append(last_trace())
    assert client.delete_traces(traced_experiment, trace_ids=[ids[0]]) == 1
    assert client.delete_traces(traced_experiment, max_timestamp_millis=int(time.time() * 1000) + 1000, max_traces=1) == 1
    left = client.search_traces(locations=[traced_experiment])
    assert [t.info.trace_id for t in left] == [ids[2]]
    with pytest.raises(MlflowException) as e:
        client.get_trace(ids[0])
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_assessments(traced_experiment, client):
    add(2, 2)
    tid = last_trace()
    human = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="ana@example.com")
    fb = mlflow.log_feedback(trace_id=tid, name="correct", value=True, source=human, rationale="4 it is")
    ex = mlflow.log_expectation(trace_id=tid, name="expected", value=4, source=human)
    got = mlflow.get_assessment(tid, fb.assessment_id)
    assert got.name == "correct" and got.value is True and got.rationale == "4 it is"
    assert got.source.source_id == "ana@example.com"
    updated = mlflow.update_assessment(
        tid, fb.assessment_id, mlflow.entities.Feedback(name="correct", value=False)
    )
    assert updated.value is False
    info = client.get_trace(tid).info
    assert {a.name for a in info.assessments} == {"correct", "expected"}
    mlflow.delete_assessment(tid, ex.assessment_id)
    assert [a.name for a in client.get_trace(tid).info.assessments] == ["correct"]


# --------------------------------------------------------------------------------------------
# OpenTelemetry ingest
# --------------------------------------------------------------------------------------------


def _kv(key, value):
    return KeyValue(key=key, value=AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value))


def _otlp_request(trace_id: bytes, n_children=2, attr_bytes=0):
    now = time.time_ns()
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add()
    scope.resource.attributes.append(_kv("service.name", "checkout"))
    spans = scope.scope_spans.add()
    root = OTLPSpan(trace_id=trace_id, span_id=b"\x01" * 8, name="handle-request",
                    start_time_unix_nano=now, end_time_unix_nano=now + 5_000_000,
                    status=Status(code=Status.STATUS_CODE_OK))
    root.attributes.append(_kv("http.route", "/checkout"))
    if attr_bytes:
        root.attributes.append(_kv("huge", "x" * attr_bytes))
    ev = root.events.add()
    ev.name, ev.time_unix_nano = "retry", now + 1000
    ev.attributes.append(_kv("attempt", 2))
    spans.spans.append(root)
    for i in range(n_children):
        spans.spans.append(OTLPSpan(trace_id=trace_id, span_id=bytes([2 + i % 200]) + (i).to_bytes(7, "big"),
                                    parent_span_id=b"\x01" * 8, name=f"db-{i}",
                                    start_time_unix_nano=now + 1000 * (i + 1), end_time_unix_nano=now + 2_000_000))
    return req


def _post(base_url, body, experiment_id, content_type="application/x-protobuf", **headers):
    return requests.post(base_url + "/v1/traces", data=body, timeout=60,
                         headers={"Content-Type": content_type, "x-mlflow-experiment-id": experiment_id, **headers})


def test_otlp_protobuf_spans_show_up_in_get_trace(base_url, experiment_id, client):
    trace_id = os.urandom(16)
    resp = _post(base_url, _otlp_request(trace_id, n_children=2000).SerializeToString(), experiment_id)
    assert resp.status_code == 200, resp.text
    tid = "tr-" + trace_id.hex()
    trace = mlflow.get_trace(tid)
    assert trace.info.experiment_id == experiment_id and trace.info.state.value == "OK"
    assert len(trace.data.spans) == 2001
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.get_attribute("http.route") == "/checkout"
    assert [(e.name, e.attributes) for e in root.events] == [("retry", {"attempt": 2})]
    found = mlflow.search_traces(locations=[experiment_id], filter_string="trace.status = 'OK'", return_type="list")
    assert [t.info.trace_id for t in found] == [tid] and len(found[0].data.spans) == 2001
    if not IS_MLFLOW:  # mlship names the trace after its root span, as the client's own traces are named
        assert trace.info.tags["mlflow.traceName"] == "handle-request"


def test_otlp_json_spans(base_url, experiment_id):
    trace_id, now = os.urandom(16).hex(), time.time_ns()
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": trace_id, "spanId": "00000000000000aa", "name": "json-root", "kind": 1,
         "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 10**6),
         "attributes": [{"key": "user", "value": {"stringValue": "ana"}}], "status": {"code": 2, "message": "boom"}},
        {"traceId": trace_id, "spanId": "00000000000000bb", "parentSpanId": "00000000000000aa", "name": "child",
         "startTimeUnixNano": str(now + 10), "endTimeUnixNano": str(now + 20)},
    ]}]}]}
    resp = _post(base_url, json.dumps(body), experiment_id, "application/json")
    assert resp.status_code == 200, resp.text
    trace = mlflow.get_trace("tr-" + trace_id)
    assert trace.info.state.value == "ERROR"
    assert {s.name: s.parent_id for s in trace.data.spans} == {"json-root": None, "child": "00000000000000aa"}
    assert next(s for s in trace.data.spans if s.name == "json-root").get_attribute("user") == "ana"


def test_otlp_trace_tags_from_root_span_attributes(base_url, experiment_id, client):
    """MLflow's span processor sends a trace's tags over OTLP as mlflow.traceTag.<KEY>
    attributes of its root span: they become the trace's tags, searchable as such."""
    trace_id = os.urandom(16)
    req = _otlp_request(trace_id, n_children=1)
    root = req.resource_spans[0].scope_spans[0].spans[0]
    team = f"team-{trace_id.hex()[:8]}"
    root.attributes.append(_kv("mlflow.traceTag.team", team))
    root.attributes.append(_kv("mlflow.traceTag.mlflow.traceName", "checkout-flow"))
    resp = _post(base_url, req.SerializeToString(), experiment_id)
    assert resp.status_code == 200, resp.text
    tid = "tr-" + trace_id.hex()
    trace = mlflow.get_trace(tid)
    assert trace.info.tags["team"] == team
    assert trace.info.tags["mlflow.traceName"] == "checkout-flow"
    found = mlflow.search_traces(locations=[experiment_id], filter_string=f"tags.team = '{team}'", return_type="list")
    assert [t.info.trace_id for t in found] == [tid]


@pytest.mark.mlship_only  # MLflow answers FastAPI's {"detail"}, and stores 100,000 spans or a 10 MB attribute
@pytest.mark.parametrize(
    "case",
    ["malformed-protobuf", "malformed-json", "non-hex-trace-id", "short-trace-id", "no-experiment", "too-many-spans", "huge-attribute"],
)
def test_otlp_bad_requests_store_nothing(base_url, experiment_id, client, case):
    trace_id = os.urandom(16)
    headers, ctype, exp = {}, "application/x-protobuf", experiment_id
    if case == "malformed-protobuf":
        body, want = b"\xff\xff\xff\x00garbage", 400
    elif case == "malformed-json":
        body, ctype, want = b'{"resourceSpans": [', "application/json", 400
    elif case == "non-hex-trace-id":
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
            {"traceId": "not-a-hex-trace-id-zzzzzzzzzzzzzz", "spanId": "00000000000000aa", "name": "x"}]}]}]})
        ctype, want = "application/json", 400
    elif case == "short-trace-id":
        body, want = _otlp_request(b"\x01\x02").SerializeToString(), 400
    elif case == "no-experiment":
        body, exp, want = _otlp_request(trace_id).SerializeToString(), "", 400
    elif case == "too-many-spans":
        body, want = _otlp_request(trace_id, n_children=100_000).SerializeToString(), 413
    else:
        body, want = _otlp_request(trace_id, attr_bytes=10 << 20).SerializeToString(), 413
    resp = requests.post(base_url + "/v1/traces", data=body, timeout=60,
                         headers={"Content-Type": ctype, "x-mlflow-experiment-id": exp, **headers})
    assert resp.status_code == want, resp.text
    err = resp.json()
    assert err["error_code"] and err["message"]
    if case == "non-hex-trace-id":
        assert "not hexadecimal" in err["message"]
    if case == "too-many-spans":
        assert "Too many spans" in err["message"]
    if case == "huge-attribute":
        assert "huge" in err["message"]
    assert client.search_traces(locations=[experiment_id]) == []


def test_otlp_with_run_header_links_the_run(base_url, experiment_id, client):
    run = client.create_run(experiment_id)
    trace_id = os.urandom(16)
    resp = _post(base_url, _otlp_request(trace_id, 1).SerializeToString(), experiment_id,
                 **{"x-mlflow-run-id": run.info.run_id})
    assert resp.status_code == 200, resp.text
    found = client.search_traces(locations=[experiment_id], filter_string=f"attribute.run_id = '{run.info.run_id}'")
    assert [t.info.trace_id for t in found] == ["tr-" + trace_id.hex()]


def test_trace_routes_answer_v3_paths(base_url, experiment_id):
    resp = requests.post(api_url(base_url, "traces/search").replace("2.0", "3.0"),
                         json={"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}]},
                         timeout=30)
    assert resp.status_code == 200 and resp.json().get("traces", []) == []
    resp = requests.get(api_url(base_url, "traces/tr-0123456789abcdef0123456789abcdef").replace("2.0", "3.0"), timeout=30)
    assert resp.status_code == 404 and resp.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


# --------------------------------------------------------------------------------------------
# Permissions: a trace is its experiment's
# --------------------------------------------------------------------------------------------

ADMIN = ("admin", "admin-password-for-traces")


@pytest.fixture(scope="module")
def auth_server():
    import tempfile
    from pathlib import Path

    from conftest import Server

    srv = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-traces-auth-")),
                 ["--auth", "--default-permission", "NO_PERMISSIONS"], env={"MLSHIP_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.mlship_only
def test_trace_permissions_follow_the_experiment(auth_server, monkeypatch):
    srv = auth_server

    def call(method, path, cred=ADMIN, **kw):
        return requests.request(method, srv.url + path, auth=cred, timeout=30, **kw)

    users = {}
    for name in ("tracer", "viewer", "stranger"):
        users[name] = (name, f"{name}-password-long")
        assert call("POST", "/api/v1/users", json={"name": name, "password": users[name][1]}).status_code == 201
    admin = mlflow.MlflowClient(tracking_uri=srv.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    mine, theirs = admin.create_experiment("traced"), admin.create_experiment("not-yours")
    for name, level in (("tracer", "EDIT"), ("viewer", "READ")):
        assert call("POST", "/api/v1/permissions", json={"kind": "experiment", "object": mine, "user": name,
                                                         "level": level}).status_code == 200

    # The editor logs a trace with the fluent API, spans uploaded through the artifact proxy.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "tracer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", users["tracer"][1])
    mlflow.set_tracking_uri(srv.url)
    mlflow.set_experiment(experiment_id=mine)
    assert pipeline(1) == 4
    tid = last_trace()
    otlp = _otlp_request(os.urandom(16), 1).SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    assert call("POST", "/v1/traces", users["tracer"], data=otlp, headers={**headers, "x-mlflow-experiment-id": mine}).status_code == 200
    denied = call("POST", "/v1/traces", users["tracer"], data=otlp, headers={**headers, "x-mlflow-experiment-id": theirs})
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"

    # The reader reads, spans included, and writes nothing.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "viewer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", users["viewer"][1])
    viewer = mlflow.MlflowClient(tracking_uri=srv.url)
    assert len(viewer.get_trace(tid).data.spans) == 3
    assert len(viewer.search_traces(locations=[mine, theirs])) == 2
    for method, path, kw in [
        ("PATCH", f"/api/2.0/mlflow/traces/{tid}/tags", {"json": {"key": "k", "value": "v"}}),
        ("POST", "/api/3.0/mlflow/traces/delete-traces", {"json": {"experiment_id": mine, "request_ids": [tid]}}),
        ("POST", f"/api/3.0/mlflow/traces/{tid}/assessments", {"json": {"assessment": {"assessment_name": "x"}}}),
        ("POST", "/v1/traces", {"data": otlp, "headers": {**headers, "x-mlflow-experiment-id": mine}}),
    ]:
        r = call(method, path, users["viewer"], **kw)
        assert r.status_code == 403, (path, r.text)

    # Someone with no grant reads nothing.
    for path in (f"/api/3.0/mlflow/traces/{tid}", f"/api/3.0/mlflow/traces/get?trace_id={tid}",
                 f"/api/2.0/mlflow/traces/batchGet?trace_ids={tid}"):
        assert call("GET", path, users["stranger"]).status_code == 403, path
    r = call("POST", "/api/3.0/mlflow/traces/search", users["stranger"],
             json={"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": mine}}]})
    assert r.status_code == 200 and r.json() == {"traces": []}, r.text


def test_mlflow2_trace_routes(base_url, experiment_id, client):
    """MLflow 2 clients start a trace and end it in two calls, and read TraceInfo's older shape."""
    start = requests.post(api_url(base_url, "traces"), timeout=30, json={
        "experiment_id": experiment_id, "timestamp_ms": 1700000000000,
        "request_metadata": [{"key": "mlflow.sourceRun", "value": "r"}], "tags": [{"key": "team", "value": "a"}]})
    assert start.status_code == 200, start.text
    info = start.json()["trace_info"]
    rid = info["request_id"]
    assert len(rid) == 32 and info["status"] == "IN_PROGRESS" and info["experiment_id"] == experiment_id
    tags = {t["key"]: t["value"] for t in info["tags"]}
    assert tags["team"] == "a" and tags["mlflow.artifactLocation"].endswith(f"/traces/{rid}/artifacts")
    end = requests.patch(api_url(base_url, f"traces/{rid}"), timeout=30, json={
        "timestamp_ms": 1700000001500, "status": "OK", "tags": [{"key": "mlflow.traceName", "value": "v2"}]})
    assert end.status_code == 200, end.text
    assert end.json()["trace_info"]["execution_time_ms"] in (1500, "1500")
    got = requests.get(api_url(base_url, f"traces/{rid}/info"), timeout=30).json()["trace_info"]
    assert got["status"] == "OK" and {t["key"] for t in got["tags"]} >= {"team", "mlflow.traceName"}
    found = requests.get(api_url(base_url, "traces"), params={"experiment_ids": experiment_id, "filter": "name = 'v2'"},
                         timeout=30).json()["traces"]
    assert [t["request_id"] for t in found] == [rid]
    from mlflow.tracing.client import TracingClient

    assert TracingClient(base_url).get_trace_info(rid).execution_duration == 1500  # and so do MLflow 3 clients


# --------------------------------------------------------------------------------------------
# search_traces on spans, assessments, presence and regular expressions; traces.json read back
# --------------------------------------------------------------------------------------------


def _otlp_trace(experiment_id, base_url, root_name, children):
    """Sends one trace over OTLP: a root span and its children, (name, span type, status code)."""
    trace_id, now = os.urandom(16), time.time_ns()
    req = ExportTraceServiceRequest()
    spans = req.resource_spans.add().scope_spans.add()
    spans.spans.append(OTLPSpan(trace_id=trace_id, span_id=b"\x01" * 8, name=root_name, start_time_unix_nano=now,
                                end_time_unix_nano=now + 5_000_000, status=Status(code=Status.STATUS_CODE_OK)))
    for i, (name, span_type, code) in enumerate(children):
        child = OTLPSpan(trace_id=trace_id, span_id=bytes([2 + i]) * 8, parent_span_id=b"\x01" * 8, name=name,
                         start_time_unix_nano=now + 1000, end_time_unix_nano=now + 2000, status=Status(code=code))
        child.attributes.append(_kv("mlflow.spanType", json.dumps(span_type)))
        spans.spans.append(child)
    resp = _post(base_url, req.SerializeToString(), experiment_id)
    assert resp.status_code == 200, resp.text
    return "tr-" + trace_id.hex()


def test_search_traces_on_spans_and_assessments(base_url, traced_experiment, client):
    # Spans sent over OpenTelemetry by any SDK, and those of the Python client's own traces
    # (which it sends the same way to a server of MLflow 3.4 or later, as /version says).
    agent = _otlp_trace(traced_experiment, base_url, "agent", [("retrieve_docs", "RETRIEVER", Status.STATUS_CODE_OK),
                                                                ("llm", "LLM", Status.STATUS_CODE_ERROR)])
    chat = _otlp_trace(traced_experiment, base_url, "chat", [("llm", "LLM", Status.STATUS_CODE_OK)])
    add(1, 2)
    added = last_trace()
    client.set_trace_tag(added, "team", "fraud-ops")
    mlflow.log_feedback(trace_id=agent, name="correct", value=True)
    mlflow.log_feedback(trace_id=agent, name="tone", value="polite")
    mlflow.log_feedback(trace_id=chat, name="correct", value=False)
    mlflow.log_feedback(trace_id=added, name="score", value=0.25)
    mlflow.log_expectation(trace_id=added, name="expected", value=3)

    def found(filter_string):
        got = mlflow.search_traces(locations=[traced_experiment], filter_string=filter_string,
                                   return_type="list", include_spans=False)
        return {t.info.trace_id for t in got}

    assert found("span.name = 'retrieve_docs'") == {agent}
    assert found("span.name = 'add' AND span.type = 'TOOL'") == {added}
    assert found("span.type = 'LLM'") == {agent, chat}
    assert found("span.type = 'LLM' AND span.status = 'ERROR'") == {agent}
    assert found("span.type = 'RETRIEVER' AND span.status = 'ERROR'") == set()  # one span must match both
    assert found("span.name IN ('chat', 'nope')") == {chat}
    assert found("span.name RLIKE '^retr.*docs$'") == {agent}
    assert found("span.name ILIKE 'AGE%'") == {agent}
    assert found("span.attributes.`mlflow.spanType` = 'RETRIEVER'") == {agent}
    assert found("span.attributes.`mlflow.spanType` RLIKE '^LL'") == {agent, chat}
    assert found("text ILIKE '%RETRIEVE%'") == {agent}
    assert found("feedback.correct = 'true'") == {agent}
    assert found("feedback.correct != 'true'") == {chat}
    assert found("feedback.tone = 'polite'") == {agent}
    assert found("feedback.score < 0.5") == {added}
    assert found("feedback.score > 0.5") == set()
    assert found("expectation.expected IS NOT NULL") == {added}
    assert found("feedback.correct IS NULL") == {added}
    assert found("tags.team IS NOT NULL") == {added}
    assert found("tags.team RLIKE '^fraud-(ops|dev)$'") == {added}
    assert found("tags.team IS NULL AND feedback.correct IS NOT NULL") == {agent, chat}
    # How two filters go together (the UI's correlation view), over the 3 traces.
    corr = client._tracing_client.calculate_trace_filter_correlation(
        experiment_ids=[traced_experiment], filter_string1="span.type = 'LLM'", filter_string2="feedback.correct = 'true'")
    assert (corr.total_count, corr.filter1_count, corr.filter2_count, corr.joint_count) == (3, 2, 1, 1)
    # MLflow: calculate_npmi_from_counts(1, 2, 1, 3)
    assert corr.npmi == pytest.approx(0.369070246) and corr.npmi_smoothed == pytest.approx(0.185339362)
    # Aggregates over the traces (the UI's overview charts).
    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType
    metrics = client._tracing_client.store.query_trace_metrics
    points = metrics(experiment_ids=[traced_experiment], view_type=MetricViewType.SPANS, metric_name="span_count",
                     aggregations=[MetricAggregation(AggregationType.COUNT)], dimensions=["span_type"])
    assert {p.dimensions["span_type"]: p.values["COUNT"] for p in points} == {"LLM": 2, "RETRIEVER": 1, "TOOL": 1}
    points = metrics(experiment_ids=[traced_experiment], view_type=MetricViewType.ASSESSMENTS,
                     metric_name="assessment_value", filters=["assessment.name = 'correct'"],
                     aggregations=[MetricAggregation(AggregationType.AVG),
                                   MetricAggregation(AggregationType.PERCENTILE, percentile_value=90)])
    assert [p.values for p in points] == [{"AVG": 0.5, "P90.0": pytest.approx(0.9)}]
    # Prompt versions linked to a trace (what the client does for a prompt a trace used).
    from mlflow.entities.model_registry import PromptVersion
    client._tracing_client.store.link_prompts_to_trace(added, [PromptVersion("qa", 2, template="")])
    assert found("prompt = 'qa/2'") == {added} and found("prompt = 'qa/1'") == set()
    for bad in ["span.kind = 'x'", "feedback.score > '0.5'", "tags.team RLIKE '(unclosed'", "prompt = 'qa'"]:
        with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
            client.search_traces(locations=[traced_experiment], filter_string=bad)


@pytest.fixture
def client_before_3_4(monkeypatch):
    """The Python client as it talks to a server older than MLflow 3.4: it keeps a trace's
    spans to itself and uploads them as traces.json (as clients before 3.4 always do)."""
    from mlflow.store.tracking.rest_store import RestStore
    from packaging.version import Version

    monkeypatch.setattr(RestStore, "_get_server_version", staticmethod(lambda _creds: Version("3.3.0")))
    mlflow.tracing.reset()
    yield
    monkeypatch.undo()
    mlflow.tracing.reset()  # the next trace finds the server's own version again


def test_client_sends_its_spans_to_the_server(base_url, traced_experiment, client):
    from packaging.version import Version

    assert Version(requests.get(base_url + "/version", timeout=10).text) >= Version("3.4")
    assert pipeline(1) == 4
    tid = last_trace()
    assert client.get_trace(tid).info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert {s.name for s in client.get_trace(tid).data.spans} == {"pipeline", "retrieve", "add"}


@pytest.mark.mlship_only  # MLflow's server answers traces/get only for spans it keeps itself
def test_get_trace_serves_spans_uploaded_as_traces_json(base_url, traced_experiment, client, client_before_3_4):
    assert pipeline(1) == 4
    tid = last_trace()
    assert "mlflow.trace.spansLocation" not in client.get_trace(tid).info.tags  # the client uploaded traces.json
    for path, params in [("traces/get", {"trace_id": tid}), ("traces/batchGet", {"trace_ids": [tid]})]:
        resp = requests.get(api_url(base_url, path).replace("2.0", "3.0"), params=params, timeout=30)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        wire = body["trace"] if "trace" in body else body["traces"][0]
        assert {s["name"] for s in wire["spans"]} == {"pipeline", "retrieve", "add"}
    # What the server answers reads back as the client's own spans.
    trace = client._tracing_client.store.get_trace(tid)
    spans = {s.name: s for s in trace.data.spans}
    retrieve = spans["retrieve"]
    assert retrieve.parent_id == spans["pipeline"].span_id and retrieve.span_type == "RETRIEVER"
    assert retrieve.inputs == {"q": 1} and retrieve.outputs == ["doc-a", "doc-b"] and retrieve.get_attribute("k") == 3
    assert [(e.name, e.attributes) for e in retrieve.events] == [("cache-miss", {"key": "q1"})]
    assert spans["pipeline"].get_attribute("team") == "fraud" and spans["add"].outputs == 2
