"""Runs: lifecycle, params, tags, metrics, latest-metric semantics, delete and restore."""

import math
import re
import sys
import time

import mlflow
import pytest
import requests
from helpers import api_url, assert_mlflow_error
from mlflow.entities import Metric, RunStatus, ViewType
from mlflow.exceptions import MlflowException

# The SQL-backed MLflow server cannot store infinities: it stores +/-inf as +/-DBL_MAX and
# returns those (mlflow/store/tracking/sqlalchemy_store.py). NaN is kept (is_nan column).
DBL_MAX = sys.float_info.max


def test_start_and_end_run(client, experiment_id):
    before_ms = int(time.time() * 1000) - 5000
    with mlflow.start_run(experiment_id=experiment_id, run_name="my-run") as active:
        run_id = active.info.run_id
        running = client.get_run(run_id)
        assert running.info.status == "RUNNING"
        assert running.info.end_time is None
        assert running.info.lifecycle_stage == "active"
        assert running.info.run_name == "my-run"
        assert running.data.tags["mlflow.runName"] == "my-run"
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)

    done = client.get_run(run_id)
    assert done.info.status == "FINISHED"
    assert done.info.experiment_id == experiment_id
    assert done.info.start_time >= before_ms
    assert done.info.end_time is not None and done.info.end_time >= done.info.start_time
    assert done.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"


def test_end_run_with_status(client, experiment_id):
    mlflow.start_run(experiment_id=experiment_id)
    run_id = mlflow.active_run().info.run_id
    mlflow.end_run(status="KILLED")
    assert client.get_run(run_id).info.status == "KILLED"

    run = client.create_run(experiment_id)
    client.set_terminated(run.info.run_id, status="FAILED", end_time=1234567890123)
    info = client.get_run(run.info.run_id).info
    assert info.status == "FAILED"
    assert info.end_time == 1234567890123


def test_run_wire_shape(base_url, client, experiment_id):
    run = client.create_run(experiment_id, run_name="wire", start_time=1700000000000)
    r = requests.get(api_url(base_url, "runs/get"), params={"run_id": run.info.run_id})
    assert r.status_code == 200
    info = r.json()["run"]["info"]
    assert info["run_id"] == info["run_uuid"] == run.info.run_id
    assert info["status"] == "RUNNING"
    assert info["start_time"] == 1700000000000
    assert "end_time" not in info
    assert info["lifecycle_stage"] == "active"
    assert info["run_name"] == "wire"
    assert info["experiment_id"] == experiment_id


def test_generated_run_name(client, experiment_id):
    run = client.create_run(experiment_id)
    name = run.info.run_name
    assert name
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == name


def test_update_run_name(client, experiment_id):
    run = client.create_run(experiment_id, run_name="before")
    client.update_run(run.info.run_id, name="after")
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "after"
    assert got.data.tags["mlflow.runName"] == "after"
    assert got.info.status == "RUNNING"


