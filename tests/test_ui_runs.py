"""The runs table grouped by a param, and a run's datasets and logged models, in Debian's
chromium driven by Playwright as test_ui_pages.py does. Runs logged with the official
MLflow client are grouped by their learning rate: each group header shows the group's run
count and the mean, smallest and largest auc of its runs, as computed here from what was
logged, over every run and not only the loaded ones; a group opens with the keyboard and
pages its runs in as it scrolls; the grouping follows the filter and lives in the URL. A run
that logged a training and an evaluation dataset with mlflow.log_input and a registered
scikit-learn model lists them on its page, linked to the registered version. axe-core finds
no serious violation. MLSHIP_UI_SCREENSHOTS=DIR keeps the screenshots."""

from __future__ import annotations

import re
import statistics
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import mlflow
import mlflow.data
import mlflow.sklearn
import pytest
import requests
from helpers import pinned, unique_name
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from test_ui_pages import body_rows, browser, check, page, shots  # noqa: F401  (the shared browser fixtures)

pytestmark = pytest.mark.mlship_only

# Runs per learning rate: the large group pages its runs in as it scrolls.
SIZES = {"0.1": 130, "0.01": 3, "0.001": 2}


def auc_of(lr: str, i: int) -> float:
    return round(0.5 + (i * 37 % 100) / 250 + (0.05 if lr == "0.01" else 0), 6)


@pytest.fixture(scope="module")
def grouped(base_url):
    """An experiment of 135 runs with an lr param (three values) and an auc metric, a run
    without lr, and a run with lr but no auc."""
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("ui-groups"))

    def log(lr: str | None, auc: float | None, name: str):
        run = client.create_run(eid, run_name=name)
        params = [Param("lr", lr)] if lr is not None else []
        metrics = [Metric("auc", auc, 0, 0)] if auc is not None else []
        client.log_batch(run.info.run_id, metrics=metrics, params=params + [Param("optimizer", "adam")])
        client.set_terminated(run.info.run_id, "FINISHED")

    jobs = [(lr, auc_of(lr, i), f"lr{lr}-{i:03d}") for lr, n in SIZES.items() for i in range(n)]
    jobs += [(None, 0.61, "no-lr"), ("0.01", None, "lr0.01-no-auc")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda j: log(*j), jobs))
    return {"eid": eid, "logged": [(lr, auc) for lr, auc, _ in jobs]}  # (lr or None, auc or None)


def expected_groups(logged, keep=lambda auc: True):
    """Per lr value (None: without lr), the run count and auc's mean, min and max."""
    out = {}
    for lr, auc in logged:
        if not keep(auc):
            continue
        g = out.setdefault(lr, {"runs": 0, "aucs": []})
        g["runs"] += 1
        if auc is not None:
            g["aucs"].append(auc)
    for g in out.values():
        a = g["aucs"]
        g["auc"] = (statistics.fmean(a), min(a), max(a)) if a else None
    return out


def header(page, text):
    return page.locator('.grid [role="row"].group', has_text=text)


def numbers(title: str) -> tuple[float, float, float]:
    m = re.search(r"mean (\S+), min (\S+), max (\S+) over", title)
    assert m, title
    return tuple(float(x) for x in m.groups())


def check_headers(page, want):
    for lr, g in want.items():
        label = f"lr = {lr}" if lr is not None else "no lr"
        h = header(page, label)
        h.first.wait_for()
        assert f"{g['runs']:,} run{'' if g['runs'] == 1 else 's'}" in h.first.text_content()
        cell = h.first.locator('[role="cell"][title^="auc:"]')
        if g["auc"] is None:
            assert cell.text_content() == ""
        else:
            assert numbers(cell.get_attribute("title")) == pytest.approx(g["auc"], rel=1e-5)


