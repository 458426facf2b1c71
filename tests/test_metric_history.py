"""Metric history beyond one page, and the sampled bulk-interval endpoint used by the UI."""

import pytest
import requests
from helpers import api_url, assert_mlflow_error, unique_name
from mlflow import MlflowClient
from mlflow.entities import Metric

N_POINTS = 30_000  # more than one 25,000-row page, which is what the client asks for


def _value(step):
    return step * 0.5 - 100.0


@pytest.fixture(scope="module")
def long_run(base_url):
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("long-history"))
    run_id = client.create_run(eid).info.run_id
    metrics = [Metric("long", _value(s), 1_000_000 + s, s) for s in range(N_POINTS)]
    client.log_batch(run_id, metrics=metrics)  # the client sends chunks of 1000
    return run_id


def test_history_over_page_size_via_client(client, long_run):
    history = client.get_metric_history(long_run, "long")
    assert len(history) == N_POINTS
    assert [m.step for m in history] == list(range(N_POINTS))
    assert all(m.value == _value(m.step) and m.timestamp == 1_000_000 + m.step for m in history)
    assert client.get_run(long_run).data.metrics["long"] == _value(N_POINTS - 1)


def test_history_paging_on_the_wire(base_url, long_run):
    url = api_url(base_url, "metrics/get-history")
    steps, token, pages = [], None, 0
    while True:
        params = {"run_id": long_run, "metric_key": "long", "max_results": 7000}
        if token:
            params["page_token"] = token
        r = requests.get(url, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert len(body["metrics"]) <= 7000
        steps.extend(m["step"] for m in body["metrics"])
        token = body.get("next_page_token")
        if not token:
            break
        assert len(body["metrics"]) == 7000
    assert pages == 5
    assert steps == list(range(N_POINTS))


def test_history_unknown_key_is_empty(client, long_run):
    assert client.get_metric_history(long_run, "never-logged") == []


def test_history_of_missing_run_is_empty(base_url):
    """MLflow answers 200 with no metrics for a run id that does not exist (no 404)."""
    r = requests.get(
        api_url(base_url, "metrics/get-history"), params={"run_id": "f" * 32, "metric_key": "m"}
    )
    assert r.status_code == 200, r.text
    assert r.json().get("metrics", []) == []


def _bulk(base_url, run_ids, key, **extra):
    params = [("run_ids", rid) for rid in run_ids] + [("metric_key", key)]
    params += [(k, str(v)) for k, v in extra.items()]
    return requests.get(api_url(base_url, "metrics/get-history-bulk-interval"), params=params)


def test_bulk_interval_returns_everything_when_small(base_url, client, experiment_id):
    runs = [client.create_run(experiment_id).info.run_id for _ in range(2)]
    for n, run_id in enumerate(runs):
        client.log_batch(run_id, metrics=[Metric("acc", s + n * 1000.0, 10 + s, s) for s in range(40)])
    client.log_metric(runs[0], "acc", float("nan"), timestamp=99, step=40)

    r = _bulk(base_url, runs, "acc", max_results=100)
    assert r.status_code == 200, r.text
    metrics = r.json()["metrics"]
    assert {m["run_id"] for m in metrics} == set(runs)
    for n, run_id in enumerate(runs):
        mine = [m for m in metrics if m["run_id"] == run_id]
        expected_steps = list(range(41 if n == 0 else 40))
        assert [m["step"] for m in mine] == expected_steps
        for m in mine:
            assert m["key"] == "acc"
            if m["step"] == 40:
                assert m["value"] == "NaN"  # NaN goes over the wire as the string "NaN"
            else:
                assert m["value"] == m["step"] + n * 1000.0
                assert m["timestamp"] == 10 + m["step"]


def test_bulk_interval_samples_long_history(base_url, long_run):
    r = _bulk(base_url, [long_run], "long", max_results=10)
    assert r.status_code == 200, r.text
    metrics = r.json()["metrics"]
    steps = [m["step"] for m in metrics]
    assert 2 <= len(metrics) <= 10
    assert steps == sorted(set(steps))
    assert steps[0] == 0 and steps[-1] == N_POINTS - 1  # the boundaries are kept
    for m in metrics:
        assert m["run_id"] == long_run
        assert m["value"] == _value(m["step"]) and m["timestamp"] == 1_000_000 + m["step"]


def test_bulk_interval_step_window(base_url, long_run):
    r = _bulk(base_url, [long_run], "long", max_results=2500, start_step=100, end_step=199)
    assert r.status_code == 200, r.text
    assert [m["step"] for m in r.json()["metrics"]] == list(range(100, 200))

    r = _bulk(base_url, [long_run], "long", max_results=5, start_step=1000, end_step=2000)
    steps = [m["step"] for m in r.json()["metrics"]]
    assert 2 <= len(steps) <= 5
    assert steps[0] == 1000 and steps[-1] == 2000
    assert all(1000 <= s <= 2000 for s in steps)


def test_bulk_interval_default_max_results(base_url, long_run):
    r = _bulk(base_url, [long_run], "long")
    assert r.status_code == 200, r.text
    metrics = r.json()["metrics"]
    assert len(metrics) <= 2500
    assert metrics[0]["step"] == 0 and metrics[-1]["step"] == N_POINTS - 1


@pytest.mark.parametrize(
    "extra",
    [
        {"max_results": 0},
        {"max_results": 2501},
        {"start_step": 5},
        {"start_step": 10, "end_step": 5},
    ],
    ids=["max0", "max2501", "start-only", "start-after-end"],
)
def test_bulk_interval_rejects_bad_arguments(base_url, long_run, extra):
    r = _bulk(base_url, [long_run], "long", **extra)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_bulk_interval_limits_run_count(base_url, long_run):
    r = _bulk(base_url, [long_run] + [f"{i:032x}" for i in range(100)], "long", max_results=5)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "100")


def test_bulk_interval_requires_metric_key(base_url, long_run):
    r = requests.get(
        api_url(base_url, "metrics/get-history-bulk-interval"), params={"run_ids": long_run}
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter")


def test_bulk_interval_unknown_key_is_empty(base_url, long_run):
    r = _bulk(base_url, [long_run], "nothing-here", max_results=10)
    assert r.status_code == 200, r.text
    assert r.json().get("metrics", []) == []
