"""mlship as several replicas on one PostgreSQL database and one artifacts store, each
client talking to a replica of its own (make test-e2e-shared, MLSHIP_E2E_BACKEND=postgres):
a deployment created through one replica serves on the others and follows an alias moved
through another, and kill -9 of a replica under write load loses no acknowledged write."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import mlflow
import mlflow.onnx
import pytest
import requests
from conftest import Replicas
from helpers import pinned, unique_name
from mlflow import MlflowClient

pytestmark = [
    pytest.mark.mlship_only,
    pytest.mark.skipif(os.environ.get("MLSHIP_E2E_BACKEND") != "postgres",
                       reason="replicas share a PostgreSQL database: run under make test-e2e-shared"),
]


@pytest.fixture(scope="module")
def replicas():
    r = Replicas("mlship", Path(tempfile.mkdtemp(prefix="mlship-replicas-")), 3)
    r.start()
    uri = mlflow.get_tracking_uri()
    try:
        yield r.servers
    finally:
        mlflow.set_tracking_uri(uri)
        r.stop()


def _times(k: float):
    """An ONNX model that multiplies its input by k: each version answers its own k."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    k_init = helper.make_tensor("k", TensorProto.FLOAT, [1], [k])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "times", [x], [y], [k_init])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _answer(url: str, dep: str) -> float | None:
    body = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}
    r = requests.post(f"{url}/v2/models/{dep}/infer", json=body, timeout=10)
    return r.json()["outputs"][0]["data"][0] if r.status_code == 200 else None


def _wait_answer(url: str, dep: str, want: float, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while (got := _answer(url, dep)) != want:
        assert time.monotonic() < deadline, f"{url} answers {got}, want {want}"
        time.sleep(0.1)


def test_deployment_follows_an_alias_moved_through_another_replica(replicas):
    a, b, c = replicas
    mlflow.set_tracking_uri(a.url)
    name = unique_name("replicated")
    for k in (1.0, 2.0):
        with mlflow.start_run():
            mlflow.onnx.log_model(_times(k), name="model", registered_model_name=name, pip_requirements=pinned("onnx"))
    MlflowClient(b.url).set_registered_model_alias(name, "production", "1")
    dep = unique_name("dep")
    r = requests.post(f"{a.url}/api/v1/deployments", json={"name": dep, "model": f"models:/{name}@production"}, timeout=30)
    assert r.status_code == 200, r.text
    for s in replicas:  # created through a, served by every replica
        _wait_answer(s.url, dep, 1.0)
    MlflowClient(b.url).set_registered_model_alias(name, "production", "2")
    for s in replicas:
        _wait_answer(s.url, dep, 2.0)
    r = requests.delete(f"{b.url}/api/v1/deployments/{dep}", timeout=30)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while requests.get(f"{c.url}/api/v1/deployments/{dep}", timeout=10).status_code != 404:
        assert time.monotonic() < deadline, "the deployment deleted through b still runs on c"
        time.sleep(0.1)


def test_kill_9_of_a_replica_under_write_load_loses_no_acknowledged_write(replicas):
    victim = replicas[-1]
    client = MlflowClient(replicas[0].url)
    exp = client.create_experiment(unique_name("kill9"))
    acked: dict[str, list[int]] = {}
    stop = threading.Event()

    def writer(url: str, i: int):
        run_id = requests.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp}, timeout=10).json()["run"]["info"]["run_id"]
        acked[run_id] = mine = []
        n = 0
        while not stop.is_set():
            body = {"run_id": run_id, "metrics": [{"key": "m", "value": n, "timestamp": 0, "step": n}]}
            try:
                r = requests.post(f"{url}/api/2.0/mlflow/runs/log-batch", json=body, timeout=10)
            except requests.RequestException:
                if url == victim.url:
                    return  # the replica is gone: what it acknowledged must stay
                raise
            if r.status_code == 200:
                mine.append(n)
            n += 1

    threads = [threading.Thread(target=writer, args=(s.url, i)) for i, s in enumerate(replicas * 2)]
    for t in threads:
        t.start()
    time.sleep(2)
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=10)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) == len(threads)
    assert all(acked.values()), "a writer had no write acknowledged"
    for run_id, values in acked.items():
        history = client.get_metric_history(run_id, "m")
        stored = {int(m.value) for m in history}
        missing = set(values) - stored
        assert not missing, f"run {run_id}: acknowledged values {sorted(missing)[:10]} were lost"
