"""MLflow 3's GenAI evaluation against the server with the official client, unchanged: evaluation
datasets (create, merge records, read back, search, tags, experiments, delete), scorers
registered on an experiment (versions, list, get, delete), and mlflow.genai.evaluate over a
dataset with a code scorer, its results where the client looks for them: a run with the
scorer's metric, a trace per record linked to the run, each with the scorer's feedback and the
record's expectations. Bad input is refused whole; with --auth a dataset is its experiments'."""

from __future__ import annotations

import json

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.genai import datasets as genai_datasets
from mlflow.genai.scorers import delete_scorer, get_scorer, list_scorers, scorer
from mlflow.genai.scorers.registry import list_scorer_versions

from helpers import unique_name

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

V3 = "/api/3.0/mlflow"

RECORDS = [
    {"inputs": {"question": "What is 2+2?"}, "expectations": {"answer": "4"}},
    {"inputs": {"question": "What is the capital of France?"}, "expectations": {"answer": "Paris"}},
    {"inputs": {"question": "What colour is the sky?"}, "expectations": {"answer": "blue"}},
]


@scorer
def exact_match(outputs, expectations) -> bool:
    return outputs == expectations["answer"]


def answer(question: str) -> str:
    return {"What is 2+2?": "4", "What is the capital of France?": "Paris"}.get(question, "green")


@pytest.fixture
def genai_experiment(experiment_id, monkeypatch):
    # A code scorer comes back from the server as its source: the client runs it only when
    # told it may (as against MLflow's own server).
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "true")
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def test_dataset_records_round_trip(genai_experiment, client):
    name = unique_name("qa")
    ds = genai_datasets.create_dataset(name=name, experiment_id=genai_experiment, tags={"team": "search"})
    assert ds.dataset_id.startswith("d-") and ds.tags["team"] == "search"
    assert ds.experiment_ids == [genai_experiment]
    ds.merge_records(RECORDS[:2])
    # The same inputs again: the record is updated, its expectations merged, not added twice.
    ds.merge_records([{"inputs": {"question": "What is 2+2?"}, "expectations": {"topic": "math"}}, RECORDS[2]])

    got = genai_datasets.get_dataset(dataset_id=ds.dataset_id)
    df = got.to_df()
    assert len(df) == 3
    by_question = {r["question"]: e for r, e in zip(df["inputs"], df["expectations"])}
    assert by_question["What is 2+2?"] == {"answer": "4", "topic": "math"}
    assert set(df["source_type"]) == {"HUMAN"}
    assert json.loads(got.profile) == {"num_records": 3}
    assert json.loads(got.schema)["inputs"] == {"question": "string"}
    assert got.digest != ds.digest  # every merge changes it

    assert genai_datasets.get_dataset(name=name).dataset_id == ds.dataset_id
    found = genai_datasets.search_datasets(experiment_ids=[genai_experiment], filter_string="tags.team = 'search'")
    assert [d.dataset_id for d in found] == [ds.dataset_id]
    assert genai_datasets.search_datasets(filter_string=f"name LIKE '{name}%' AND tags.team = 'other'") == []

    genai_datasets.set_dataset_tags(dataset_id=ds.dataset_id, tags={"stage": "review"})
    genai_datasets.delete_dataset_tag(dataset_id=ds.dataset_id, key="team")
    tags = genai_datasets.get_dataset(dataset_id=ds.dataset_id).tags
    assert tags["stage"] == "review" and "team" not in tags

    other = client.create_experiment(unique_name("other"))
    moved = genai_datasets.add_dataset_to_experiments(ds.dataset_id, [other])
    assert sorted(moved.experiment_ids) == sorted([genai_experiment, other])
    assert genai_datasets.remove_dataset_from_experiments(ds.dataset_id, [other]).experiment_ids == [genai_experiment]

    genai_datasets.delete_dataset(dataset_id=ds.dataset_id)
    with pytest.raises(MlflowException, match="not found"):
        genai_datasets.get_dataset(dataset_id=ds.dataset_id)


