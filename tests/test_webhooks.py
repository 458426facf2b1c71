"""Webhooks through MLflow's own client: registry changes reach a local receiver as MLflow
sends them (its body, its X-MLflow-* headers), signed so that MLflow's own HMAC code
verifies them; a receiver that fails gets retries with the same delivery id; `test_webhook`
delivers an example event; bad input is a clear 4xx; the secret is never returned."""

from __future__ import annotations

import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pytest
import requests
from helpers import unique_name
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.webhooks.constants import (
    WEBHOOK_DELIVERY_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
)
from mlflow.webhooks.delivery import _generate_hmac_signature

pytestmark = pytest.mark.mlship_only

SECRET = "whsec-e2e-secret"


class Receiver:
    """A local HTTP server that records what it receives; it answers `fail_first`
    requests with 503 before it answers 200."""

    def __init__(self, fail_first: int = 0):
        self.calls: list[dict] = []
        self.fail_first = fail_first
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.cond:
                    receiver.calls.append({"headers": dict(self.headers), "body": body})
                    failing = len(receiver.calls) <= receiver.fail_first
                    receiver.cond.notify_all()
                self.send_response(503 if failing else 200)
                self.end_headers()
                self.wfile.write(b"busy" if failing else b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.calls) < n:
                left = deadline - time.monotonic()
                assert left > 0, f"got {len(self.calls)} deliveries, want {n}: {self.calls}"
                self.cond.wait(left)
            return list(self.calls)

    def close(self):
        self.httpd.shutdown()


def verified(call: dict, secret: str = SECRET) -> dict:
    """Checks a delivery's signature with MLflow's own HMAC code, over the bytes received."""
    h = call["headers"]
    expected = _generate_hmac_signature(
        secret, h[WEBHOOK_DELIVERY_ID_HEADER], h[WEBHOOK_TIMESTAMP_HEADER], call["body"].decode("utf-8")
    )
    assert hmac.compare_digest(h[WEBHOOK_SIGNATURE_HEADER], expected), h
    assert abs(int(h[WEBHOOK_TIMESTAMP_HEADER]) - time.time()) < 300
    assert h["Content-Type"] == "application/json"
    return json.loads(call["body"])


