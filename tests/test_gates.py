"""Benchmark gates: a registered model's protected alias moves only to a version that
passed its benchmark, through every route, with overrides kept in an audit trail. Gates on
the other runtimes, and an evaluation that survives kill -9, are in test_gates_runtimes.py."""

from __future__ import annotations

import json

import mlflow
import pytest
import requests
from gates_common import EXIT_GATE_FAILED, evaluate
from helpers import mlship, pinned, unique_name
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

pytestmark = pytest.mark.mlship_only


@pytest.fixture(scope="module")
def wine_split():
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    frame = load_wine(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.4, random_state=7, stratify=frame["target"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def log_version(model, X, name):
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=name, signature=infer_signature(X, model.predict(X)),
                                 skops_trusted_types=["sklearn.tree._tree.Tree"])



@pytest.fixture(scope="module")
def gated(server, wine_split, tmp_path_factory):
    """A wine classifier with three versions (a fair tree, a better forest, a dummy) and
    a benchmark on the held-out rows."""
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    mlflow.set_tracking_uri(server.url)
    train, test = wine_split
    X, y = train.drop(columns="target"), train["target"]
    name = unique_name("wine-gated")
    models = [
        DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y),
        RandomForestClassifier(n_estimators=60, random_state=0).fit(X, y),
        DummyClassifier(strategy="most_frequent").fit(X, y),
    ]
    for m in models:
        log_version(m, X, name)
    data = unique_name("wine-holdout")
    path = tmp_path_factory.mktemp("gates") / "holdout.csv"
    test.to_csv(path, index=False)
    mlship(server, "data", "add", data, str(path))
    b = json.loads(
        mlship(
            server, "gate", "set", name, "--dataset", f"{data}/1", "--target", "target", "--task", "classification",
            "--threshold", "accuracy_score>=0.5", "--min-absolute-change", "f1_score=0", "--no-baseline", "skip", "-o", "json",
        ).stdout
    )
    assert b["definition"]["spec"]["classes"] == ["0", "1", "2"]
    assert b["definition"]["protected_aliases"] == ["production"]
    return {"name": name, "models": models, "test": test, "benchmark": b}


