"""log_batch at MLflow's limits, and the validation of keys and values."""

import pytest
import requests
from helpers import api_url, assert_mlflow_error
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException


def _post_batch(base_url, run_id, metrics=(), params=(), tags=()):
    body = {"run_id": run_id}
    if metrics:
        body["metrics"] = list(metrics)
    if params:
        body["params"] = list(params)
    if tags:
        body["tags"] = list(tags)
    return requests.post(api_url(base_url, "runs/log-batch"), json=body)


def _wire_metrics(n, key="m"):
    return [{"key": key, "value": float(i), "timestamp": 1000 + i, "step": i} for i in range(n)]


def test_client_log_batch_at_limits(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [Metric(f"m{i % 10}", i * 0.5, 1_000_000 + i, i // 10) for i in range(1000)]
    params = [Param(f"p{i:03d}", f"value-{i}") for i in range(100)]
    tags = [RunTag(f"t{i:03d}", f"tag-{i}") for i in range(100)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    data = client.get_run(run_id).data
    assert data.params == {f"p{i:03d}": f"value-{i}" for i in range(100)}
    user_tags = {k: v for k, v in data.tags.items() if not k.startswith("mlflow.")}
    assert user_tags == {f"t{i:03d}": f"tag-{i}" for i in range(100)}
    # Latest per key is the one with the highest step: i = 990 + k.
    assert data.metrics == {f"m{k}": (990 + k) * 0.5 for k in range(10)}
    for k in (0, 7):
        history = client.get_metric_history(run_id, f"m{k}")
        assert [(m.value, m.timestamp, m.step) for m in history] == [
            (i * 0.5, 1_000_000 + i, i // 10) for i in range(k, 1000, 10)
        ]


def test_client_splits_oversized_batches(client, experiment_id):
    """The client chunks a batch beyond the per-request limits; everything arrives."""
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("big", float(i), 5000 + i, i) for i in range(2500)],
        params=[Param(f"p{i}", str(i)) for i in range(250)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(150)],
    )
    data = client.get_run(run_id).data
    assert len(data.params) == 250
    assert len([k for k in data.tags if not k.startswith("mlflow.")]) == 150
    history = client.get_metric_history(run_id, "big")
    assert [m.step for m in history] == list(range(2500))


def test_wire_batch_exactly_at_limits(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = _post_batch(base_url, run_id, metrics=_wire_metrics(1000))
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert len(client.get_metric_history(run_id, "m")) == 1000

    run2 = client.create_run(experiment_id).info.run_id
    r = _post_batch(
        base_url,
        run2,
        metrics=_wire_metrics(800),
        params=[{"key": f"p{i}", "value": "v"} for i in range(100)],
        tags=[{"key": f"t{i}", "value": "v"} for i in range(100)],
    )
    assert r.status_code == 200, r.text
    assert len(client.get_run(run2).data.params) == 100


@pytest.mark.parametrize(
    "kind, count, message",
    [
        ("metrics", 1001, "1000"),
        ("params", 101, "100"),
        ("tags", 101, "100"),
    ],
)
def test_wire_batch_over_limit(base_url, client, experiment_id, kind, count, message):
    run_id = client.create_run(experiment_id).info.run_id
    if kind == "metrics":
        items = _wire_metrics(count)
    else:
        items = [{"key": f"k{i}", "value": "v"} for i in range(count)]
    r = _post_batch(base_url, run_id, **{kind: items})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", message)

    # Validation happens before any write: nothing of the rejected batch is stored.
    run = client.get_run(run_id)
    assert run.data.metrics == {}
    assert run.data.params == {}
    assert not [k for k in run.data.tags if not k.startswith("mlflow.")]


def test_wire_batch_over_total_entity_limit(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = _post_batch(
        base_url,
        run_id,
        metrics=_wire_metrics(901),
        params=[{"key": f"p{i}", "value": "v"} for i in range(100)],
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "1000")
    assert client.get_run(run_id).data.params == {}


def test_duplicate_param_keys_in_one_batch(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = _post_batch(base_url, run_id, params=[{"key": "d", "value": "1"}, {"key": "d", "value": "1"}])
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.params == {}


@pytest.mark.parametrize("kind", ["metrics", "params", "tags"])
def test_key_length_limit(base_url, client, experiment_id, kind):
    run_id = client.create_run(experiment_id).info.run_id

    def item(key):
        if kind == "metrics":
            return {"key": key, "value": 1.0, "timestamp": 1, "step": 0}
        return {"key": key, "value": "v"}

    ok_key, bad_key = "k" * 250, "k" * 251
    r = _post_batch(base_url, run_id, **{kind: [item(ok_key)]})
    assert r.status_code == 200, r.text

    # The over-long key is rejected together with a valid one in the same request.
    r = _post_batch(base_url, run_id, **{kind: [item("fine"), item(bad_key)]})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "250")
    data = client.get_run(run_id).data
    stored = {"metrics": data.metrics, "params": data.params, "tags": data.tags}[kind]
    assert ok_key in stored
    assert "fine" not in stored and bad_key not in stored


def test_key_length_limit_through_client(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as ei:
        client.log_param(run_id, "k" * 251, "v")
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as ei:
        client.log_metric(run_id, "k" * 251, 1.0)
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("bad_key", ["../escape", "a/../b", "/abs", "semi;colon", "quote'd"])
def test_invalid_key_names(base_url, client, experiment_id, bad_key):
    run_id = client.create_run(experiment_id).info.run_id
    r = _post_batch(base_url, run_id, params=[{"key": bad_key, "value": "v"}])
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(run_id).data.params == {}


def test_long_param_value_is_truncated(base_url, client, experiment_id):
    """Values over 6000 chars are truncated to 6000 (MLFLOW_TRUNCATE_LONG_VALUES defaults to
    true): the client truncates before sending, and the server truncates what arrives raw."""
    run_id = client.create_run(experiment_id).info.run_id
    value = "".join(chr(ord("a") + i % 26) for i in range(7000))
    client.log_param(run_id, "via-client", value)
    client.log_batch(run_id, params=[Param("via-client-batch", value)])
    r = requests.post(
        api_url(base_url, "runs/log-parameter"), json={"run_id": run_id, "key": "via-wire", "value": value}
    )
    assert r.status_code == 200, r.text
    r = _post_batch(base_url, run_id, params=[{"key": "via-wire-batch", "value": value}])
    assert r.status_code == 200, r.text

    params = client.get_run(run_id).data.params
    for key in ["via-client", "via-client-batch", "via-wire", "via-wire-batch"]:
        assert params[key] == value[:6000], key

    exactly = "z" * 6000
    client.log_param(run_id, "exact", exactly)
    assert client.get_run(run_id).data.params["exact"] == exactly


def test_long_param_value_without_client_truncation(client, experiment_id, monkeypatch):
    """With client-side truncation off the value goes out whole; the server still truncates."""
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    run_id = client.create_run(experiment_id).info.run_id
    value = "q" * 6500
    client.log_param(run_id, "p", value)
    assert client.get_run(run_id).data.params["p"] == value[:6000]


def test_long_tag_value_is_truncated(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    value = "t" * 9000
    client.set_tag(run_id, "via-client", value)
    r = _post_batch(base_url, run_id, tags=[{"key": "via-wire", "value": value}])
    assert r.status_code == 200, r.text
    tags = client.get_run(run_id).data.tags
    assert tags["via-client"] == value[:8000]
    assert tags["via-wire"] == value[:8000]


def test_batch_tags_last_value_wins(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = _post_batch(base_url, run_id, tags=[{"key": "t", "value": "1"}, {"key": "t", "value": "2"}])
    assert r.status_code == 200, r.text
    assert client.get_run(run_id).data.tags["t"] == "2"


def test_batch_metric_defaults_and_validation(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # step defaults to 0
    r = _post_batch(base_url, run_id, metrics=[{"key": "nostep", "value": 2.5, "timestamp": 77}])
    assert r.status_code == 200, r.text
    (m,) = client.get_metric_history(run_id, "nostep")
    assert (m.value, m.timestamp, m.step) == (2.5, 77, 0)

    # timestamp is required, and must not be negative
    r = _post_batch(base_url, run_id, metrics=[{"key": "nots", "value": 1.0}])
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter")
    r = _post_batch(base_url, run_id, metrics=[{"key": "negts", "value": 1.0, "timestamp": -1}])
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")

    # an empty batch is fine
    r = _post_batch(base_url, run_id)
    assert r.status_code == 200 and r.json() == {}


def test_batch_requires_json_content_type(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    r = requests.post(
        api_url(base_url, "runs/log-batch"),
        data=f'{{"run_id": "{run_id}"}}',
        headers={"Content-Type": "text/plain"},
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Content-Type")
    r = requests.post(
        api_url(base_url, "runs/log-batch"),
        data=f'{{"run_id": "{run_id}", "params": [{{"key": "cs", "value": "1"}}]}}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text
    assert client.get_run(run_id).data.params == {"cs": "1"}
