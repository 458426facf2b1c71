"""Model registry through the public API: a scikit-learn model logged, registered, aliased and
loaded back in a fresh process; registered models, versions, stages, tags and aliases through
MlflowClient; concurrent version creation; and model version sources that must be refused.

Sources of the form mlflow-artifacts:/... are registered together with the run that holds them:
MLflow 3.17 refuses such a source without a run_id whose artifact root contains it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid

import mlflow
import numpy as np
import pytest
import requests
from helpers import IS_MLFLOW, api_url, assert_mlflow_error, pinned, unique_name
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

mlship_only = pytest.mark.mlship_only


def _client_error(fn, *args, **kwargs) -> MlflowException:
    with pytest.raises(MlflowException) as ei:
        fn(*args, **kwargs)
    return ei.value


@pytest.fixture
def run_source(client, experiment_id):
    """(run id, a model source inside that run's artifact root)."""
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    return run.info.run_id, f"{run.info.artifact_uri}/model"


@pytest.fixture
def model_name(client):
    name = unique_name("reg")
    client.create_registered_model(name)
    return name


# --------------------------------------------------------------------------------------------
# scikit-learn end to end
# --------------------------------------------------------------------------------------------

# Runs in a fresh interpreter: nothing cached in this process (the fluent API's state, the
# downloaded artifacts, the imported model) can make the loads pass.
_LOADER = textwrap.dedent(
    """
    import json, sys
    import mlflow, mlflow.pyfunc, mlflow.sklearn
    import numpy as np

    name, x_path, out_path = sys.argv[1:4]
    X = np.load(x_path)
    out = {}
    for ref in ("@champion", "/1", "/latest"):
        model = mlflow.pyfunc.load_model(f"models:/{name}{ref}")
        out[ref] = {"predict": np.asarray(model.predict(X)).tolist(), "model_id": model.model_id}
    sk = mlflow.sklearn.load_model(f"models:/{name}@champion")
    out["proba"] = sk.predict_proba(X).tolist()
    with open(out_path, "w") as f:
        json.dump(out, f)
    """
)


def test_sklearn_register_alias_and_load_in_fresh_process(server, client, experiment_id, tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    expected = model.predict(X)
    assert len(set(expected.tolist())) == 3  # a real classifier, not a constant

    name = unique_name("iris")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=name, input_example=X[:3])
    assert str(info.registered_model_version) == "1"

    mv = client.get_model_version(name, "1")
    assert mv.run_id == run.info.run_id
    assert mv.source == f"models:/{info.model_id}"
    assert mv.status == "READY"
    logged = client.get_logged_model(info.model_id)
    download_uri = client.get_model_version_download_uri(name, "1")
    if IS_MLFLOW:
        assert download_uri == logged.artifact_location
    else:  # the copy taken at registration, which later writes to the logged model never change
        assert download_uri.startswith("mlflow-artifacts:/_model-versions/sha256/"), download_uri

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_registered_model(name).aliases == {"champion": "1"}

    x_path, out_path = tmp_path / "X.npy", tmp_path / "out.json"
    np.save(x_path, X)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        MLFLOW_TRACKING_URI=server.url,
        MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true",  # mlflow.sklearn refuses to load without it
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER, name, str(x_path), str(out_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = json.loads(out_path.read_text())
    for ref in ("@champion", "/1", "/latest"):
        assert out[ref]["predict"] == expected.tolist(), ref
        assert out[ref]["model_id"] == info.model_id, ref
    assert np.array_equal(np.array(out["proba"]), model.predict_proba(X))


# --------------------------------------------------------------------------------------------
# Registered models
# --------------------------------------------------------------------------------------------


def test_every_registration_path_links_the_version_to_its_logged_model(client, experiment_id):
    """Three ways to register a logged model; each version leads back to it the ways MLflow 3.17
    offers: its MLmodel's model_id, its source, and the logged model's mlflow.modelVersions tag.
    ModelVersion.model_id stays None through MLflow's open-source client, whatever the server:
    its ModelVersion.from_proto does not read the field (only Unity Catalog's store fills it)."""
    import json

    from sklearn.linear_model import LogisticRegression

    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1]
    by_logging, by_run_uri, by_location = unique_name("logged"), unique_name("runs"), unique_name("loc")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        first = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", pip_requirements=pinned("scikit-learn", "skops"), registered_model_name=by_logging)
    mlflow.register_model(f"runs:/{run.info.run_id}/model", by_run_uri)
    logged = client.get_logged_model(first.model_id)
    client.create_registered_model(by_location)
    # MLflow refuses a logged model's artifact location as a source unless model_id names it.
    client.create_model_version(by_location, source=logged.artifact_location, run_id=run.info.run_id,
                                model_id=first.model_id)
    registered = json.loads(client.get_logged_model(first.model_id).tags["mlflow.modelVersions"])
    for name in (by_logging, by_run_uri, by_location):
        mv = client.get_model_version(name, "1")
        assert mv.run_id == run.info.run_id, name
        assert mv.model_id is None, name  # the client never fills it from the wire
        assert mlflow.models.get_model_info(f"models:/{name}/1").model_id == first.model_id, name
        assert {"name": name, "version": "1"} in registered, (name, registered)
    assert client.get_model_version(by_run_uri, "1").source == f"models:/{first.model_id}"


def test_registered_model_create_get_update_rename_delete(base_url, client, run_source):
    run_id, src = run_source
    name = unique_name("crud")
    rm = client.create_registered_model(name, tags={"team": "fraud"}, description="finds fraud")
    assert rm.name == name and rm.tags == {"team": "fraud"} and rm.description == "finds fraud"
    assert rm.creation_timestamp > 0 and rm.last_updated_timestamp >= rm.creation_timestamp

    err = _client_error(client.create_registered_model, name)
    assert err.error_code == "RESOURCE_ALREADY_EXISTS"
    r = requests.post(api_url(base_url, "registered-models/create"), json={"name": name})
    assert_mlflow_error(r, 400, "RESOURCE_ALREADY_EXISTS")

    client.update_registered_model(name, description="updated")
    got = client.get_registered_model(name)
    assert got.description == "updated" and got.tags == {"team": "fraud"}

    client.create_model_version(name, src, run_id=run_id)
    client.set_registered_model_alias(name, "prod", "1")

    other = unique_name("crud-other")
    client.create_registered_model(other)
    err = _client_error(client.rename_registered_model, name, other)
    assert err.error_code == "RESOURCE_ALREADY_EXISTS"

    mid = unique_name("crud-mid")
    r = requests.post(api_url(base_url, "registered-models/rename"), json={"name": name, "new_name": mid})
    assert r.status_code == 200, r.text
    assert r.json()["registered_model"]["name"] == mid
    err = _client_error(client.get_registered_model, name)
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    new = unique_name("crud-renamed")
    client.rename_registered_model(mid, new)  # the 3.17 client returns None here, not the model
    err = _client_error(client.get_registered_model, mid)
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    renamed = client.get_registered_model(new)
    assert renamed.description == "updated" and renamed.tags == {"team": "fraud"}
    assert renamed.aliases == {"prod": "1"}
    assert [v.version for v in renamed.latest_versions] == ["1"]
    mv = client.get_model_version(new, "1")
    assert mv.name == new and mv.source == src
    assert client.get_model_version_by_alias(new, "prod").version == "1"

    r = requests.get(api_url(base_url, "registered-models/get"), params={"name": new})
    assert r.status_code == 200, r.text
    body = r.json()["registered_model"]
    assert body["name"] == new and body["description"] == "updated"
    assert body["aliases"] == [{"alias": "prod", "version": "1"}]

    client.delete_registered_model(new)
    err = _client_error(client.get_registered_model, new)
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    r = requests.get(api_url(base_url, "model-versions/get"), params={"name": new, "version": "1"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    err = _client_error(client.delete_registered_model, new)
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_registered_model_tags_and_owner_contact(client):
    name = unique_name("owned")
    client.create_registered_model(name, tags={"mlship.owner": "risk-team", "mlship.contact": "#risk-oncall"})
    assert client.get_registered_model(name).tags == {"mlship.owner": "risk-team", "mlship.contact": "#risk-oncall"}

    client.set_registered_model_tag(name, "mlship.owner", "fraud-team")
    client.set_registered_model_tag(name, "mlship.contact", "fraud@example.com")
    client.set_registered_model_tag(name, "k", "v")
    assert client.get_registered_model(name).tags == {
        "mlship.owner": "fraud-team",
        "mlship.contact": "fraud@example.com",
        "k": "v",
    }
    found = client.search_registered_models(filter_string="tags.`mlship.owner` = 'fraud-team'")
    assert name in [m.name for m in found]
    found = client.search_registered_models(
        filter_string=f"name = '{name}' AND tags.`mlship.contact` LIKE 'fraud@%'"
    )
    assert [m.name for m in found] == [name]

    client.delete_registered_model_tag(name, "k")
    client.delete_registered_model_tag(name, "mlship.contact")
    assert client.get_registered_model(name).tags == {"mlship.owner": "fraud-team"}
    err = _client_error(client.set_registered_model_tag, unique_name("missing"), "k", "v")
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_registered_models_filters_and_pagination(client):
    prefix = f"srch-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}-{i}" for i in range(5)]
    for i, n in enumerate(names):
        client.create_registered_model(n, tags={"parity": "even" if i % 2 == 0 else "odd"})

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == names  # default order: name ascending
    found = client.search_registered_models(filter_string=f"name ILIKE '{prefix.upper()}-%'")
    assert [m.name for m in found] == names
    found = client.search_registered_models(filter_string=f"name = '{names[3]}'")
    assert [m.name for m in found] == [names[3]]
    found = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}%' AND tags.parity = 'odd'", order_by=["name DESC"]
    )
    assert [m.name for m in found] == [names[3], names[1]]
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}%' AND tags.parity != 'odd'")
    assert [m.name for m in found] == [names[0], names[2], names[4]]

    seen, token = [], None
    for _ in range(5):
        page = client.search_registered_models(
            filter_string=f"name LIKE '{prefix}%'", max_results=2, page_token=token
        )
        assert len(page) <= 2
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == names

    err = _client_error(client.search_registered_models, filter_string="name LIKE")
    assert err.error_code == "INVALID_PARAMETER_VALUE"