def test_promotion_through_the_gate(server, gated):
    from mlflow import MlflowClient

    client = MlflowClient(server.url)
    name = gated["name"]

    # v1: nothing holds production, so only the fixed threshold applies.
    code, e1 = evaluate(server, f"{name}/1")
    assert code == 0 and e1["status"] == "succeeded" and e1["passed"] is True, e1
    assert e1["rows_done"] == e1["rows_total"] == len(gated["test"])
    assert e1["runtime"] == "python" and "baseline_version" not in e1
    client.set_registered_model_alias(name, "production", "1")

    # v2 beats v1 and takes the alias through the MLflow client.
    code, e2 = evaluate(server, f"{name}/2")
    assert code == 0 and e2["passed"] is True and e2["baseline_version"] == "1", e2
    assert e2["result"]["metrics"]["f1_score"] >= e1["result"]["metrics"]["f1_score"]
    client.set_registered_model_alias(name, "production", "2")
    v2 = client.get_model_version_by_alias(name, "production")
    assert v2.version == "2"
    assert v2.tags["mlship.gate.production"] == "passed"
    assert v2.tags["mlship.gate.production.evaluation_id"] == str(e2["id"])

    # v3 is worse: evaluated, failed, and refused on every route.
    code, e3 = evaluate(server, f"{name}/3")
    assert code == EXIT_GATE_FAILED and e3["passed"] is False and e3["baseline_version"] == "2", e3
    failed = {r["metric"] for r in e3["verdict"]["results"] if not r["passed"]}
    assert failed == {"accuracy_score", "f1_score"}, e3["verdict"]
    with pytest.raises(MlflowException) as refused:
        client.set_registered_model_alias(name, "production", "3")
    message = str(refused.value)
    assert "accuracy_score" in message and "0.5" in message and "f1_score" in message, message
    assert "production" in message and "--override" in message
    cli = mlship(server, "models", "alias", name, "production", "3", check=False)
    assert cli.returncode == 1 and "accuracy_score" in cli.stderr
    api = requests.put(f"{server.url}/api/v1/models/{name}/aliases/production", json={"version": "3"}, timeout=30)
    assert api.status_code == 409 and api.json()["error_code"] == "RESOURCE_CONFLICT"
    assert client.get_model_version_by_alias(name, "production").version == "2"

    # An unprotected alias moves freely, and the command line says what it did.
    moved = mlship(server, "models", "alias", name, "challenger", "3")
    assert moved.stdout.strip() == f"{name}@challenger -> version 3"
    assert client.get_model_version_by_alias(name, "challenger").version == "3"
    gone = json.loads(mlship(server, "models", "alias", name, "challenger", "--delete", "-o", "json").stdout)
    assert gone == {"name": name, "alias": "challenger", "deleted": True}
    client.set_registered_model_alias(name, "challenger", "3")

    # An override with a reason succeeds and is audited.
    over = mlship(server, "models", "alias", name, "production", "3", "--override", "incident 42: roll forward")
    assert over.stdout.strip() == f"{name}@production -> version 3 (override: incident 42: roll forward)"
    assert client.get_model_version_by_alias(name, "production").version == "3"
    audit = json.loads(mlship(server, "gate", "audit", name, "-o", "json").stdout)["entries"]
    assert [(a["action"], a.get("previous"), a["version"]) for a in audit] == [
        ("override", "2", "3"), ("passed", "1", "2"), ("passed", None, "1")]
    assert audit[0]["reason"] == "incident 42: roll forward"
    assert requests.get(f"{server.url}/api/v1/models/no-such-model/alias-audit", timeout=30).status_code == 404
    assert audit[1]["evaluation_id"] == e2["id"] and audit[2]["evaluation_id"] == e1["id"]

    # Re-running v1's evaluation gives the same numbers, and the history shows them all.
    code, again = evaluate(server, f"{name}/1")
    assert again["result"] == e1["result"] and again["id"] != e1["id"]
    history = json.loads(mlship(server, "gate", "history", name, "-o", "json").stdout)["evaluations"]
    assert [e["version"] for e in history][:4] == ["1", "3", "2", "1"]
    table = mlship(server, "gate", "history", name).stdout
    assert "F1_SCORE" in table and "passed" in table and "failed" in table
    board = json.loads(mlship(server, "gate", "history", name, "--rank", "f1_score", "-o", "json").stdout)["evaluations"]
    assert [e["version"] for e in board] == ["2", "1", "3"]
    assert board[1]["id"] == again["id"]
    assert mlship(server, "gate", "history", name, "--rank", "f1", check=False).returncode == 2