@pytest.fixture(scope="module")
def hook_server(tmp_path_factory):
    """A server allowed to reach the test's receiver on loopback."""
    from conftest import Server

    srv = Server("mlship", tmp_path_factory.mktemp("webhooks"), ["--allowed-outbound", "127.0.0.1/32"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def hc(hook_server):
    return MlflowClient(tracking_uri=hook_server.url)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_new_version_and_an_alias_move_arrive_signed(hc, receiver):
    hook = hc.create_webhook(
        name=unique_name("registry-hook"),
        url=receiver.url,
        events=["model_version.created", "model_version_alias.created", "model_version_alias.deleted"],
        secret=SECRET,
        description="CI/CD",
    )
    assert hook.secret is None and hook.status.is_active() and hook.description == "CI/CD"
    name = unique_name("hooked-model")
    hc.create_registered_model(name)  # registered_model.created: not subscribed
    hc.create_model_version(name, "mlflow-artifacts:/hooked/model", run_id=None, tags={"team": "risk"}, description="first")
    hc.set_registered_model_alias(name, "production", "1")
    hc.create_model_version(name, "mlflow-artifacts:/hooked/model2")
    hc.set_registered_model_alias(name, "production", "2")
    hc.delete_registered_model_alias(name, "production")

    # Deliveries run side by side, as MLflow's do: their order is not the events'.
    bodies = [verified(c) for c in receiver.wait(5)]
    got = sorted((b["entity"], b["action"], json.dumps(b["data"], sort_keys=True)) for b in bodies)
    want = sorted((entity, action, json.dumps(data, sort_keys=True)) for entity, action, data in [
        ("model_version", "created", {"name": name, "version": "1", "source": "mlflow-artifacts:/hooked/model",
                                      "run_id": None, "tags": {"team": "risk"}, "description": "first"}),
        ("model_version_alias", "created", {"name": name, "alias": "production", "version": "1"}),
        ("model_version", "created", {"name": name, "version": "2", "source": "mlflow-artifacts:/hooked/model2",
                                      "run_id": None, "tags": {}, "description": None}),
        ("model_version_alias", "created", {"name": name, "alias": "production", "version": "2"}),
        ("model_version_alias", "deleted", {"name": name, "alias": "production"}),
    ])
    assert got == want
    assert all(list(b) == ["entity", "action", "timestamp", "data"] for b in bodies)
    assert all(b["timestamp"].endswith("+00:00") for b in bodies)
    assert len({c["headers"][WEBHOOK_DELIVERY_ID_HEADER] for c in receiver.calls}) == 5
    hc.delete_webhook(hook.webhook_id)


def test_a_failing_receiver_gets_retries_with_the_same_delivery_id(hc):
    receiver = Receiver(fail_first=2)
    try:
        hook = hc.create_webhook(name=unique_name("retry-hook"), url=receiver.url,
                                 events=["registered_model.created"], secret=SECRET)
        name = unique_name("retried-model")
        hc.create_registered_model(name, tags={"k": "v"}, description="d")
        calls = receiver.wait(3)
        assert len({c["headers"][WEBHOOK_DELIVERY_ID_HEADER] for c in calls}) == 1
        assert all(verified(c)["data"] == {"name": name, "tags": {"k": "v"}, "description": "d"} for c in calls)
        hc.delete_webhook(hook.webhook_id)
    finally:
        receiver.close()


def test_test_webhook_delivers_an_example_event(hc, receiver):
    hook = hc.create_webhook(name=unique_name("test-hook"), url=receiver.url,
                             events=["model_version_alias.created", "model_version_tag.set"], secret=SECRET)
    result = hc.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200 and result.response_body == "ok", result
    body = verified(receiver.wait(1)[0])
    assert (body["entity"], body["action"]) == ("model_version_alias", "created")
    assert body["data"] == {"name": "example_model", "alias": "example_alias", "version": "1"}
    result = hc.test_webhook(hook.webhook_id, event="model_version_tag.set")
    assert result.success
    assert verified(receiver.wait(2)[1])["data"]["key"] == "example_key"
    hc.delete_webhook(hook.webhook_id)


def test_manage_list_update_and_delete(hc, receiver):
    ids = [hc.create_webhook(name=unique_name(f"page-{i}"), url=receiver.url, events=["model_version.created"]).webhook_id
           for i in range(3)]
    seen, token = [], None
    while True:
        page = hc.list_webhooks(max_results=2, page_token=token)
        assert len(page) <= 2
        seen += [w.webhook_id for w in page]
        token = page.token
        if not token:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))

    updated = hc.update_webhook(ids[0], name="renamed-hook", status="DISABLED", secret="new-secret",
                                events=["model_version_tag.set", "model_version_tag.deleted"])
    got = hc.get_webhook(ids[0])
    assert got.name == updated.name == "renamed-hook" and got.status.value == "DISABLED"
    assert [str(e) for e in got.events] == ["model_version_tag.set", "model_version_tag.deleted"]
    assert got.url == receiver.url and got.secret is None
    for i in ids:
        hc.delete_webhook(i)
    with pytest.raises(MlflowException) as e:
        hc.get_webhook(ids[0])
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_bad_input_is_a_clear_4xx(server, hook_server, receiver):
    default = MlflowClient(tracking_uri=server.url)
    # The default server refuses loopback, private and link-local destinations.
    for url in ["http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://169.254.169.254/latest/", "http://10.0.0.1/h"]:
        with pytest.raises(MlflowException) as e:
            default.create_webhook(name=unique_name("private"), url=url, events=["model_version.created"])
        assert e.value.error_code == "INVALID_PARAMETER_VALUE" and "--allowed-outbound" in e.value.message, url
    hc = MlflowClient(tracking_uri=hook_server.url)
    for url, why in [("ftp://example.com/x", "scheme"), ("http://user:pw@127.0.0.1:9/x", "credentials"), ("not a url", "scheme")]:
        with pytest.raises(MlflowException) as e:
            hc.create_webhook(name=unique_name("bad"), url=url, events=["model_version.created"])
        assert e.value.error_code == "INVALID_PARAMETER_VALUE" and why in e.value.message, (url, e.value.message)
    with pytest.raises(MlflowException) as e:
        hc.create_webhook(name="-bad name-", url=receiver.url, events=["model_version.created"])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"

    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    for body in [
        {"name": "x", "url": receiver.url, "events": [{"entity": "NOPE", "action": "CREATED"}]},
        {"name": "x", "url": receiver.url, "events": [{"entity": "REGISTERED_MODEL", "action": "DELETED"}]},
        {"name": "x", "url": receiver.url, "events": []},
        {"name": "x", "url": receiver.url, "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}], "status": "ON"},
    ]:
        r = requests.post(api, json=body, timeout=10)
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.text)
    r = requests.get(api, params={"page_token": "garbage"}, timeout=10)
    assert r.status_code == 400, r.text
    assert requests.get(f"{api}/no-such-id", timeout=10).status_code == 404
    # Nothing half-made: the refused webhooks are not listed.
    assert not [w for w in hc.list_webhooks(max_results=1000) if w.name in ("x", "-bad name-")]