# --------------------------------------------------------------------------------------------
# Model versions
# --------------------------------------------------------------------------------------------


def test_model_version_create_get_update_delete(base_url, client, model_name, run_source):
    run_id, src = run_source
    v1 = client.create_model_version(model_name, src, run_id=run_id)
    v2 = client.create_model_version(model_name, src, run_id=run_id, tags={"quality": "good"}, description="second")
    assert (v1.version, v2.version) == ("1", "2")
    assert v1.status == "READY" and v1.current_stage == "None" and v1.run_id == run_id and v1.source == src
    assert v2.tags == {"quality": "good"} and v2.description == "second"

    got = client.get_model_version(model_name, "2")
    assert (got.name, got.version, got.source, got.run_id) == (model_name, "2", src, run_id)
    assert got.tags == {"quality": "good"}

    client.update_model_version(model_name, "2", description="better")
    assert client.get_model_version(model_name, "2").description == "better"

    client.set_model_version_tag(model_name, "1", "validated", "yes")
    client.set_model_version_tag(model_name, "1", "k", "v")
    client.delete_model_version_tag(model_name, "1", "k")
    assert client.get_model_version(model_name, "1").tags == {"validated": "yes"}

    assert client.get_model_version_download_uri(model_name, "1") == src
    r = requests.get(
        api_url(base_url, "model-versions/get-download-uri"), params={"name": model_name, "version": "2"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"artifact_uri": src}

    client.delete_model_version(model_name, "1")
    err = _client_error(client.get_model_version, model_name, "1")
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    # Version numbers are never reused.
    assert client.create_model_version(model_name, src, run_id=run_id).version == "3"
    assert sorted(v.version for v in client.search_model_versions(f"name = '{model_name}'")) == ["2", "3"]

    r = requests.get(api_url(base_url, "model-versions/get"), params={"name": model_name, "version": "99"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    err = _client_error(client.create_model_version, unique_name("missing"), src, run_id=run_id)
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_model_versions(client, run_source, experiment_id):
    run_id, src = run_source
    other_run = client.create_run(experiment_id)
    other_src = f"{other_run.info.artifact_uri}/model"
    a, b = unique_name("mva"), unique_name("mvb")
    client.create_registered_model(a)
    client.create_registered_model(b)
    client.create_model_version(a, src, run_id=run_id)
    client.create_model_version(a, other_src, run_id=other_run.info.run_id, tags={"k": "x"})
    client.create_model_version(a, src, run_id=run_id, tags={"k": "y"})
    client.create_model_version(b, src, run_id=run_id)

    found = client.search_model_versions(f"name = '{a}'")
    assert sorted(v.version for v in found) == ["1", "2", "3"]
    assert {v.name for v in found} == {a}
    found = client.search_model_versions(f"name = '{a}'", order_by=["version_number ASC"])
    assert [v.version for v in found] == ["1", "2", "3"]
    found = client.search_model_versions(f"run_id = '{other_run.info.run_id}'")
    assert [(v.name, v.version) for v in found] == [(a, "2")]
    found = client.search_model_versions(f"name = '{a}' AND tags.k = 'y'")
    assert [v.version for v in found] == ["3"]
    found = client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted((v.name, v.version) for v in found) == [(a, "1"), (a, "3"), (b, "1")]

    page = client.search_model_versions(f"name = '{a}'", max_results=2, order_by=["version_number DESC"])
    assert [v.version for v in page] == ["3", "2"] and page.token
    rest = client.search_model_versions(
        f"name = '{a}'", max_results=2, order_by=["version_number DESC"], page_token=page.token
    )
    assert [v.version for v in rest] == ["1"] and not rest.token


@pytest.mark.filterwarnings("ignore:.*stages will be removed:FutureWarning")
def test_stage_transitions_and_latest_versions(client, model_name, run_source):
    run_id, src = run_source
    for _ in range(3):
        client.create_model_version(model_name, src, run_id=run_id)

    t = client.transition_model_version_stage(model_name, "1", "production")
    assert t.current_stage == "Production"  # stage names are case-insensitive, stored canonical
    client.transition_model_version_stage(model_name, "2", "Staging")
    t = client.transition_model_version_stage(model_name, "3", "Production", archive_existing_versions=True)
    assert t.current_stage == "Production"
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name = '{model_name}'")}
    assert stages == {"1": "Archived", "2": "Staging", "3": "Production"}

    assert [v.version for v in client.get_latest_versions(model_name, stages=["Production"])] == ["3"]
    assert [v.version for v in client.get_latest_versions(model_name, stages=["staging"])] == ["2"]
    latest = client.get_latest_versions(model_name)
    assert sorted((v.version, v.current_stage) for v in latest) == [
        ("1", "Archived"),
        ("2", "Staging"),
        ("3", "Production"),
    ]
    assert [v.version for v in client.get_latest_versions(model_name, stages=["None"])] == []

    # Without archive_existing_versions, other versions keep their stage.
    client.transition_model_version_stage(model_name, "2", "Production")
    assert client.get_model_version(model_name, "3").current_stage == "Production"
    assert [v.version for v in client.get_latest_versions(model_name, stages=["Production"])] == ["3"]

    err = _client_error(client.transition_model_version_stage, model_name, "1", "Shipped")
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    err = _client_error(client.transition_model_version_stage, model_name, "9", "Staging")
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"


# --------------------------------------------------------------------------------------------
# Aliases
# --------------------------------------------------------------------------------------------


def test_aliases_set_get_move_delete(base_url, client, model_name, run_source):
    run_id, src = run_source
    for _ in range(3):
        client.create_model_version(model_name, src, run_id=run_id)

    client.set_registered_model_alias(model_name, "champion", "1")
    client.set_registered_model_alias(model_name, "challenger", "2")
    mv = client.get_model_version_by_alias(model_name, "champion")
    assert (mv.version, mv.aliases) == ("1", ["champion"])
    assert client.get_registered_model(model_name).aliases == {"champion": "1", "challenger": "2"}
    assert client.get_model_version(model_name, "2").aliases == ["challenger"]

    # "latest" resolves to the highest version without being an alias.
    assert client.get_model_version_by_alias(model_name, "latest").version == "3"

    # Setting an existing alias moves it.
    client.set_registered_model_alias(model_name, "champion", "3")
    assert client.get_model_version_by_alias(model_name, "champion").version == "3"
    assert client.get_model_version(model_name, "1").aliases == []

    r = requests.get(
        api_url(base_url, "registered-models/alias"), params={"name": model_name, "alias": "challenger"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["model_version"]["version"] == "2"

    client.delete_registered_model_alias(model_name, "challenger")
    err = _client_error(client.get_model_version_by_alias, model_name, "challenger")
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_registered_model(model_name).aliases == {"champion": "3"}

    # Deleting a version drops its aliases.
    client.delete_model_version(model_name, "3")
    assert client.get_registered_model(model_name).aliases == {}
    assert client.get_model_version_by_alias(model_name, "latest").version == "2"


def test_unknown_and_reserved_aliases(base_url, client, model_name, run_source):
    run_id, src = run_source
    client.create_model_version(model_name, src, run_id=run_id)

    err = _client_error(client.get_model_version_by_alias, model_name, "nobody")
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    r = requests.get(api_url(base_url, "registered-models/alias"), params={"name": model_name, "alias": "nobody"})
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")

    for reserved in ["latest", "LATEST", "v1", "V7"]:
        err = _client_error(client.set_registered_model_alias, model_name, reserved, "1")
        assert err.error_code == "INVALID_PARAMETER_VALUE", reserved
        r = requests.post(
            api_url(base_url, "registered-models/alias"),
            json={"name": model_name, "alias": reserved, "version": "1"},
        )
        assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    for bad in ["has space", "a/b", "a.b"]:
        err = _client_error(client.set_registered_model_alias, model_name, bad, "1")
        assert err.error_code == "INVALID_PARAMETER_VALUE", bad
    assert client.get_registered_model(model_name).aliases == {}

    err = _client_error(client.set_registered_model_alias, model_name, "champion", "5")
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
    err = _client_error(client.set_registered_model_alias, unique_name("missing"), "champion", "1")
    assert err.error_code == "RESOURCE_DOES_NOT_EXIST"


# --------------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------------


def test_concurrent_version_creation_gets_distinct_numbers(base_url, client, model_name, run_source):
    run_id, src = run_source
    n = 20
    barrier = threading.Barrier(n)
    results: list[str | BaseException] = [None] * n

    def worker(i):
        own = MlflowClient(tracking_uri=base_url)
        barrier.wait(timeout=60)
        try:
            mv = own.create_model_version(model_name, src, run_id=run_id, tags={"worker": str(i)})
            results[i] = mv.version
        except BaseException as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in results if not isinstance(r, str)]
    assert not errors, errors
    assert sorted(int(v) for v in results) == list(range(1, n + 1))

    stored = client.search_model_versions(f"name = '{model_name}'", max_results=100)
    assert sorted(int(v.version) for v in stored) == list(range(1, n + 1))
    # Each worker's tag landed on the version that worker was given.
    assert {v.version: v.tags["worker"] for v in stored} == {v: str(i) for i, v in enumerate(results)}
    assert client.get_model_version_by_alias(model_name, "latest").version == str(n)


# --------------------------------------------------------------------------------------------
# Sources that must be refused
# --------------------------------------------------------------------------------------------

MALICIOUS_SOURCES = [
    "file:///etc/",
    "file://./etc",
    "//proc/self/root",
    "/etc/passwd",
    "mlflow-artifacts:/1/%2e%2e/%2e%2e/etc",
    "mlflow-artifacts:/1/%252e%252e/x",
    "http:///?/../../etc/",
    "http:///#/../../etc/",
    "mlflow-artifacts:/a#/../..",
    "http://attacker/api/2.0/mlflow-artifacts/artifacts/x",
]


def _assert_no_versions(base_url, client, name):
    assert client.search_model_versions(f"name = '{name}'") == []
    assert client.get_registered_model(name).latest_versions == []
    r = requests.get(api_url(base_url, "model-versions/get"), params={"name": name, "version": "1"})
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("source", MALICIOUS_SOURCES)
@pytest.mark.parametrize("with_run", [False, True], ids=["no-run", "with-run"])
def test_malicious_source_refused(base_url, client, model_name, run_source, source, with_run):
    run_id, _ = run_source
    body = {"name": model_name, "source": source}
    if with_run:
        body["run_id"] = run_id
    r = requests.post(api_url(base_url, "model-versions/create"), json=body)
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    err = _client_error(client.create_model_version, model_name, source, run_id=run_id if with_run else None)
    assert err.error_code == "INVALID_PARAMETER_VALUE"
    _assert_no_versions(base_url, client, model_name)


def _canary_sources(server, name):
    """Sources aimed at a canary file beside the data dir, plain and encoded."""
    target = server.base_dir / name
    up = "../" * 8
    return [
        f"file://{target}",
        str(target),
        f"file://{server.data_dir}/{up}{target.relative_to('/')}",
        f"mlflow-artifacts:/{up}{name}",
        f"mlflow-artifacts:/0/{'%2e%2e%2f' * 8}{name}",
        f"mlflow-artifacts:/0/{'%252e%252e%252f' * 8}{name}",
        f"mlflow-artifacts:/0/x%23/{up}{name}",
    ]


def test_sources_aimed_at_a_canary_are_refused_and_nothing_is_read(server, base_url, client, model_name, run_source):
    run_id, _ = run_source
    name = f"canary-{uuid.uuid4().hex}.txt"
    secret = f"secret {uuid.uuid4().hex}"
    canary = server.base_dir / name
    canary.write_text(secret)
    try:
        for source in _canary_sources(server, name):
            for rid in (None, run_id):
                body = {"name": model_name, "source": source, **({"run_id": rid} if rid else {})}
                r = requests.post(api_url(base_url, "model-versions/create"), json=body)
                assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
                assert secret not in r.text, source
        _assert_no_versions(base_url, client, model_name)
        # There is no version, so there is nothing a client could download from the canary.
        err = _client_error(mlflow.artifacts.download_artifacts, f"models:/{model_name}/1")
        assert err.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert secret not in server.log_tail(10**6)
        assert canary.read_text() == secret
    finally:
        canary.unlink(missing_ok=True)


# MLflow 3.17 accepts each of these when the run_id names the run whose artifact root the
# source starts with (it stores the query, parameters, fragment or backslash as given), and it
# accepts any object-store scheme. mlship refuses URI queries, parameters, fragments and
# backslashes at every level of percent-decoding, and schemes other than mlflow-artifacts,
# runs and models unless the server is configured to allow them.
@mlship_only
@pytest.mark.parametrize(
    "suffix_or_source",
    ["/model?x=1", "/model;p=1", "/model#frag", "/a%5Cb", "/a%253Fb", "s3://bucket/model", "dbfs:/x"],
)
def test_sources_mlship_refuses_more_strictly(base_url, client, model_name, run_source, suffix_or_source):
    run_id, src = run_source
    root = src.rsplit("/", 1)[0]
    source = root + suffix_or_source if suffix_or_source.startswith("/") else suffix_or_source
    r = requests.post(
        api_url(base_url, "model-versions/create"), json={"name": model_name, "source": source, "run_id": run_id}
    )
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
    _assert_no_versions(base_url, client, model_name)


@mlship_only
def test_registered_version_is_immutable_through_every_mlflow_read_path(server, client, model_name, tmp_path):
    """A version is read from the copy taken when it was registered: writing the run's
    artifacts again afterwards changes what runs:/ gives, never what models:/ gives."""
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2)
    first = LinearRegression().fit(X, X @ [1.0, 2.0])
    second = LinearRegression().fit(X, X @ [-3.0, 5.0])
    mlflow.set_tracking_uri(server.url)
    for i, model in enumerate((first, second)):
        mlflow.sklearn.save_model(model, tmp_path / f"m{i}", pip_requirements=pinned("scikit-learn", "skops"))
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "m0"), "model")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name).version
    client.log_artifacts(run.info.run_id, str(tmp_path / "m1"), "model")  # overwrites the model file

    want, overwritten = first.predict(X), second.predict(X)
    assert np.allclose(mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model").predict(X), overwritten)
    assert np.allclose(mlflow.pyfunc.load_model(f"models:/{model_name}/{version}").predict(X), want)
    client.set_registered_model_alias(model_name, "champion", version)
    assert np.allclose(mlflow.sklearn.load_model(f"models:/{model_name}@champion").predict(X), want)

    uri = client.get_model_version_download_uri(model_name, version)
    assert uri.startswith("mlflow-artifacts:/_model-versions/sha256/"), uri
    model_file = next(p.name for p in (tmp_path / "m0").iterdir() if p.name.startswith("model."))  # model.skops
    registered = (tmp_path / "m0" / model_file).read_bytes()
    assert registered != (tmp_path / "m1" / model_file).read_bytes()
    r = requests.get(f"{server.url}/model-versions/get-artifact",
                     params={"name": model_name, "version": version, "path": model_file}, timeout=30)
    assert r.status_code == 200 and r.content == registered
    assert r.headers["Content-Disposition"].startswith("attachment")
    proxy = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{uri.removeprefix('mlflow-artifacts:/')}"
    assert requests.get(f"{proxy}/{model_file}", timeout=30).content == registered
    listing = requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts",
                           params={"path": uri.removeprefix("mlflow-artifacts:/")}, timeout=30).json()
    assert {f["path"] for f in listing["files"]} >= {"MLmodel", model_file}

    # The registered copies are read-only, and only versions' manifests are served.
    for method, body in (("PUT", b"x"), ("DELETE", None)):
        r = requests.request(method, f"{proxy}/{model_file}", data=body,
                             headers={"Content-Type": "application/octet-stream"} if body else {}, timeout=30)
        assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED", r.text
    assert requests.get(f"{proxy}/{model_file}", timeout=30).content == registered
    other = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/_model-versions/sha256/{'0' * 64}/{model_file}"
    assert requests.get(other, timeout=30).status_code == 404
    r = requests.get(f"{server.url}/model-versions/get-artifact",
                     params={"name": model_name, "version": version, "path": "../../etc/passwd"}, timeout=30)
    assert r.status_code == 400