def test_runs_grouped_by_a_param(page, grouped, base_url, shots):
    eid, logged = grouped["eid"], grouped["logged"]
    want = expected_groups(logged)

    # The API's groups hold what was logged, over every run.
    api = requests.get(f"{base_url}/api/v1/experiments/{eid}/groups", params={"param": "lr", "metrics": "auc"}, timeout=30).json()
    assert api["runs"] == len(logged) and [g["value"] for g in api["groups"]] == ["0.001", "0.01", "0.1", None]
    for g in api["groups"]:
        w = want[g["value"]]
        assert g["runs"] == w["runs"]
        a = g["metrics"][0]
        assert (a["mean"], a["min"], a["max"]) == pytest.approx(w["auc"], rel=1e-12)

    page.goto(f"{base_url}/#/experiments/{eid}")
    page.get_by_text(f"{len(logged)} runs loaded").wait_for()
    page.get_by_label("Group by").select_option("lr")
    page.wait_for_function("() => new URLSearchParams(location.hash.split('?')[1]).get('group') === 'lr'")
    page.get_by_text(f"{len(logged)} runs in 4 groups by lr").wait_for()
    rows = body_rows(page)
    assert rows.count() == 4  # the groups, closed
    assert [r.split(" ·")[0].strip() for r in rows.locator('[role="cell"].wide').all_text_contents()] == \
        ["lr = 0.001", "lr = 0.01", "lr = 0.1", "no lr"]
    check_headers(page, want)
    check(page, shots, "runs-grouped")

    # A group opens from the keyboard, with its runs under it, and closes again.
    toggle = page.get_by_role("button", name=re.compile(r"^Expand lr = 0\.01,"))
    toggle.focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name=re.compile(r"^Collapse lr = 0\.01,")).wait_for()
    page.get_by_role("link", name="lr0.01-no-auc").wait_for()
    assert sorted(rows.locator("a").all_text_contents()) == sorted([f"lr0.01-{i:03d}" for i in range(3)] + ["lr0.01-no-auc"])
    check(page, shots, "runs-grouped-open")
    page.keyboard.press("Space")
    page.get_by_role("button", name=re.compile(r"^Expand lr = 0\.01,")).wait_for()
    assert rows.locator("a").count() == 0

    # The large group reads its runs a page at a time as the table scrolls, drawing only those in view.
    page.get_by_role("button", name=re.compile(r"^Expand lr = 0\.1,")).click()
    rowcount = "() => document.querySelector('.grid').getAttribute('aria-rowcount')"
    page.wait_for_function(f"() => ({rowcount})() === String(1 + 4 + 100 + 1)")  # a first page, and a row for the rest
    assert rows.count() < 80
    grid = page.locator(".grid")
    grid.evaluate("g => g.scrollTo(0, g.scrollHeight)")
    page.wait_for_function(f"() => ({rowcount})() === String(1 + 4 + 130)")
    grid.evaluate("g => g.scrollTo(0, g.scrollHeight)")
    header(page, "no lr").wait_for()
    seen = set()
    grid.evaluate("g => g.scrollTo(0, 0)")
    for top in range(0, 140 * 32, 600):
        grid.evaluate(f"g => g.scrollTo(0, {top})")
        page.wait_for_timeout(50)
        seen.update(rows.locator("a").all_text_contents())
    assert seen == {f"lr0.1-{i:03d}" for i in range(130)}

    # The filter narrows every group, over all runs; the grouping is in the shareable URL.
    filt = "metrics.auc > 0.7"
    page.get_by_label("Filter").fill(filt)
    page.get_by_label("Filter").press("Enter")
    narrowed = expected_groups(logged, keep=lambda auc: auc is not None and auc > 0.7)
    total = sum(g["runs"] for g in narrowed.values())
    page.get_by_text(f"{total} runs in {len(narrowed)} groups by lr").wait_for()
    check_headers(page, narrowed)
    page.goto("about:blank")
    page.goto(f"{base_url}/#/experiments/{eid}?filter={quote(filt)}&group=lr")
    page.get_by_text(f"{total} runs in {len(narrowed)} groups by lr").wait_for()
    assert page.get_by_label("Group by").input_value() == "lr"
    check_headers(page, narrowed)

    # An open group lists only its runs that match the filter.
    page.get_by_role("button", name=re.compile(r"^Expand lr = 0\.01,")).click()
    page.wait_for_function("() => document.querySelectorAll('.grid [role=\"rowgroup\"]:not(.head) a').length > 0")
    names = sorted(rows.locator("a").all_text_contents())
    assert names == sorted(f"lr0.01-{i:03d}" for i in range(3) if auc_of("0.01", i) > 0.7)

    # A column of a metric's largest value is read for the runs in view in an open group too.
    page.goto("about:blank")
    page.goto(f"{base_url}/#/experiments/{eid}?group=lr&columns=metrics.auc,max.auc")
    page.get_by_role("button", name=re.compile(r"^Expand lr = 0\.001,")).click()
    row = rows.filter(has=page.get_by_role("link", name="lr0.001-001"))
    want_auc = str(auc_of("0.001", 1))
    page.wait_for_function(f"""() => [...document.querySelectorAll('.grid [role="row"]')].some(r => r.textContent.includes('lr0.001-001')
        && [...r.querySelectorAll('[role="cell"].num')].filter(c => c.textContent === {want_auc!r}).length === 2)""")
    assert row.count() == 1
    page.goto("about:blank")
    page.goto(f"{base_url}/#/experiments/{eid}?filter={quote(filt)}&group=lr")
    page.get_by_text(f"{total} runs in {len(narrowed)} groups by lr").wait_for()

    # Back to no grouping: the flat table.
    page.get_by_label("Group by").select_option("")
    page.wait_for_function("() => !new URLSearchParams(location.hash.split('?')[1]).has('group')")
    page.get_by_text(f"{total} runs loaded").wait_for()