def test_metrics_equal_scikit_learn_and_are_logged_to_mlflow(server, gated):
    from sklearn import metrics

    name = gated["name"]
    code, e = evaluate(server, f"{name}/2")
    test = gated["test"]
    X, y = test.drop(columns="target"), test["target"]
    model = gated["models"][1]
    pred, proba = model.predict(X), model.predict_proba(X)
    want = {
        "accuracy_score": metrics.accuracy_score(y, pred),
        "precision_score": metrics.precision_score(y, pred, average="weighted"),
        "recall_score": metrics.recall_score(y, pred, average="weighted"),
        "f1_score": metrics.f1_score(y, pred, average="weighted"),
        "roc_auc": metrics.roc_auc_score(y, proba, multi_class="ovr", average="weighted"),
        "log_loss": metrics.log_loss(y, proba, labels=[0, 1, 2]),
        "example_count": len(y),
    }
    got = e["result"]["metrics"]
    for k, v in want.items():
        assert abs(got[k] - v) <= 1e-9, (k, got[k], v)
    run = mlflow.MlflowClient(server.url).get_run(e["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["version"] == "2" and run.data.params["runtime"] == "python"
    assert run.data.params["dataset_digest"] == gated["benchmark"]["definition"]["dataset_digest"]
    # The run's dataset input carries the digest the dataset version is known by in MLflow,
    # so the two can be matched (mlflow.log_input of the same file gives the same digest).
    data_name, data_version = gated["benchmark"]["definition"]["dataset"].split("/")
    dv = requests.get(f"{server.url}/api/v1/datasets/{data_name}/versions/{data_version}", timeout=30).json()
    [logged] = run.inputs.dataset_inputs
    assert logged.dataset.digest == dv["mlflow_digest"]
    for k in want:
        assert run.data.metrics[k] == got[k]
    exp = mlflow.MlflowClient(server.url).get_experiment(run.info.experiment_id)
    assert exp.name == f"mlship-gates/{name}"


def test_gate_input_errors(server, gated, wine_split):
    name, data = gated["name"], gated["benchmark"]["definition"]["dataset"]
    url = f"{server.url}/api/v1/models/{name}/benchmark"

    def put(body):
        return requests.put(url, json=body, timeout=30)

    base = {"dataset": data, "target": "target", "spec": {"task": "classification"}}
    r = put({**base, "dataset": data.split("/")[0]})
    assert r.status_code == 400 and "pin a version" in r.json()["message"]
    r = put({**base, "target": "no_such_column"})
    assert r.status_code == 400 and "no_such_column" in r.json()["message"]
    r = put({**base, "gate": {"thresholds": {"f1": {"threshold": 0.5, "greater_is_better": True}}}})
    assert r.status_code == 400 and "f1_score" in r.json()["message"]
    r = put({**base, "gate": {"thresholds": {"accuracy_score": {"threshold": 0.5}}}})
    assert r.status_code == 400
    r = put({**base, "spec": {"task": "clustering"}})
    assert r.status_code == 400
    r = requests.post(f"{server.url}/api/v1/models/{name}/versions/99/evaluations", json={}, timeout=30)
    assert r.status_code == 404
    r = requests.post(f"{server.url}/api/v1/models/{name}/versions/1/evaluations", json={"alias": "staging"}, timeout=30)
    assert r.status_code == 400 and "not protected" in r.json()["message"]
    r = requests.get(f"{server.url}/api/v1/evaluations/abc", timeout=30)
    assert r.status_code == 400
    other = unique_name("ungated")
    mlflow.MlflowClient(server.url).create_registered_model(other)
    p = mlship(server, "gate", "evaluate", f"{other}/1", check=False)
    assert p.returncode == 3 and "mlship gate set" in p.stderr
    p = mlship(server, "gate", "set", name, "--dataset", data, "--target", "target", "--task", "classification",
               "--threshold", "log_loss>=0.5", check=False)
    assert p.returncode == 2 and "<=" in p.stderr
    # The name an MLflow user writes for a metric is told the name mlship computes it by.
    p = mlship(server, "gate", "set", name, "--dataset", data, "--target", "target", "--task", "classification",
               "--threshold", "accuracy>=0.9", check=False)
    assert p.returncode == 2 and "did you mean accuracy_score?" in p.stderr, p.stderr
    # The benchmark in force was never replaced by a refused one.
    b = requests.get(url, timeout=30).json()
    assert b["revision"] == gated["benchmark"]["revision"]


def test_audit_trail_outlives_its_model(server, gated, wine_split):
    from sklearn.dummy import DummyClassifier

    train, _ = wine_split
    X, y = train.drop(columns="target"), train["target"]
    name = unique_name("short-lived")
    log_version(DummyClassifier(strategy="most_frequent").fit(X, y), X, name)
    data = gated["benchmark"]["definition"]["dataset"]
    mlship(server, "gate", "set", name, "--dataset", data, "--target", "target", "--task", "classification",
           "--threshold", "accuracy_score>=0.9")
    mlship(server, "models", "alias", name, "production", "1", "--override", "demo before retirement")
    mlflow.MlflowClient(server.url).delete_registered_model(name)
    audit = json.loads(mlship(server, "gate", "audit", name, "-o", "json").stdout)["entries"]
    assert [(a["action"], a["version"], a["reason"]) for a in audit] == [("override", "1", "demo before retirement")]