def test_params(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", 0.01)
    client.log_param(run_id, "name with space", "x y")
    client.log_param(run_id, "empty", "")
    client.log_param(run_id, "lr", 0.01)  # same value again: idempotent
    assert client.get_run(run_id).data.params == {"lr": "0.01", "name with space": "x y", "empty": ""}


def test_changing_param_is_rejected(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    with pytest.raises(MlflowException) as ei:
        client.log_param(run_id, "p", "2")
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in ei.value.message
    assert client.get_run(run_id).data.params["p"] == "1"

    r = requests.post(
        api_url(client.tracking_uri, "runs/log-parameter"),
        json={"run_id": run_id, "key": "p", "value": "3"},
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")


def test_tags_overwrite_and_delete(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.set_tag(run_id, "t", "one")
    client.set_tag(run_id, "t", "two")
    client.set_tag(run_id, "keep", "k")
    tags = client.get_run(run_id).data.tags
    assert tags["t"] == "two" and tags["keep"] == "k"

    client.delete_tag(run_id, "t")
    tags = client.get_run(run_id).data.tags
    assert "t" not in tags and tags["keep"] == "k"

    with pytest.raises(MlflowException) as ei:
        client.delete_tag(run_id, "t")
    assert ei.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_metric_steps_and_timestamps(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    points = [(0.5, 1000, 0), (0.25, 2000, 1), (0.125, 3000, 2), (0.1, 4000, 10)]
    for value, ts, step in points:
        client.log_metric(run_id, "loss", value, timestamp=ts, step=step)
    history = client.get_metric_history(run_id, "loss")
    assert [(m.value, m.timestamp, m.step) for m in history] == points
    assert all(m.key == "loss" for m in history)

    mlflow.set_experiment(experiment_id=experiment_id)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("fluent", 3.0)  # default step 0, timestamp now
    (m,) = client.get_metric_history(run_id, "fluent")
    assert m.step == 0 and m.value == 3.0 and abs(m.timestamp - time.time() * 1000) < 60_000


def test_metric_history_order_is_timestamp_step_value(client, experiment_id):
    """MLflow returns history ordered by (timestamp, step, value), not in logging order."""
    run_id = client.create_run(experiment_id).info.run_id
    logged = [(5.0, 300, 1), (4.0, 100, 9), (3.0, 200, 2), (2.0, 200, 1), (9.0, 200, 1)]
    for value, ts, step in logged:
        client.log_metric(run_id, "m", value, timestamp=ts, step=step)
    history = [(m.value, m.timestamp, m.step) for m in client.get_metric_history(run_id, "m")]
    assert history == [(4.0, 100, 9), (2.0, 200, 1), (9.0, 200, 1), (3.0, 200, 2), (5.0, 300, 1)]


def test_metric_special_values(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "x", float("nan"), timestamp=1000, step=0)
    client.log_metric(run_id, "x", float("inf"), timestamp=2000, step=1)
    client.log_metric(run_id, "x", float("-inf"), timestamp=3000, step=2)
    client.log_metric(run_id, "x", -0.0, timestamp=4000, step=3)
    client.log_metric(run_id, "x", 1e-300, timestamp=5000, step=4)
    client.log_metric(run_id, "x", 123456789.123456789, timestamp=6000, step=5)

    h = client.get_metric_history(run_id, "x")
    assert [m.step for m in h] == [0, 1, 2, 3, 4, 5]
    assert math.isnan(h[0].value)
    assert h[1].value == DBL_MAX
    assert h[2].value == -DBL_MAX
    assert h[3].value == 0.0
    assert h[4].value == 1e-300
    assert h[5].value == 123456789.123456789

    # The latest value (highest step) is a plain number; NaN as the latest shows up as NaN.
    client.log_metric(run_id, "nanlast", 1.0, timestamp=1, step=0)
    client.log_metric(run_id, "nanlast", float("nan"), timestamp=1, step=1)
    client.log_metric(run_id, "inflast", float("inf"), timestamp=1, step=7)
    metrics = client.get_run(run_id).data.metrics
    assert metrics["x"] == 123456789.123456789
    assert math.isnan(metrics["nanlast"])
    assert metrics["inflast"] == DBL_MAX


def test_metric_special_values_on_the_wire(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for i, v in enumerate(["NaN", "Infinity", "-Infinity"]):
        r = requests.post(
            api_url(base_url, "runs/log-metric"),
            json={"run_id": run_id, "key": "w", "value": v, "timestamp": 10 + i, "step": i},
        )
        assert r.status_code == 200, r.text
    r = requests.get(
        api_url(base_url, "metrics/get-history"), params={"run_id": run_id, "metric_key": "w"}
    )
    assert r.status_code == 200
    values = [m["value"] for m in r.json()["metrics"]]
    assert values[0] == "NaN"
    assert values[1:] == [DBL_MAX, -DBL_MAX]


def test_latest_metric_semantics(client, experiment_id):
    """run.data.metrics holds the max by (step, timestamp, value), not the last one logged."""
    run_id = client.create_run(experiment_id).info.run_id
    log = [
        # higher step wins over a newer timestamp
        ("a", 1.0, 100, 5),
        ("a", 2.0, 200, 3),
        # same step: newer timestamp wins
        ("b", 5.0, 100, 2),
        ("b", 3.0, 300, 2),
        ("b", 4.0, 200, 2),
        # same step and timestamp: larger value wins
        ("c", 7.0, 100, 2),
        ("c", 5.0, 100, 2),
        # logged out of order: the first write is still the latest
        ("d", 1.0, 1000, 10),
        ("d", 2.0, 2000, 1),
        ("d", 3.0, 500, 9),
        # negative steps
        ("e", 8.0, 100, -1),
        ("e", 9.0, 50, -5),
    ]
    for key, value, ts, step in log:
        client.log_metric(run_id, key, value, timestamp=ts, step=step)
    assert client.get_run(run_id).data.metrics == {"a": 1.0, "b": 3.0, "c": 7.0, "d": 1.0, "e": 8.0}

    # Same through log_batch, in one request.
    run2 = client.create_run(experiment_id).info.run_id
    client.log_batch(run2, metrics=[Metric(k, v, ts, s) for k, v, ts, s in log])
    assert client.get_run(run2).data.metrics == {"a": 1.0, "b": 3.0, "c": 7.0, "d": 1.0, "e": 8.0}


def test_duplicate_metric_is_a_noop(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for _ in range(3):
        client.log_metric(run_id, "dup", 1.5, timestamp=42, step=3)
    history = client.get_metric_history(run_id, "dup")
    assert [(m.value, m.timestamp, m.step) for m in history] == [(1.5, 42, 3)]


def test_delete_and_restore_run(client, experiment_id):
    keep = client.create_run(experiment_id, run_name="keep").info.run_id
    gone = client.create_run(experiment_id, run_name="gone").info.run_id
    client.delete_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "deleted"

    def ids(view):
        return {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=view)}

    assert ids(ViewType.ACTIVE_ONLY) == {keep}
    assert ids(ViewType.DELETED_ONLY) == {gone}
    assert ids(ViewType.ALL) == {keep, gone}

    client.restore_run(gone)
    assert client.get_run(gone).info.lifecycle_stage == "active"
    assert ids(ViewType.ACTIVE_ONLY) == {keep, gone}
    assert ids(ViewType.DELETED_ONLY) == set()


def test_runs_of_a_deleted_experiment(client):
    eid = client.create_experiment(f"deleted-parent-{time.time_ns()}")
    run_id = client.create_run(eid).info.run_id
    client.delete_experiment(eid)
    # Deleting an experiment marks its runs deleted too.
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_experiment(eid)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_run_status_values(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    for status in ["SCHEDULED", "RUNNING", "FAILED", "KILLED", "FINISHED"]:
        client.update_run(run_id, status=status)
        assert client.get_run(run_id).info.status == status
    assert RunStatus.is_terminated(RunStatus.from_string(client.get_run(run_id).info.status))