def test_mlship_events_sit_beside_mlflow_events(hc, hook_server, receiver):
    """mlship's own events (gate verdicts, overrides, drift) are named in mlship_events, which
    MLflow's client ignores: it still lists, reads and updates the webhook."""
    api = f"{hook_server.url}/api/2.0/mlflow/webhooks"
    r = requests.post(api, json={"name": unique_name("cicd"), "url": receiver.url, "secret": SECRET,
                                 "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"},
                                            {"entity": "GATE_VERDICT", "action": "CREATED"}],
                                 "mlship_events": ["drift.detected"]}, timeout=10)
    assert r.status_code == 200, r.text
    hook = r.json()["webhook"]
    assert hook["events"] == [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}]
    assert hook["mlship_events"] == ["gate_verdict.created", "drift.detected"]
    assert "secret" not in hook
    assert hook["webhook_id"] in [w.webhook_id for w in hc.list_webhooks(max_results=1000)]
    hc.update_webhook(hook["webhook_id"], events=["model_version.created"])
    got = requests.get(f"{api}/{hook['webhook_id']}", timeout=10).json()["webhook"]
    assert got["events"] == [{"entity": "MODEL_VERSION", "action": "CREATED"}]
    assert got["mlship_events"] == ["gate_verdict.created", "drift.detected"]
    result = hc.test_webhook(hook["webhook_id"])
    assert result.success
    r = requests.post(f"{api}/{hook['webhook_id']}/test", json={"event": {"entity": "DRIFT", "action": "DETECTED"}},
                      timeout=10)
    assert r.json()["result"]["success"] is True, r.text
    body = verified(receiver.wait(2)[1])
    assert (body["entity"], body["action"]) == ("drift", "detected") and body["data"]["deployment"] == "fraud"
    hc.delete_webhook(hook["webhook_id"])


def test_moving_a_protected_alias_through_the_gate(hc, hook_server, receiver, tmp_path):
    """`production` is protected by a benchmark: a move the gate refuses announces nothing; a
    move with an override reason announces the alias move and the override, both signed."""
    from helpers import mlship

    name = unique_name("gated-hook")
    hc.create_registered_model(name)
    hc.create_model_version(name, "mlflow-artifacts:/gated/model")
    data = unique_name("gate-holdout")
    (tmp_path / "holdout.csv").write_text("x,target\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(10)))
    mlship(hook_server, "data", "add", data, str(tmp_path / "holdout.csv"))
    mlship(hook_server, "gate", "set", name, "--dataset", f"{data}/1", "--target", "target", "--task", "classification",
           "--threshold", "accuracy_score>=0.9")
    hook = requests.post(f"{hook_server.url}/api/2.0/mlflow/webhooks", timeout=10, json={
        "name": unique_name("release-bot"), "url": receiver.url, "secret": SECRET,
        "events": [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}],
        "mlship_events": ["protected_alias.overridden", "gate_verdict.created"]}).json()["webhook"]

    with pytest.raises(MlflowException):
        hc.set_registered_model_alias(name, "production", "1")  # no passing evaluation
    mlship(hook_server, "models", "alias", name, "production", "1", "--override", "incident 42: roll forward")
    bodies = {(b["entity"], b["action"]): b["data"] for b in (verified(c) for c in receiver.wait(2))}
    assert bodies == {
        ("model_version_alias", "created"): {"name": name, "alias": "production", "version": "1"},
        ("protected_alias", "overridden"): {"name": name, "alias": "production", "version": "1",
                                            "previous_version": None, "reason": "incident 42: roll forward",
                                            "actor": bodies[("protected_alias", "overridden")]["actor"]},
    }
    hc.delete_webhook(hook["webhook_id"])
