"""The web UI's datasets pages in Debian's chromium, driven by Playwright as test_ui_pages.py
does: two versions of a small CSV registered with `mlship data add`, the second with one
column shifted; the list, the versions, a version's profile (the same numbers as the API's)
and the drift report between them (the shifted column drifted, the others not); a
deployment monitored against version 1 sent both versions' rows lists a window without drift
and one with income drifted. axe-core finds no serious violation. MLSHIP_UI_SCREENSHOTS=DIR keeps the screenshots."""

from __future__ import annotations

import time

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from helpers import mlship, pinned, unique_name
from test_ui_pages import browser, check, page, shots  # noqa: F401  (the shared browser fixtures)

pytestmark = pytest.mark.mlship_only

ROWS = 500
SHIFTED = "income"


@pytest.fixture(scope="module")
def dataset(server, tmp_path_factory):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "age": rng.integers(18, 80, ROWS),
        "income": rng.normal(52_000, 9_000, ROWS).round(2),
        "city": rng.choice(["Lyon", "Paris", "Nice", "Lille"], ROWS, p=[0.2, 0.4, 0.25, 0.15]),
        "score": rng.random(ROWS).round(3),
    })
    frame.loc[::25, "score"] = np.nan  # 20 missing values
    d = tmp_path_factory.mktemp("ui-datasets")
    frame.to_csv(d / "customers-1.csv", index=False)
    shifted = frame.copy()
    shifted[SHIFTED] = shifted[SHIFTED] + 2 * shifted[SHIFTED].std()
    shifted.to_csv(d / "customers-2.csv", index=False)
    name = unique_name("ui-customers")
    for f in ("customers-1.csv", "customers-2.csv"):
        mlship(server, "data", "add", name, str(d / f))
    return {"name": name, "frames": (frame, shifted)}


