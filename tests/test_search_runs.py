"""search_runs: the filter grammar on metrics, params, tags and attributes; ordering; paging."""

import pytest
from helpers import unique_name
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

# name -> (start_time, status, metrics [(key, value, ts, step)], params, tags)
RUNS = {
    "alpha": (
        1_000_000,
        "FINISHED",
        # acc was 0.1 first: filters must see only the latest value, 0.9
        [("acc", 0.1, 10, 0), ("acc", 0.9, 20, 1), ("loss", 0.5, 10, 0)],
        {"lr": "0.01", "model": "resnet-50"},
        {"data-set": "imagenet", "team": "Vision"},
    ),
    "beta": (
        2_000_000,
        "RUNNING",
        [("acc", 0.7, 10, 0), ("loss", 3.0, 10, 0), ("loss", float("nan"), 20, 1)],
        {"lr": "0.1", "model": "ResNet-18"},
        {"data-set": "cifar", "team": "vision"},
    ),
    "gamma": (
        3_000_000,
        "FAILED",
        [("loss", 0.2, 10, 0)],
        {"lr": "0.001", "model": "vit"},
        {},
    ),
    "delta": (
        4_000_000,
        "KILLED",
        [("acc", 0.9, 10, 0), ("loss", 7.0, 10, 0)],
        {},
        {"team": "audio"},
    ),
}


@pytest.fixture(scope="module")
def corpus(base_url):
    """One experiment with the four runs above; returns (experiment_id, {name: run_id})."""
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("search-corpus"))
    ids = {}
    for name, (start, status, metrics, params, tags) in RUNS.items():
        run = client.create_run(eid, run_name=name, start_time=start)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric(k, v, ts, s) for k, v, ts, s in metrics],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if status != "RUNNING":
            client.set_terminated(rid, status=status, end_time=start + 500)
        ids[name] = rid
    return eid, ids


def _names(client, corpus, filter_string="", order_by=None, **kw):
    eid, ids = corpus
    by_id = {v: k for k, v in ids.items()}
    runs = client.search_runs([eid], filter_string=filter_string, order_by=order_by, **kw)
    return [by_id[r.info.run_id] for r in runs]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.acc > 0.8", {"alpha", "delta"}),
        ("metrics.acc < 0.5", set()),  # alpha's 0.1 is history, not the latest value
        ("metrics.acc = 0.7", {"beta"}),
        ("metrics.acc != 0.9", {"beta"}),  # gamma has no acc: a missing key never matches
        ("metrics.acc >= 0.9", {"alpha", "delta"}),
        ("metrics.acc <= 0.7", {"beta"}),
        ("metrics.loss < 1", {"alpha", "gamma"}),
        ("metrics.loss > 5", {"delta"}),
        ("params.lr = '0.01'", {"alpha"}),
        ("params.lr != '0.01'", {"beta", "gamma"}),  # delta has no lr
        ("params.model LIKE 'res%'", {"alpha"}),  # LIKE is case-sensitive
        ("params.model ILIKE 'res%'", {"alpha", "beta"}),
        ("params.model LIKE '%Net-1_'", {"beta"}),
        ("params.`model` = 'vit'", {"gamma"}),
        ("param.lr = '0.1'", {"beta"}),
        ("tags.`data-set` = 'cifar'", {"beta"}),
        ('tags."data-set" LIKE \'%net\'', {"alpha"}),
        ("tags.`data-set` != 'cifar'", {"alpha"}),
        ("tags.team ILIKE 'VISION'", {"alpha", "beta"}),
        ("tags.team = 'vision'", {"beta"}),
        ("tag.team LIKE 'a%'", {"delta"}),
        ("attributes.status = 'FAILED'", {"gamma"}),
        ("attributes.status != 'RUNNING'", {"alpha", "gamma", "delta"}),
        ("attributes.run_name = 'beta'", {"beta"}),
        ("attributes.run_name LIKE 'g%'", {"gamma"}),
        ("attributes.run_name ILIKE 'ALPHA'", {"alpha"}),
        ("run_name = 'delta'", {"delta"}),
        ("attributes.start_time > 2500000", {"gamma", "delta"}),
        ("attributes.start_time <= 2000000", {"alpha", "beta"}),
        ("attributes.start_time = 3000000", {"gamma"}),
        ("attributes.end_time > 3000000", {"gamma", "delta"}),
        ("metrics.acc > 0.5 AND params.lr = '0.1'", {"beta"}),
        ("metrics.loss < 10 and tags.team ilike '%o' and attributes.status = 'KILLED'", {"delta"}),
    ],
)
def test_filter(client, corpus, filter_string, expected):
    got = _names(client, corpus, filter_string)
    assert set(got) == expected
    assert len(got) == len(expected)


def test_filter_run_id_in(client, corpus):
    _, ids = corpus
    f = f"attributes.run_id IN ('{ids['alpha']}', '{ids['gamma']}')"
    assert set(_names(client, corpus, f)) == {"alpha", "gamma"}
    f = f"attributes.run_id NOT IN ('{ids['alpha']}', '{ids['gamma']}')"
    assert set(_names(client, corpus, f)) == {"beta", "delta"}
    f = f"attributes.run_id = '{ids['beta']}'"
    assert _names(client, corpus, f) == ["beta"]


