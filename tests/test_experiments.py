"""Experiments: create, read, search, rename, tags, delete and restore."""

import time

import mlflow
import pytest
import requests
from helpers import api_url, assert_mlflow_error, unique_name
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == "mlflow-artifacts:/0"
    by_name = client.get_experiment_by_name("Default")
    assert by_name is not None and by_name.experiment_id == "0"


def test_create_and_get(client):
    name = unique_name("exp-create")
    before_ms = int(time.time() * 1000) - 5000
    eid = client.create_experiment(name, tags={"team": "ml", "ns:key/with space.x-y": "v"})
    assert isinstance(eid, str) and eid.isdigit()

    exp = client.get_experiment(eid)
    assert exp.experiment_id == eid
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == f"mlflow-artifacts:/{eid}"
    assert exp.tags == {"team": "ml", "ns:key/with space.x-y": "v"}
    assert exp.creation_time >= before_ms
    assert exp.last_update_time >= exp.creation_time

    raw = requests.get(api_url(client.tracking_uri, "experiments/get"), params={"experiment_id": eid})
    assert raw.status_code == 200
    body = raw.json()["experiment"]
    assert body["experiment_id"] == eid
    assert body["lifecycle_stage"] == "active"
    assert isinstance(body["creation_time"], int)  # int64 is a JSON number, not a string
    assert {"key": "team", "value": "ml"} in body["tags"]


def test_get_by_name_absent_is_none(client):
    assert client.get_experiment_by_name(unique_name("never-created")) is None


def test_get_by_name_wire_404(base_url):
    r = requests.get(
        api_url(base_url, "experiments/get-by-name"),
        params={"experiment_name": unique_name("absent")},
    )
    assert_mlflow_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_set_experiment_creates_then_reuses(client):
    name = unique_name("fluent")
    exp = mlflow.set_experiment(name)
    assert client.get_experiment_by_name(name).experiment_id == exp.experiment_id
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    with mlflow.start_run() as run:
        assert run.info.experiment_id == exp.experiment_id


def test_rename(client):
    old, new = unique_name("old"), unique_name("new")
    eid = client.create_experiment(old)
    client.rename_experiment(eid, new)
    assert client.get_experiment(eid).name == new
    assert client.get_experiment_by_name(new).experiment_id == eid
    assert client.get_experiment_by_name(old) is None


def test_set_and_delete_tag(client):
    eid = client.create_experiment(unique_name("tags"))
    client.set_experiment_tag(eid, "k", "v1")
    assert client.get_experiment(eid).tags["k"] == "v1"
    client.set_experiment_tag(eid, "k", "v2")  # overwrite
    client.set_experiment_tag(eid, "other", "x")
    assert client.get_experiment(eid).tags == {"k": "v2", "other": "x"}
    client.delete_experiment_tag(eid, "k")
    assert client.get_experiment(eid).tags == {"other": "x"}


def test_delete_and_restore(client):
    name = unique_name("lifecycle")
    eid = client.create_experiment(name)
    client.delete_experiment(eid)
    exp = client.get_experiment(eid)  # deleted experiments are still readable by id
    assert exp.lifecycle_stage == "deleted"

    active = client.search_experiments(filter_string=f"name = '{name}'")
    assert active == []
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in deleted] == [eid]

    # The name stays taken while the experiment is deleted.
    with pytest.raises(MlflowException) as ei:
        client.create_experiment(name)
    assert ei.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"
    assert [e.experiment_id for e in client.search_experiments(filter_string=f"name = '{name}'")] == [eid]


def test_search_filter_order_and_view_type(client):
    prefix = unique_name("srch")
    ids = {}
    for suffix in ["b", "a", "c", "d"]:
        ids[suffix] = client.create_experiment(f"{prefix}-{suffix}", tags={"letter": suffix})
        time.sleep(0.02)  # distinct creation_time values
    client.delete_experiment(ids["d"])

    def names(**kw):
        return [e.name for e in client.search_experiments(**kw)]

    like = f"name LIKE '{prefix}-%'"
    assert names(filter_string=like, order_by=["name ASC"]) == [f"{prefix}-{s}" for s in "abc"]
    assert names(filter_string=like, order_by=["name DESC"]) == [f"{prefix}-{s}" for s in "cba"]
    assert names(filter_string=like, order_by=["name"], view_type=ViewType.ALL) == [
        f"{prefix}-{s}" for s in "abcd"
    ]
    assert names(filter_string=like, view_type=ViewType.DELETED_ONLY) == [f"{prefix}-d"]
    assert names(filter_string=f"{like} AND tags.letter = 'b'") == [f"{prefix}-b"]
    assert names(filter_string=f"{like} AND tags.letter != 'b'", order_by=["name"]) == [
        f"{prefix}-a",
        f"{prefix}-c",
    ]
    assert names(filter_string=f"name ILIKE '{prefix.upper()}-A'") == [f"{prefix}-a"]
    assert names(filter_string=f"name = '{prefix}-c'") == [f"{prefix}-c"]
    # Creation order was b, a, c.
    assert names(filter_string=like, order_by=["creation_time DESC"]) == [f"{prefix}-{s}" for s in "cab"]
    assert names(filter_string=like, order_by=["creation_time"]) == [f"{prefix}-{s}" for s in "bac"]


def test_search_pagination(client):
    prefix = unique_name("page")
    created = {client.create_experiment(f"{prefix}-{i:02d}") for i in range(7)}
    seen, token, pages = [], None, 0
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'", max_results=3, page_token=token, order_by=["name"]
        )
        pages += 1
        seen.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
    assert pages == 3
    assert len(seen) == 7 and set(seen) == created


def test_rest_create_returns_id(base_url):
    name = unique_name("rest")
    r = requests.post(api_url(base_url, "experiments/create"), json={"name": name})
    assert r.status_code == 200, r.text
    eid = r.json()["experiment_id"]
    assert isinstance(eid, str)
    r = requests.get(api_url(base_url, "experiments/get-by-name"), params={"experiment_name": name})
    assert r.status_code == 200
    assert r.json()["experiment"]["experiment_id"] == eid
