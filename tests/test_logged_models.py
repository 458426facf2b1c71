"""MLflow 3 logged models: created, finalized, tagged, searched and listed through the client."""

from __future__ import annotations

import pytest
import requests
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from helpers import IS_MLFLOW, api_url


def test_logged_model_lifecycle(client, experiment_id, tmp_path):
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    m = client.create_logged_model(
        experiment_id, name="model", source_run_id=run_id, params={"alpha": "0.1"}, tags={"team": "fraud"}
    )
    assert m.model_id.startswith("m-") and len(m.model_id) == 34
    assert m.status == LoggedModelStatus.PENDING
    assert m.artifact_location.endswith(f"/models/{m.model_id}/artifacts")
    assert m.params == {"alpha": "0.1"} and m.tags["team"] == "fraud"

    client.log_batch(run_id, metrics=[])  # no-op batch is accepted
    client.log_metric(run_id, "acc", 0.93, model_id=m.model_id)
    client.set_logged_model_tags(m.model_id, {"stage": "dev"})
    client.log_model_params(m.model_id, {"beta": "2"})
    done = client.finalize_logged_model(m.model_id, LoggedModelStatus.READY)
    assert done.status == LoggedModelStatus.READY

    got = client.get_logged_model(m.model_id)
    assert got.source_run_id == run_id
    assert got.params == {"alpha": "0.1", "beta": "2"}
    assert got.tags["stage"] == "dev"
    assert [(x.key, x.value, x.run_id) for x in got.metrics] == [("acc", 0.93, run_id)]

    client.delete_logged_model_tag(m.model_id, "stage")
    assert "stage" not in client.get_logged_model(m.model_id).tags

    client.delete_logged_model(m.model_id)
    with pytest.raises(MlflowException) as e:
        client.get_logged_model(m.model_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_logged_models(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ids = {}
    for i, name in enumerate(["a", "b", "c"]):
        m = client.create_logged_model(experiment_id, name=name, source_run_id=run_id)
        client.log_metric(run_id, "acc", 0.5 + 0.1 * i, model_id=m.model_id)
        ids[name] = m.model_id
    found = client.search_logged_models([experiment_id], filter_string="name = 'b'")
    assert [m.model_id for m in found] == [ids["b"]]
    ordered = client.search_logged_models(
        [experiment_id], filter_string="metrics.acc > 0.55", order_by=[{"field_name": "metrics.acc", "ascending": False}]
    )
    assert [m.name for m in ordered] == ["c", "b"]
    page = client.search_logged_models([experiment_id], max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_logged_models([experiment_id], max_results=2, page_token=page.token)
    assert len(rest) == 1 and not rest.token


def test_run_outputs_and_model_artifacts(base_url, client, experiment_id, tmp_path):
    run_id = client.create_run(experiment_id).info.run_id
    m = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    r = requests.post(
        api_url(base_url, "runs/outputs"), json={"run_id": run_id, "models": [{"model_id": m.model_id, "step": 2}]}
    )
    assert r.status_code == 200, r.text
    outputs = client.get_run(run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(m.model_id, 2)]

    f = tmp_path / "MLmodel"
    f.write_text("flavors: {}\n")
    client.log_model_artifact(m.model_id, str(f))
    r = requests.get(api_url(base_url, f"logged-models/{m.model_id}/artifacts/directories"))
    assert r.status_code == 200, r.text
    assert [x["path"] for x in r.json()["files"]] == ["MLmodel"]


def test_bad_logged_model_calls(base_url, client, experiment_id):
    with pytest.raises(MlflowException) as e:
        client.create_logged_model(experiment_id, name="a/b")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    r = requests.get(api_url(base_url, "logged-models/m-00000000000000000000000000000000"))
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_search_logged_models_by_dataset(client, experiment_id):
    import mlflow
    import pandas as pd

    evaluation = mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}), name="holdout")
    with mlflow.start_run(experiment_id=experiment_id):
        evaluated = mlflow.initialize_logged_model(name="evaluated", experiment_id=experiment_id)
        plain = mlflow.initialize_logged_model(name="plain", experiment_id=experiment_id)
        mlflow.log_metric("acc", 0.9, model_id=evaluated.model_id, dataset=evaluation)
        mlflow.log_metric("acc", 0.95, model_id=plain.model_id)

    def found(**kwargs):
        models = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list", **kwargs)
        return sorted(m.name for m in models)

    digest = evaluation.digest
    assert found() == ["evaluated", "plain"]
    assert found(datasets=[{"dataset_name": "holdout", "dataset_digest": digest}]) == ["evaluated"]
    assert found(datasets=[{"dataset_name": "holdout", "dataset_digest": "0" * 8}]) == []
    assert found(datasets=[{"dataset_name": "never-seen"}]) == []
    # A metrics.* comparison counts only the metrics logged against the datasets named.
    on_holdout = [{"dataset_name": "holdout", "dataset_digest": digest}]
    assert found(filter_string="metrics.acc > 0.5", datasets=on_holdout) == ["evaluated"]
    assert found(filter_string="metrics.acc > 0.92", datasets=on_holdout) == []
    assert found(filter_string="metrics.acc > 0.92") == ["plain"]
    assert found(datasets=[{"dataset_name": "never-seen"}, *on_holdout]) == ["evaluated"]
    if not IS_MLFLOW:
        # A name alone matches any digest, as MLflow documents; MLflow's server turns the
        # missing digest into "digest IS NULL" and so matches only metrics logged without one.
        assert found(datasets=[{"dataset_name": "holdout"}]) == ["evaluated"]


def test_search_logged_models_dataset_needs_a_name(base_url, experiment_id):
    r = requests.post(api_url(base_url, "logged-models/search"),
                      json={"experiment_ids": [experiment_id], "datasets": [{"dataset_digest": "abc"}]})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "dataset_name" in r.json()["message"]


def test_search_logged_models_order_by_metric_on_a_dataset(client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    ids = {n: client.create_logged_model(experiment_id, name=n, source_run_id=run_id).model_id for n in "abc"}

    def log(name, value, ts, step=0, dataset=None):
        digest = "d1" if dataset else None
        client.log_metric(run_id, "acc", value, timestamp=ts, step=step, model_id=ids[name],
                          dataset_name=dataset, dataset_digest=digest)

    log("a", 0.6, 1000, dataset="holdout")
    log("a", 0.99, 2000)  # a's newest acc, on no dataset
    log("b", 0.8, 1000, dataset="holdout")
    # c's newest value is the one with the newest timestamp, not the highest step.
    log("c", 0.1, 1000, step=5)
    log("c", 0.9, 2000, step=1)

    def order(**key):
        models = client.search_logged_models(
            [experiment_id], order_by=[{"field_name": "metrics.acc", "ascending": False, **key}])
        return [m.name for m in models]

    assert order() == ["a", "c", "b"]
    # Only values logged against holdout count; c has none, so it goes last.
    assert order(dataset_name="holdout") == ["b", "a", "c"]
    assert order(dataset_name="holdout", dataset_digest="d1") == ["b", "a", "c"]