@pytest.mark.parametrize(
    "order_by, expected",
    [
        (None, ["delta", "gamma", "beta", "alpha"]),  # default: start_time DESC
        (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta"]),
        (["attributes.run_name"], ["alpha", "beta", "delta", "gamma"]),
        (["attributes.run_name DESC"], ["gamma", "delta", "beta", "alpha"]),
        # ties (alpha/delta at 0.9) fall back to start_time DESC; a missing metric sorts last
        (["metrics.acc DESC"], ["delta", "alpha", "beta", "gamma"]),
        (["metrics.acc ASC"], ["beta", "delta", "alpha", "gamma"]),
        (["metrics.acc DESC", "attributes.start_time ASC"], ["alpha", "delta", "beta", "gamma"]),
        # NaN sorts last in both directions
        (["metrics.loss ASC"], ["gamma", "alpha", "delta", "beta"]),
        (["metrics.loss DESC"], ["delta", "alpha", "gamma", "beta"]),
        # params order as strings; a missing param sorts last
        (["params.lr ASC"], ["gamma", "alpha", "beta", "delta"]),
        (["params.lr DESC"], ["beta", "alpha", "gamma", "delta"]),
        # strings compare by code point: "Vision" < "audio" < "vision"
        (["tags.team ASC"], ["alpha", "delta", "beta", "gamma"]),
        (["tags.team DESC"], ["beta", "delta", "alpha", "gamma"]),
        (["attributes.status ASC"], ["gamma", "alpha", "delta", "beta"]),
    ],
)
def test_order_by(client, corpus, order_by, expected):
    assert _names(client, corpus, order_by=order_by) == expected


def test_search_returns_full_run_data(client, corpus):
    eid, ids = corpus
    (run,) = client.search_runs([eid], "attributes.run_name = 'alpha'")
    assert run.info.run_id == ids["alpha"]
    assert run.info.status == "FINISHED"
    assert run.info.end_time == 1_000_500
    assert run.data.metrics == {"acc": 0.9, "loss": 0.5}
    assert run.data.params == {"lr": "0.01", "model": "resnet-50"}
    assert run.data.tags["data-set"] == "imagenet"
    assert run.data.tags["mlflow.runName"] == "alpha"


def test_search_across_experiments(client, corpus):
    eid, ids = corpus
    other = client.create_experiment(unique_name("search-other"))
    rid = client.create_run(other, run_name="alpha").info.run_id
    runs = client.search_runs([eid, other], "attributes.run_name = 'alpha'")
    assert {r.info.run_id for r in runs} == {ids["alpha"], rid}


def test_view_type_in_search(client, experiment_id):
    a = client.create_run(experiment_id).info.run_id
    b = client.create_run(experiment_id).info.run_id
    client.delete_run(b)
    ids = lambda vt: {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=vt)}  # noqa: E731
    assert ids(ViewType.ACTIVE_ONLY) == {a}
    assert ids(ViewType.DELETED_ONLY) == {b}
    assert ids(ViewType.ALL) == {a, b}


def test_pagination_visits_every_run_once(client, experiment_id):
    n = 57
    created = []
    for i in range(n):
        run = client.create_run(experiment_id, start_time=5_000_000 + (i * 7919) % n)
        client.log_metric(run.info.run_id, "score", float(i % 13), timestamp=1, step=0)
        created.append(run.info.run_id)

    for order_by in (None, ["metrics.score DESC"], ["attributes.start_time ASC"]):
        seen, token, pages = [], None, 0
        while True:
            page = client.search_runs([experiment_id], max_results=10, page_token=token, order_by=order_by)
            pages += 1
            assert len(page) == (10 if pages < 6 else 7)
            seen.extend(r.info.run_id for r in page)
            token = page.token
            if not token:
                break
        assert pages == 6, order_by
        assert len(seen) == n and set(seen) == set(created), order_by
        whole = [r.info.run_id for r in client.search_runs([experiment_id], max_results=100, order_by=order_by)]
        assert seen == whole, order_by  # pages concatenate to the unpaged order

    # A page exactly as large as what is left carries no token.
    last = client.search_runs([experiment_id], max_results=57)
    assert len(last) == 57 and not last.token


@pytest.mark.parametrize(
    "bad_filter",
    [
        "metrics.acc >",
        "metrics.acc > 'high'",  # metrics compare with numbers
        "params.lr > '0.1'",  # params take = != LIKE ILIKE only
        "params.lr = 0.1",  # params compare with strings
        "nosuchentity.x = 'a'",
        "metrics.acc > 0.5 OR metrics.acc < 0.1",  # no OR
        "attributes.status IN ('FINISHED')",  # IN is for run_id only
        "attributes.nosuchattr = 'x'",
    ],
)
def test_invalid_filter(client, corpus, bad_filter):
    eid, _ = corpus
    with pytest.raises(MlflowException) as ei:
        client.search_runs([eid], bad_filter)
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("bad_order", ["metrics.acc SIDEWAYS", "nosuchentity.x", "attributes.nosuchattr"])
def test_invalid_order_by(client, corpus, bad_order):
    eid, _ = corpus
    with pytest.raises(MlflowException) as ei:
        client.search_runs([eid], order_by=[bad_order])
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"


def test_run_status_enum_is_exposed(client, corpus):
    eid, ids = corpus
    statuses = {r.info.run_name: r.info.status for r in client.search_runs([eid])}
    assert statuses == {name: spec[1] for name, spec in RUNS.items()}
    assert RunStatus.from_string(statuses["gamma"]) == RunStatus.FAILED