@pytest.mark.mlship_only
def test_scorer_registration(genai_experiment):
    """A code scorer (@scorer) is registered: mlship stores scorers and never runs them, where
    MLflow's server refuses one unless MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS is set on it."""
    exact_match.register(name="exact")
    exact_match.register(name="exact")  # a second version
    names = [s.name for s in list_scorers()]
    assert names == ["exact"]
    assert [v for _, v in list_scorer_versions(name="exact")] == [1, 2]
    got = get_scorer(name="exact", version=1)
    assert got.name == "exact" and got(outputs="4", expectations={"answer": "4"}) is True
    delete_scorer(name="exact", version=1)
    assert [v for _, v in list_scorer_versions(name="exact")] == [2]
    delete_scorer(name="exact", version="all")
    assert list_scorers() == []
    with pytest.raises(MlflowException, match="not found"):
        get_scorer(name="exact")


def test_evaluate_over_a_dataset(genai_experiment, client):
    ds = genai_datasets.create_dataset(name=unique_name("eval"), experiment_id=genai_experiment)
    ds.merge_records(RECORDS)
    result = mlflow.genai.evaluate(data=ds, predict_fn=answer, scorers=[exact_match])

    assert result.metrics["exact_match/mean"] == pytest.approx(2 / 3)
    run = client.get_run(result.run_id)
    assert run.info.experiment_id == genai_experiment
    assert run.data.metrics["exact_match/mean"] == pytest.approx(2 / 3)

    traces = mlflow.search_traces(run_id=result.run_id, return_type="list")
    assert len(traces) == 3
    verdicts = {}
    for t in traces:
        root = t.data._get_root_span()
        feedback = {a.name: a.value for a in t.info.assessments if a.name == "exact_match"}
        expected = {a.name: a.value for a in t.info.assessments if a.name == "answer"}
        verdicts[root.inputs["question"]] = (root.outputs, feedback["exact_match"], expected["answer"])
    assert verdicts == {
        "What is 2+2?": ("4", True, "4"),
        "What is the capital of France?": ("Paris", True, "Paris"),
        "What colour is the sky?": ("green", False, "blue"),
    }


