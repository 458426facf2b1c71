"""Error codes and HTTP statuses for bad calls, through the client and on the wire."""

import pytest
import requests
from helpers import API, api_url, assert_mlflow_error, raw_request, unique_name
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException


def _client_error(fn, *args, **kwargs) -> MlflowException:
    with pytest.raises(MlflowException) as ei:
        fn(*args, **kwargs)
    return ei.value


def test_get_missing_run(base_url, client):
    missing = "0123456789abcdef0123456789abcdef"
    err = _client_error(client.get_run, missing)
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert err.get_http_status_code() == 404
    r = requests.get(api_url(base_url, "runs/get"), params={"run_id": missing})
    body = assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST", missing)
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(body["message"], str)


@pytest.mark.parametrize(
    "path, body",
    [
        ("runs/delete", {}),
        ("runs/update", {"status": "FINISHED"}),
        ("runs/log-metric", {"key": "k", "value": 1.0, "timestamp": 1}),
        ("runs/log-parameter", {"key": "k", "value": "v"}),
        ("runs/set-tag", {"key": "k", "value": "v"}),
    ],
)
def test_writes_to_missing_run(base_url, path, body):
    r = requests.post(api_url(base_url, path), json={"run_id": "a" * 32, **body})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_duplicate_experiment(base_url, client):
    name = unique_name("dup")
    client.create_experiment(name)
    err = _client_error(client.create_experiment, name)
    assert err.error_code == "RESOURCE_ALREADY_EXISTS"
    r = requests.post(api_url(base_url, "experiments/create"), json={"name": name})
    assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS")  # 400, not 409


def test_invalid_and_missing_experiment_ids(base_url, client):
    err = _client_error(client.get_experiment, "not-a-number")
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    err = _client_error(client.get_experiment, "987654321")
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"

    r = requests.get(api_url(base_url, "experiments/get"), params={"experiment_id": "not-a-number"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = requests.get(api_url(base_url, "experiments/get"), params={"experiment_id": "987654321"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = requests.post(api_url(base_url, "experiments/delete"), json={"experiment_id": "987654321"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = requests.post(api_url(base_url, "runs/create"), json={"experiment_id": "987654321"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_create_run_in_deleted_experiment(client):
    eid = client.create_experiment(unique_name("gone"))
    client.delete_experiment(eid)
    err = _client_error(client.create_run, eid)
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    assert "must be in the 'active' state" in err.message


@pytest.mark.parametrize("value", ["abc", "", "1.2.3"])
def test_invalid_metric_value_on_the_wire(base_url, client, experiment_id, value):
    run_id = client.create_run(experiment_id).info.run_id
    r = requests.post(
        api_url(base_url, "runs/log-metric"),
        json={"run_id": run_id, "key": "m", "value": value, "timestamp": 1, "step": 0},
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_metric_history(run_id, "m") == []


def test_invalid_metric_timestamp_on_the_wire(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = requests.post(
        api_url(base_url, "runs/log-metric"),
        json={"run_id": run_id, "key": "m", "value": 1.0, "timestamp": "yesterday"},
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_logging_to_deleted_run(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    calls = [
        (client.log_metric, (run_id, "m", 1.0)),
        (client.log_param, (run_id, "p", "v")),
        (client.set_tag, (run_id, "t", "v")),
        (client.log_batch, (run_id, [Metric("m", 1.0, 1, 0)], [Param("p", "v")], [RunTag("t", "v")])),
    ]
    for fn, args in calls:
        err = _client_error(fn, *args)
        assert err.error_code == "INVALID_PARAMETER_VALUE", fn.__name__
        assert "must be in the 'active' state" in err.message, fn.__name__
    client.restore_run(run_id)
    client.log_metric(run_id, "m", 1.0)  # fine again once restored


def test_max_results_limits(base_url, client, experiment_id):
    err = _client_error(client.search_runs, [experiment_id], max_results=50001)
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    assert client.search_runs([experiment_id], max_results=50000) == []
    err = _client_error(client.search_experiments, max_results=50001)
    assert err.error_code == "INVALID_PARAMETER_VALUE"

    r = requests.post(
        api_url(base_url, "runs/search"), json={"experiment_ids": [experiment_id], "max_results": 50001}
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = requests.post(
        api_url(base_url, "runs/search"), json={"experiment_ids": [experiment_id], "max_results": 0}
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_bad_page_token(base_url, experiment_id):
    r = requests.post(
        api_url(base_url, "runs/search"),
        json={"experiment_ids": [experiment_id], "page_token": "definitely not a token"},
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("POST", "experiments/create", {}, "name"),
        ("POST", "experiments/create", {"name": ""}, "name"),  # empty counts as missing
        ("GET", "experiments/get", None, "experiment_id"),
        ("GET", "experiments/get-by-name", None, "experiment_name"),
        ("GET", "runs/get", None, "run_id"),
        ("POST", "runs/log-metric", {"value": 1.0, "timestamp": 1}, "key"),
        ("POST", "runs/log-parameter", {"value": "v"}, "key"),
        ("POST", "runs/set-tag", {"value": "v"}, "key"),
        ("POST", "runs/log-metric", {"key": "k", "timestamp": 1}, "value"),
        ("GET", "metrics/get-history", {"run_id": "a" * 32}, "metric_key"),
    ],
)
def test_missing_required_field(base_url, client, experiment_id, method, path, body, field):
    if path.startswith("runs/") and body is not None:
        body = {"run_id": client.create_run(experiment_id).info.run_id, **body}
    if method == "GET":
        r = requests.get(api_url(base_url, path), params=body or {})
    else:
        r = requests.post(api_url(base_url, path), json=body)
    assert_mlflow_error(
        r, 400, "INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{field}'"
    )


def test_experiment_name_too_long(base_url):
    r = requests.post(api_url(base_url, "experiments/create"), json={"name": "x" * 501})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "500")


def test_invalid_experiment_tag_key(client):
    eid = client.create_experiment(unique_name("badtag"))
    err = _client_error(client.set_experiment_tag, eid, "quote'd", "v")
    assert err.error_code == "INVALID_PARAMETER_VALUE"


def test_unknown_endpoint_is_404(server):
    r = raw_request(server, "GET", f"{API}/no-such-endpoint")
    assert r.status == 404
    r = raw_request(server, "POST", f"{API}/runs/no-such-endpoint", b"{}", {"Content-Type": "application/json"})
    assert r.status == 404


def test_wrong_method_is_405(server):
    r = raw_request(server, "GET", f"{API}/runs/create")
    assert r.status == 405
