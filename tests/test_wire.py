"""Wire conventions the client (or other clients) rely on: health, the /ajax-api mirror,
request decoding leniency, and response encoding."""

import json

import pytest
import requests
from helpers import API, api_url, assert_mlflow_error, raw_request


def test_health(server):
    r = raw_request(server, "GET", "/health")
    assert r.status == 200
    assert r.body.strip() == b"OK"


@pytest.mark.mlship_only
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes(server, path):
    """mlship-only: Kubernetes-style liveness and readiness probes."""
    r = raw_request(server, "GET", path)
    assert r.status == 200, r


def test_ajax_api_mirror(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = requests.get(f"{base_url}/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id})
    assert r.status_code == 200
    assert r.json()["experiment"]["experiment_id"] == experiment_id
    r = requests.post(
        f"{base_url}/ajax-api/2.0/mlflow/runs/log-parameter", json={"run_id": run_id, "key": "via", "value": "ajax"}
    )
    assert r.status_code == 200, r.text
    assert client.get_run(run_id).data.params == {"via": "ajax"}


def test_run_uuid_alias_and_lenient_decoding(base_url, client, experiment_id):
    """Old clients send run_uuid only; int64 may come as strings; unknown fields are ignored."""
    run_id = client.create_run(experiment_id).info.run_id
    r = requests.post(
        api_url(base_url, "runs/log-metric"),
        json={"run_uuid": run_id, "key": "m", "value": 1.5, "timestamp": "5", "step": "2", "no_such_field": 1},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {}
    r = requests.get(api_url(base_url, "metrics/get-history"), params={"run_uuid": run_id, "metric_key": "m"})
    assert r.status_code == 200
    assert r.json()["metrics"] == [{"key": "m", "value": 1.5, "timestamp": 5, "step": 2}]

    r = requests.post(api_url(base_url, "runs/create"), json={"experiment_id": experiment_id, "start_time": "1700000000123"})
    assert r.status_code == 200, r.text
    info = r.json()["run"]["info"]
    assert info["start_time"] == 1700000000123  # a JSON number on the way out


def test_enums_by_number(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(client.create_run(experiment_id).info.run_id)
    r = requests.post(api_url(base_url, "runs/update"), json={"run_id": run_id, "status": 3})
    assert r.status_code == 200, r.text
    assert r.json()["run_info"]["status"] == "FINISHED"  # enums go out by name

    for view, count in [(1, 1), (2, 1), (3, 2), ("ALL", 2), ("DELETED_ONLY", 1)]:
        r = requests.post(api_url(base_url, "runs/search"), json={"experiment_ids": [experiment_id], "run_view_type": view})
        assert r.status_code == 200, r.text
        assert len(r.json().get("runs", [])) == count, view


def test_double_encoded_json_body(base_url, client, experiment_id):
    """Old clients sent the JSON body as a JSON string; the server decodes it twice."""
    run_id = client.create_run(experiment_id).info.run_id
    body = json.dumps(json.dumps({"run_id": run_id, "key": "twice", "value": "yes"}))
    r = requests.post(api_url(base_url, "runs/set-tag"), data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert client.get_run(run_id).data.tags["twice"] == "yes"


def test_get_with_query_parameters(base_url, client, experiment_id):
    r = requests.get(api_url(base_url, "experiments/search"), params={"max_results": 1, "filter": "name = 'Default'"})
    assert r.status_code == 200, r.text
    assert [e["experiment_id"] for e in r.json()["experiments"]] == ["0"]
    r = requests.get(api_url(base_url, "experiments/search"), params={"max_results": "many"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_response_shapes(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id, run_name="shape").info.run_id
    client.log_metric(run_id, "m", 2.0, timestamp=7, step=1)
    client.log_param(run_id, "p", "v")
    r = requests.get(api_url(base_url, "runs/get"), params={"run_id": run_id})
    assert r.headers["Content-Type"].startswith("application/json")
    run = r.json()["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": 2.0, "timestamp": 7, "step": 1}]
    assert run["data"]["params"] == [{"key": "p", "value": "v"}]
    assert {"key": "mlflow.runName", "value": "shape"} in run["data"]["tags"]
    assert isinstance(run["info"]["start_time"], int)

    # A run with nothing logged: empty repeated fields are omitted, not sent as [].
    empty = client.create_run(experiment_id, tags={"mlflow.runName": "bare"}).info.run_id
    data = requests.get(api_url(base_url, "runs/get"), params={"run_id": empty}).json()["run"]["data"]
    assert "metrics" not in data and "params" not in data


@pytest.mark.mlship_only
@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"run_id": "x", "metrics": [{"key": "k", "value": [1], "timestamp": 1}]}', b"[1, 2]"],
    ids=["malformed", "list-value", "not-an-object"],
)
def test_malformed_bodies_are_4xx(server, client, experiment_id, body):
    """mlship-only: MLflow answers these with an HTML 500 (which the client then retries);
    mlship answers a JSON 400."""
    run_id = client.create_run(experiment_id).info.run_id
    body = body.replace(b'"x"', json.dumps(run_id).encode())
    r = raw_request(server, "POST", f"{API}/runs/log-batch", body, {"Content-Type": "application/json"})
    assert r.status == 400, r
    assert json.loads(r.body)["error_code"] in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST", "BAD_REQUEST")