def test_list_and_versions(page, dataset, base_url, shots):
    dataset = dataset["name"]
    page.goto(base_url + "/#/datasets")
    page.get_by_role("heading", name="Datasets").wait_for()
    row = page.locator("table.datasets tbody tr", has=page.get_by_role("link", name=dataset, exact=True))
    row.wait_for()
    cells = row.locator("td").all_text_contents()
    assert cells[1:5] == ["2", f"{ROWS:,}", "4", "csv"], cells
    check(page, shots, "datasets")

    row.get_by_role("link", name=dataset).click()
    page.get_by_role("heading", name=dataset).wait_for()
    versions = requests.get(f"{base_url}/api/v1/datasets/{dataset}/versions", timeout=30).json()["datasets"]
    rows = page.locator("table.list tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    for i, v in enumerate(versions):
        text = rows.nth(i).text_content()
        assert v["digest"] in text and f"{ROWS:,}" in text and "csv" in text, text
    check(page, shots, "dataset")


def test_profile_shows_the_apis_numbers(page, dataset, base_url, shots):
    dataset = dataset["name"]
    profile = requests.get(f"{base_url}/api/v1/datasets/{dataset}/versions/1/profile", timeout=30).json()
    page.goto(f"{base_url}/#/datasets/{dataset}/versions/1")
    page.get_by_role("heading", name=f"{dataset} version 1").wait_for()
    page.locator("table.profile tbody tr").first.wait_for()
    for c in profile["columns"]:
        row = page.locator(f'table.profile tr[data-column="{c["name"]}"]')
        assert c["kind"] in row.locator("td").first.text_content()
        assert row.locator('[data-field="missing"]').text_content().split(" ")[0] == f'{c["nulls"]:,}'
        assert row.locator('[data-field="distinct"]').text_content() == f'{c["distinct"]:,}'
        if c["kind"] == "numerical":  # a histogram of its values: as many rows as counted
            assert row.locator("svg.bars rect").count() == 12
        else:  # its most frequent values
            assert row.locator(".topvalues li").count() == len(c["top"])
    score = next(c for c in profile["columns"] if c["name"] == "score")
    assert score["nulls"] == ROWS // 25
    check(page, shots, "dataset-profile")


def test_drift_names_the_shifted_column(page, dataset, base_url, shots):
    dataset = dataset["name"]
    page.goto(f"{base_url}/#/datasets/{dataset}")
    page.get_by_label("Reference").select_option("1")
    page.get_by_label("Current").select_option("2")
    page.get_by_role("button", name="Compare for drift").click()
    page.get_by_role("heading", name=f"Drift of {dataset}: version 1 to 2").wait_for()
    page.locator("table.drift tbody tr").first.wait_for()
    drifted = page.locator('table.drift tr[data-drifted="true"] th').all_text_contents()
    steady = page.locator('table.drift tr[data-drifted="false"] th').all_text_contents()
    assert drifted == [SHIFTED]
    assert sorted(steady) == ["age", "city", "score"]
    # One drifted column of four: under the default share of 0.5, the dataset has not drifted.
    verdict = page.locator(".verdict")
    assert verdict.get_attribute("data-verdict") == "ok" and "1 of 4 columns drifted (25%)" in verdict.text_content()
    row = page.locator(f'table.drift tr[data-column="{SHIFTED}"]')
    assert "K-S p_value" in row.text_content()
    assert row.locator("rect.series-reference").count() == row.locator("rect.series-current").count() > 0
    check(page, shots, "dataset-drift")


@pytest.fixture(scope="module")
def monitored(server, dataset):
    """A model of age and income deployed with monitoring against the dataset's version 1:
    sent version 1's rows (no drift), then version 2's (income drifted)."""
    from sklearn.linear_model import LinearRegression

    frame, shifted = dataset["frames"]
    X = frame[["age", "income"]]
    mlflow.set_tracking_uri(server.url)
    model = unique_name("ui-monitored")
    with mlflow.start_run():
        mlflow.sklearn.log_model(LinearRegression().fit(X, frame["score"].fillna(0.5)), name="model",
                                 registered_model_name=model, pip_requirements=pinned("scikit-learn", "skops"))
    dep = unique_name("ui-monitored")
    mlship(server, "deploy", "create", dep, f"models:/{model}/1", "--workers", "1", "--wait", "3m", "--payload-sample-rate", "1",
           "--drift-window", "300ms", "--drift-min-rows", str(ROWS), "--drift-reference", f'{dataset["name"]}/1')
    try:
        for n, df in enumerate((X, shifted[["age", "income"]]), start=1):
            r = requests.post(f"{server.url}/deployments/{dep}/invocations", json={"dataframe_split": df.to_dict(orient="split")}, timeout=60)
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 30
            while len(requests.get(f"{server.url}/api/v1/deployments/{dep}/drift", timeout=10).json()["windows"]) < n:
                assert time.monotonic() < deadline, f"no drift window {n}"
                time.sleep(0.1)
        yield dep
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=60)


def test_deployment_drift_windows(page, monitored, dataset, base_url, shots):
    page.goto(f"{base_url}/#/deployments/{monitored}")
    page.get_by_role("link", name="drift of its traffic, window by window").click()
    page.get_by_role("heading", name=f"Drift of {monitored}'s traffic").wait_for()
    rows = page.locator("table.list tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    newest, oldest = rows.nth(0).locator("td").all_text_contents(), rows.nth(1).locator("td").all_text_contents()
    assert newest[1] == f"{ROWS:,}" and newest[3] == f'{dataset["name"]}/1' and newest[4:] == ["drifted", SHIFTED], newest
    assert oldest[4:] == ["no drift", ""], oldest
    check(page, shots, "deployment-drift")


def test_deployment_drift_page_for_an_unknown_deployment(page, base_url):
    page.goto(f"{base_url}/#/deployments/no-such-deployment/drift")
    page.get_by_role("heading", name="Drift of no-such-deployment's traffic").wait_for()
    page.get_by_role("alert").wait_for()