@pytest.mark.mlship_only
def test_bad_input_is_refused_whole(base_url, genai_experiment):
    """400 with MLflow's error shape where MLflow's server answers records that are not JSON
    with an HTML 500."""
    ds = genai_datasets.create_dataset(name=unique_name("bad"), experiment_id=genai_experiment)
    ds.merge_records(RECORDS[:1])
    records = f"{base_url}{V3}/datasets/{ds.dataset_id}/records"
    for body in (
        {"records": "not json"},
        {"records": json.dumps([{"inputs": {"a": 1}}, {"outputs": "no inputs"}])},
        {"records": json.dumps([{"inputs": {"b": 1}, "source": {"source_type": "ROBOT"}}])},
        {},
    ):
        r = requests.post(records, json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (body, r.text)
    assert len(genai_datasets.get_dataset(dataset_id=ds.dataset_id).to_df()) == 1  # nothing of them stored

    missing = requests.get(f"{base_url}{V3}/datasets/d-0123456789abcdef0123456789abcdef", timeout=30)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for path, body in (
        ("datasets/create", {"name": "x", "experiment_ids": ["987654321"]}),
        ("datasets/create", {"experiment_ids": [genai_experiment]}),
        ("datasets/create", {"name": "x", "tags": "[1, 2]"}),
        ("datasets/search", {"filter_string": "params.x = 'y'"}),
        ("scorers/register", {"experiment_id": genai_experiment, "name": "s", "serialized_scorer": "{not json"}),
    ):
        r = requests.post(f"{base_url}{V3}/{path}", json=body, timeout=30)
        assert r.status_code in (400, 404) and r.json()["error_code"] in (
            "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"), (path, body, r.text)
    page = requests.get(records, params={"page_token": "%%%"}, timeout=30)
    assert page.status_code == 400, page.text


# --------------------------------------------------------------------------------------------
# Permissions: a dataset is its experiments', a scorer its experiment's
# --------------------------------------------------------------------------------------------

ADMIN = ("admin", "admin-password-for-genai")


@pytest.fixture(scope="module")
def auth_server():
    import tempfile
    from pathlib import Path

    from conftest import Server

    srv = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-genai-auth-")),
                 ["--auth", "--default-permission", "NO_PERMISSIONS"], env={"MLSHIP_ADMIN_PASSWORD": ADMIN[1]})
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.mlship_only
def test_datasets_and_scorers_follow_their_experiment(auth_server, monkeypatch):
    srv = auth_server

    def call(method, path, cred, **kw):
        return requests.request(method, srv.url + V3 + "/" + path, auth=cred, timeout=30, **kw)

    users = {}
    for name in ("editor", "viewer", "stranger"):
        users[name] = (name, f"{name}-password-long")
        r = requests.post(srv.url + "/api/v1/users", auth=ADMIN, json={"name": name, "password": users[name][1]}, timeout=30)
        assert r.status_code == 201
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    admin = mlflow.MlflowClient(tracking_uri=srv.url)
    mine, theirs = admin.create_experiment("evaluated"), admin.create_experiment("not-yours")
    for name, level in (("editor", "EDIT"), ("viewer", "READ")):
        r = requests.post(srv.url + "/api/v1/permissions", auth=ADMIN, timeout=30,
                          json={"kind": "experiment", "object": mine, "user": name, "level": level})
        assert r.status_code == 200

    # The editor creates a dataset in its experiment, merges records and registers a scorer.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "editor")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", users["editor"][1])
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "true")
    mlflow.set_tracking_uri(srv.url)
    ds = genai_datasets.create_dataset(name="qa", experiment_id=mine)
    ds.merge_records(RECORDS[:1])
    exact_match.register(name="exact", experiment_id=mine)
    denied = call("POST", "datasets/create", users["editor"], json={"name": "x", "experiment_ids": [theirs]})
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert call("POST", "datasets/create", users["editor"], json={"name": "orphan"}).status_code == 403

    # The reader reads the dataset and the scorers, and changes neither.
    viewer, stranger = users["viewer"], users["stranger"]
    assert call("GET", f"datasets/{ds.dataset_id}", viewer).status_code == 200
    assert len(json.loads(call("GET", f"datasets/{ds.dataset_id}/records", viewer).json()["records"])) == 1
    assert [s["scorer_name"] for s in call("GET", "scorers/list", viewer, params={"experiment_id": mine}).json()["scorers"]] == ["exact"]
    for method, path, kw in (
        ("POST", f"datasets/{ds.dataset_id}/records", {"json": {"records": json.dumps(RECORDS[1:2])}}),
        ("DELETE", f"datasets/{ds.dataset_id}", {}),
        ("PATCH", f"datasets/{ds.dataset_id}/tags", {"json": {"tags": "{\"k\": \"v\"}"}}),
        ("POST", "scorers/register", {"json": {"experiment_id": mine, "name": "x", "serialized_scorer": "{}"}}),
        ("DELETE", "scorers/delete", {"json": {"experiment_id": mine, "name": "exact"}}),
    ):
        r = call(method, path, viewer, **kw)
        assert r.status_code == 403, (path, r.text)

    # Someone with no grant reads nothing, and searches find nothing.
    for path, params in ((f"datasets/{ds.dataset_id}", None), (f"datasets/{ds.dataset_id}/records", None),
                         ("scorers/list", {"experiment_id": mine}), ("scorers/get", {"experiment_id": mine, "name": "exact"})):
        assert call("GET", path, stranger, params=params).status_code == 403, path
    assert call("POST", "datasets/search", stranger, json={}).json().get("datasets", []) == []
    assert [d["dataset_id"] for d in call("POST", "datasets/search", viewer, json={}).json()["datasets"]] == [ds.dataset_id]