def test_groups_of_values_with_quotes(page, base_url):
    """A value in single or double quotes opens its group (MLflow's grammar strips the quotes
    and unescapes nothing); a value with both has no filter that names it, and does not open."""
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("ui-groups-quotes"))
    values = {"it's": 2, 'say "hi"': 1, "both ' and \"": 1, "C:\\data\\": 1}
    for v, n in values.items():
        for i in range(n):
            run = client.create_run(eid, run_name=f"{v}-{i}")
            client.log_param(run.info.run_id, "note", v)
    page.goto(f"{base_url}/#/experiments/{eid}?group=note")
    page.get_by_text("5 runs in 4 groups by note").wait_for()
    for v, n in values.items():
        toggle = page.get_by_role("button", name=f"Expand note = {v}, {n} runs", exact=True)
        if "'" in v and '"' in v or v.endswith("\\"):
            header(page, f"note = {v}").wait_for()
            assert toggle.count() == 0
            continue
        toggle.click()
        page.get_by_role("link", name=f"{v}-0").wait_for()
        assert sorted(body_rows(page).locator("a").all_text_contents()) == [f"{v}-{i}" for i in range(n)]
        page.get_by_role("button", name=f"Collapse note = {v}, {n} runs", exact=True).click()


def test_many_columns_only_those_in_view(page, base_url, shots):
    """With 40 metric columns, the rows and the header hold only the columns in view (and one
    either side); scrolled to the right end, the last metric's header and its values stand in
    the same place, each row still holds its run's name (scrolled out of view), and the table
    is as wide as all its columns. Grouped, the same."""
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("ui-wide"))
    keys = [f"metric_{k:02d}" for k in range(40)]
    for i in range(3):
        run = client.create_run(eid, run_name=f"wide-{i}")
        client.log_batch(run.info.run_id, metrics=[Metric(k, i * 100 + n, 0, 0) for n, k in enumerate(keys)],
                         params=[Param("kind", "wide")])
    columns = ",".join(f"metrics.{k}" for k in keys)
    for group in ("", "&group=kind"):
        page.goto(f"{base_url}/#/experiments/{eid}?columns={columns}{group}")
        if group:
            page.get_by_role("button", name="Expand kind = wide, 3 runs").click()
        page.get_by_role("link", name="wide-2").wait_for()
        grid = page.locator(".grid")
        assert grid.get_attribute("aria-colcount") == str(1 + 5 + len(keys))  # select, 5 attributes, the metrics
        row = page.locator('.grid [role="row"]', has=page.get_by_role("link", name="wide-2"))
        drawn = row.locator('[role="cell"]').count()
        assert 3 < drawn < 20, drawn  # not the 46 columns
        assert page.get_by_role("columnheader").count() < 20
        assert page.get_by_role("columnheader", name="m. metric_39").count() == 0

        grid.evaluate("g => { g.scrollLeft = g.scrollWidth }")
        last = page.get_by_role("columnheader", name="m. metric_39")
        last.wait_for()
        cell = row.locator(f'[aria-colindex="{last.get_attribute("aria-colindex")}"]')
        assert cell.text_content() == "239"  # run 2's metric_39
        assert abs(cell.bounding_box()["x"] - last.bounding_box()["x"]) < 1
        assert page.get_by_role("columnheader", name="m. metric_00").count() == 0
        assert row.count() == 1  # the row still names its run
        assert page.get_by_role("columnheader", name="Run").count() == 1
        # the table is as wide as its 46 columns: 16rem for the run's name, 10rem each else, 2.25rem to select
        rem = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert grid.evaluate("g => g.scrollWidth") == pytest.approx((2.25 + 16 + 10 * (4 + len(keys))) * rem, abs=2)
        check(page, shots, "runs-wide" + ("-grouped" if group else ""))

