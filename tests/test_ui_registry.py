"""The web UI's registry, deployment and overview pages in Debian's chromium, driven by
Playwright as test_ui_pages.py does: a model registered with the official MLflow client
(ONNX, two versions, the second failing its gate), deployed and sent requests; the pages
show what the APIs answer, an alias move the gate refuses shows its reasons, and axe-core
finds no serious violation. MLSHIP_UI_SCREENSHOTS=DIR keeps the screenshots (docs/img)."""

from __future__ import annotations

import time

import mlflow
import mlflow.onnx
import numpy as np
import pytest
import requests
from gates_common import EXIT_GATE_FAILED, evaluate
from helpers import mlship, pinned, unique_name
from mlflow import MlflowClient
from test_ui_pages import browser, check, page, shots  # noqa: F401  (the shared browser fixtures)

pytestmark = pytest.mark.mlship_only

REQUESTS = 25


@pytest.fixture(scope="module")
def registry(server, tmp_path_factory):
    """A diabetes regressor as ONNX: version 1 passes the gate on @production and holds it,
    version 2 (a model that predicts about the mean) fails it; a deployment follows
    @production and has answered REQUESTS requests."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    frame = load_diabetes(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    Xf = X.to_numpy(np.float32)
    mlflow.set_tracking_uri(server.url)
    name = unique_name("ui-diabetes")
    for model in (Ridge(alpha=0.5).fit(Xf, y), Ridge(alpha=1e6).fit(Xf, y)):
        with mlflow.start_run():
            mlflow.log_input(mlflow.data.from_pandas(frame, name="diabetes-train", targets="target"), context="training")
            mlflow.onnx.log_model(to_onnx(model, Xf[:1], target_opset=17), name="model", registered_model_name=name,
                                  pip_requirements=pinned("onnx"))
    client = MlflowClient(server.url)
    client.update_registered_model(name, "Predicts disease progression a year after baseline.")
    client.set_registered_model_tag(name, "mlship.owner", "ana")
    client.set_registered_model_tag(name, "mlship.contact", "ana@example.com")
    client.set_model_version_tag(name, "1", "reviewed", "yes")

    data = unique_name("ui-holdout")
    path = tmp_path_factory.mktemp("ui-registry") / "holdout.csv"
    frame.to_csv(path, index=False)
    mlship(server, "data", "add", data, str(path))
    mlship(server, "gate", "set", name, "--dataset", f"{data}/1", "--target", "target", "--task", "regression",
           "--threshold", "root_mean_squared_error<=60")
    code, _ = evaluate(server, f"{name}/1")
    assert code == 0
    client.set_registered_model_alias(name, "production", "1")
    code, failed = evaluate(server, f"{name}/2")
    assert code == EXIT_GATE_FAILED, failed

    dep = unique_name("ui-dep")
    r = requests.post(f"{server.url}/api/v1/deployments", timeout=30,
                      json={"name": dep, "model": f"models:/{name}@production", "payload_log": {"sample_rate": 1}})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while (d := requests.get(f"{server.url}/api/v1/deployments/{dep}", timeout=10).json())["status"]["state"] != "ready":
        assert d["status"]["state"] != "failed" and time.monotonic() < deadline, d
        time.sleep(0.1)
    body = {"inputs": [{"name": "X", "shape": [2, Xf.shape[1]], "datatype": "FP32", "data": Xf[:2].ravel().tolist()}]}
    for _ in range(REQUESTS):
        assert requests.post(f"{server.url}/v2/models/{dep}/infer", json=body, timeout=30).status_code == 200
    yield {"name": name, "dep": dep, "failed": failed}
    requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=30)


def test_models_list_and_model_page(page, registry, base_url, shots):
    name = registry["name"]
    page.goto(base_url + "/#/models")
    page.get_by_role("heading", name="Models").wait_for()
    page.get_by_label("Search by name").fill(name)
    page.get_by_label("Search by name").press("Enter")
    page.get_by_text("1 model matching").wait_for()
    row = page.locator("table.list tbody tr")
    assert row.count() == 1
    assert row.locator("td").nth(1).text_content() == "2"
    assert "@production → v1" in row.text_content() and "ana" in row.text_content()
    check(page, shots, "models")

    row.get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name).wait_for()
    page.get_by_text("Predicts disease progression").wait_for()
    page.get_by_text("ana@example.com").wait_for()
    versions = page.locator("table.list tbody tr")
    assert versions.count() == 2
    assert "production: failed" in versions.nth(0).text_content()  # version 2's gate verdict
    assert "production: passed" in versions.nth(1).text_content() and "reviewed=yes" in versions.nth(1).text_content()
    check(page, shots, "model")


def test_version_page_lineage_and_a_refused_alias_move(page, registry, base_url, shots):
    name = registry["name"]
    lineage = requests.get(f"{base_url}/api/v1/models/{name}/versions/1/lineage", timeout=30).json()
    page.goto(f"{base_url}/#/models/{name}/versions/1")
    page.get_by_role("heading", name=f"{name} version 1").wait_for()
    page.locator("svg .node").first.wait_for()
    kinds = page.locator("svg .node").evaluate_all("gs => gs.map(g => g.dataset.kind)")
    assert sorted(kinds) == sorted(n["kind"] for n in lineage["graph"]["nodes"])
    assert {"dataset", "run", "logged_model", "model_version", "deployment"} <= set(kinds)
    assert page.locator(f'svg .node[data-id="deployment:{registry["dep"]}"]').count() == 1
    assert page.locator("svg .edge").count() == len(lineage["graph"]["edges"])
    # Columns left to right: dataset, run, logged model, version, deployment.
    xs = {k: page.locator(f'svg .node[data-kind="{k}"]').first.bounding_box()["x"]
          for k in ("dataset", "run", "logged_model", "model_version", "deployment")}
    assert xs["dataset"] < xs["run"] < xs["logged_model"] < xs["model_version"] < xs["deployment"]
    # The files with their hashes.
    onnx = next(f for f in lineage["files"] if f["path"] == "model.onnx")
    page.get_by_text(onnx["digest"].removeprefix("sha256:")).wait_for()
    check(page, shots, "model-version")

    # Version 2 failed its gate: moving @production to it is refused with the gate's reasons.
    page.goto(f"{base_url}/#/models/{name}/versions/2")
    page.get_by_role("heading", name=f"{name} version 2").wait_for()
    page.get_by_text("failed 1 of 1 checks").wait_for()  # its evaluation
    with page.expect_response(lambda r: "/aliases/production" in r.url) as resp:
        page.get_by_role("button", name="Move alias").click()
    assert resp.value.request.method == "PUT" and resp.value.status == 409
    alert = page.get_by_role("alert")
    alert.wait_for()
    text = alert.text_content()
    assert "root_mean_squared_error" in text and "above the threshold 60" in text, text
    assert f"Evaluation {registry['failed']['id']}: failed" in text
    assert MlflowClient(base_url).get_model_version_by_alias(name, "production").version == "1"
    check(page, shots, "model-version-refused")


def test_deployments_and_live_stats(page, registry, base_url, shots):
    dep = registry["dep"]
    page.goto(base_url + "/#/deployments")
    page.get_by_role("heading", name="Deployments").wait_for()
    row = page.locator("table.list tbody tr", has=page.get_by_role("link", name=dep, exact=True))
    assert "ready" in row.text_content() and f"{registry['name']} v1" in row.text_content()
    check(page, shots, "deployments")

    row.get_by_role("link", name=dep, exact=True).click()
    page.get_by_role("heading", name=dep).wait_for()
    cell = page.locator('tr[data-role="primary"] [data-stat="requests"]')
    cell.wait_for()
    assert cell.text_content() == str(REQUESTS)
    api = requests.get(f"{base_url}/api/v1/deployments/{dep}/stats", params={"window": "5m"}, timeout=30).json()
    want = next(r for r in api["roles"] if r["role"] == "primary")
    got = page.locator('tr[data-role="primary"] [data-stat]').evaluate_all(
        "tds => Object.fromEntries(tds.map(td => [td.dataset.stat, Number(td.dataset.value)]))")
    assert got["requests"] == want["requests"] == REQUESTS and got["failures"] == want["failures"] == 0
    assert got["request_rate"] == pytest.approx(want["request_rate"]) and got["error_rate"] == want["error_rate"]
    for q in ("p50", "p90", "p99"):
        assert got[q] == pytest.approx(want["latency_seconds"][q]), q
    # The page refreshes on its own: a new request shows without a reload.
    Xs = [0.01] * 10
    requests.post(f"{base_url}/v2/models/{dep}/infer", timeout=30,
                  json={"inputs": [{"name": "X", "shape": [1, 10], "datatype": "FP32", "data": Xs}]})
    page.wait_for_function(f"() => document.querySelector('tr[data-role=\"primary\"] [data-stat=\"requests\"]').textContent === '{REQUESTS + 1}'",
                           timeout=15_000)
    page.get_by_text("The newest 10 sampled requests").wait_for()
    check(page, shots, "deployment")
    # Over 30 days the figures come from the traffic history, with the primary's requests per
    # hour as a line that adds up to the same requests as the API's.
    page.get_by_label("Window").select_option("720h")
    line = page.locator('table.hourly tr[data-role="primary"] svg[role="img"]')
    line.wait_for()
    month = requests.get(f"{base_url}/api/v1/deployments/{dep}/stats", params={"window": "720h"}, timeout=30).json()
    total = next(r for r in month["roles"] if r["role"] == "primary")["requests"]
    assert total >= REQUESTS + 1
    page.wait_for_function(f"() => document.querySelector('tr[data-role=\"primary\"] [data-stat=\"requests\"]').textContent === '{total}'")
    assert f"{total} in all" in line.get_attribute("aria-label")


def test_overview_matches_the_api(page, registry, base_url, shots):
    name = registry["name"]
    page.goto(base_url + "/#/overview")
    page.get_by_role("heading", name="Executive overview").wait_for()
    api = requests.get(f"{base_url}/api/v1/overview", timeout=30).json()
    want = next(m for m in api["production"] if m["name"] == name)
    row = page.locator(f'#production tr[data-model="{name}"]')
    row.wait_for()
    cells = row.locator("[data-col]").evaluate_all("tds => Object.fromEntries(tds.map(td => [td.dataset.col, td.textContent]))")
    assert cells["version"] == "v" + want["version"] == "v1"
    assert cells["owner"].startswith("ana") and "ana@example.com" in cells["owner"]
    assert int(cells["requests"]) == want["traffic"]["requests"] >= REQUESTS
    assert cells["error_rate"] == f"{want['traffic']['error_rate'] * 100:.1f}%"
    # The 30 days' sparkline adds up to the same requests.
    spark = row.locator('[data-col="daily"] svg[role="img"]')
    assert len(want["traffic"]["daily"]) == 30 and f"{want['traffic']['requests']} in all" in spark.get_attribute("aria-label")
    assert cells["gate"] == f"v{want['gate']['version']} failed" == "v2 failed"
    assert f"{registry['dep']}: unmonitored" in cells["drift"]
    assert cells["time_to_production"] and cells["since"] != "not audited"
    stalled = page.locator(f'#stalled tr[data-model="{name}"] [data-col="reason"]')
    assert stalled.text_content() == "its newest evaluation failed the gate"
    # The CSV export is the same endpoint's.
    href = page.get_by_role("link", name="Export CSV").get_attribute("href")
    csv = requests.get(base_url + href, timeout=30)
    assert csv.headers["Content-Type"].startswith("text/csv") and name in csv.text
    check(page, shots, "overview")
    # The print stylesheet leaves the navigation and the buttons out.
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.get_by_role("link", name="Export CSV").is_visible()
    assert row.is_visible()
    page.emulate_media(media="screen")


def test_delete_deployment_with_confirmation(page, registry, base_url):
    dep = registry["dep"]
    page.goto(f"{base_url}/#/deployments/{dep}")
    page.get_by_role("heading", name=dep).wait_for()
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name=f"Delete {dep}").click()
    assert requests.get(f"{base_url}/api/v1/deployments/{dep}", timeout=10).status_code == 200
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Delete {dep}").click()
    page.get_by_role("heading", name="Deployments").wait_for()
    assert requests.get(f"{base_url}/api/v1/deployments/{dep}", timeout=10).status_code == 404