@pytest.fixture(scope="module")
def run_with_io(server, tmp_path_factory):
    """A run that logged a training and an evaluation dataset and a registered model."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    mlflow.set_experiment(unique_name("ui-run-io"))  # on the session's server, the tracking URI's
    frame = pd.DataFrame({"x1": [0.1, 0.4, 0.35, 0.8, 0.9, 0.05], "x2": [1, 0, 1, 0, 1, 0], "y": [0, 0, 0, 1, 1, 0]})
    name = unique_name("ui-io-model")
    with mlflow.start_run(run_name="with-io") as run:
        train = mlflow.data.from_pandas(frame, source="s3://bucket/train.parquet", name="train-set", targets="y")
        evals = mlflow.data.from_pandas(frame.tail(3), source="s3://bucket/eval.parquet", name="eval-set", targets="y")
        mlflow.log_input(train, context="training")
        mlflow.log_input(evals, context="eval")
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
        info = mlflow.sklearn.log_model(model, name="classifier", registered_model_name=name,
                                        pip_requirements=pinned("mlflow", "scikit-learn"))
    return {"run": MlflowClient(server.url).get_run(run.info.run_id), "model_id": info.model_id, "name": name,
            "digests": {"train-set": train.digest, "eval-set": evals.digest}}


def test_run_page_lists_its_datasets_and_models(page, run_with_io, base_url, shots):
    run = run_with_io["run"]
    page.goto(f"{base_url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")
    page.get_by_role("heading", name="with-io").wait_for()
    page.get_by_role("heading", name="Datasets").wait_for()
    table = page.get_by_role("table", name="Datasets the run used")
    rows = {r[0]: r for r in (row.locator("td").all_text_contents() for row in table.locator("tbody tr").all())}
    assert set(rows) == {"train-set", "eval-set"}
    for ds, context, src in (("train-set", "training", "s3://bucket/train.parquet"), ("eval-set", "eval", "s3://bucket/eval.parquet")):
        name, ctx, digest, source_type, source, shape = rows[ds]
        assert (ctx, digest, source_type, source) == (context, run_with_io["digests"][ds], "s3", src)
    assert "6 rows" in rows["train-set"][5] and "3 rows" in rows["eval-set"][5]

    models = page.get_by_role("table", name="Models the run logged")
    models.locator("tbody tr").first.wait_for()
    row = models.locator("tbody tr", has_text=run_with_io["model_id"])
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "classifier" and cells[1] == run_with_io["model_id"]
    row.locator("td").nth(2).filter(has_text="sklearn").wait_for()  # read from the model's MLmodel
    assert row.locator("td").nth(2).text_content() == "sklearn, python_function"
    link = row.get_by_role("link", name=f"{run_with_io['name']} v1")
    check(page, shots, "run-io")
    link.click()
    page.wait_for_function(f"() => location.hash === '#/models/{run_with_io['name']}/versions/1'")
    page.get_by_role("heading", name=re.compile(re.escape(run_with_io["name"]))).first.wait_for()
