"""The web UI's gate page and artifact previews in Debian's chromium, driven by Playwright as
test_ui_pages.py does: a model with a benchmark (sliced by a column) and two evaluated
versions shows its benchmark, its evaluations with the API's metrics, the leaderboard and the
protected alias's audit trail after an override; a run's CSV shows as a table of the file's
cells, its MLmodel with its flavors, and an HTML file in a sandboxed frame whose script never
runs. axe-core finds no serious violation. MLSHIP_UI_SCREENSHOTS=DIR keeps the screenshots."""

from __future__ import annotations

import csv

import mlflow
import mlflow.onnx
import numpy as np
import pytest
import requests
from gates_common import evaluate
from helpers import mlship, pinned, unique_name
from mlflow import MlflowClient
from test_ui_pages import browser, check, page, shots  # noqa: F401  (the shared browser fixtures)

pytestmark = pytest.mark.mlship_only

OVERRIDE = "incident 7: roll back to the simpler model"


@pytest.fixture(scope="module")
def gated(server, tmp_path_factory):
    """A diabetes regressor as ONNX in two versions, both evaluated on a benchmark sliced by
    sex; version 1 holds @production, then @production is moved to version 2 by an override."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    frame = load_diabetes(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    Xf = X.to_numpy(np.float32)
    mlflow.set_tracking_uri(server.url)
    name = unique_name("ui-gated")
    for model in (Ridge(alpha=0.5).fit(Xf, y), Ridge(alpha=1e6).fit(Xf, y)):
        with mlflow.start_run():
            mlflow.onnx.log_model(to_onnx(model, Xf[:1], target_opset=17), name="model", registered_model_name=name,
                                  pip_requirements=pinned("onnx"))
    data = unique_name("ui-gated-holdout")
    path = tmp_path_factory.mktemp("ui-gates") / "holdout.csv"
    frame.to_csv(path, index=False)
    mlship(server, "data", "add", data, str(path))
    mlship(server, "gate", "set", name, "--dataset", f"{data}/1", "--target", "target", "--task", "regression",
           "--threshold", "root_mean_squared_error<=60", "--slice-by", "sex", "--protect", "production")
    code, first = evaluate(server, f"{name}/1")
    assert code == 0, first
    client = MlflowClient(server.url)
    client.set_registered_model_alias(name, "production", "1")
    _, second = evaluate(server, f"{name}/2")
    mlship(server, "models", "alias", name, "production", "2", "--override", OVERRIDE)
    return {"name": name, "dataset": f"{data}/1", "evaluations": [second, first]}


def test_gate_page(page, gated, base_url, shots):
    name = gated["name"]
    api = f"{base_url}/api/v1/models/{name}"
    bench = requests.get(f"{api}/benchmark", timeout=30).json()
    evaluations = requests.get(f"{api}/evaluations", timeout=30).json()["evaluations"]
    assert len(evaluations) == 2

    page.goto(f"{base_url}/#/models/{name}")
    page.get_by_role("link", name="Benchmark, evaluations, leaderboard and alias audit").click()
    page.get_by_role("heading", name=f"{name}: benchmark and gate").wait_for()
    page.locator("#evaluations").wait_for()
    facts = page.locator("[data-fact]").evaluate_all("dds => Object.fromEntries(dds.map(d => [d.dataset.fact, d.textContent]))")
    assert facts["dataset"].startswith(bench["definition"]["dataset"]) and bench["definition"]["dataset"] == gated["dataset"]
    assert facts["target"] == "target" and facts["task"] == "regression" and facts["protected"] == "@production"
    assert "≤ 60" in page.locator('[data-threshold="root_mean_squared_error"]').text_content()

    # Each evaluation's metrics are the API's.
    for e in evaluations:
        row = page.locator(f'#evaluations tr[data-evaluation="{e["id"]}"]')
        got = row.locator("[data-metric]").evaluate_all(
            "tds => Object.fromEntries(tds.map(td => [td.dataset.metric, td.dataset.value === '' ? null : Number(td.dataset.value)]))")
        assert got == pytest.approx(e["result"]["metrics"]), e["id"]
        assert ("passed" if e["passed"] else "failed") in row.text_content()
        # And by slice.
        slices = page.locator(f'details.slices[data-evaluation="{e["id"]}"]')
        slices.locator("summary").click()
        for s in e["result"]["slices"]:
            cells = slices.locator(f'tr[data-slice="{s["column"]}:{s["value"]}"] [data-metric]').evaluate_all(
                "tds => Object.fromEntries(tds.map(td => [td.dataset.metric, Number(td.dataset.value)]))")
            assert cells == pytest.approx(s["metrics"])

    # The leaderboard: lower RMSE first (version 1), and by r2_score the same order.
    board = page.locator("#leaderboard tbody tr")
    assert board.evaluate_all("trs => trs.map(t => t.dataset.version)") == ["1", "2"]
    rmse = {e["version"]: e["result"]["metrics"]["root_mean_squared_error"] for e in evaluations}
    assert rmse["1"] < rmse["2"]
    page.get_by_label("Rank by").select_option("mean_absolute_error")
    page.get_by_role("columnheader", name="mean_absolute_error").last.wait_for()
    mae = sorted(evaluations, key=lambda e: e["result"]["metrics"]["mean_absolute_error"])
    assert board.evaluate_all("trs => trs.map(t => t.dataset.version)") == [e["version"] for e in mae]

    # The audit trail: the gate-passed move to version 1, then the override to version 2.
    audit = requests.get(f"{api}/alias-audit", timeout=30).json()["entries"]
    rows = page.locator("#audit tbody tr")
    assert rows.evaluate_all("trs => trs.map(t => t.dataset.action)") == [a["action"] for a in audit] == ["override", "passed"]
    assert OVERRIDE in rows.nth(0).text_content() and "v1 → v2" in rows.nth(0).text_content()
    check(page, shots, "model-gate")


CSV_ROWS = [["id", "city", "note"], ["1", "Lyon", 'says "hi", twice'], ["2", "Köln", "line one\nline two"], ["3", "", "last"]]
MARKER_HTML = """<!doctype html><html><body><h1>Report</h1><p id="p">Static text of the report.</p>
<script>parent.window.mlshipMarker = 1; window.top.mlshipMarker = 1; document.getElementById('p').textContent = 'script ran';</script>
</body></html>"""
MLMODEL = """artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.17.0
    providers:
    - CPUExecutionProvider
  python_function:
    data: model.onnx
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.onnx
    python_version: 3.11.2
mlflow_version: 2.20.0
model_uuid: 0123456789abcdef
# a comment
"""


@pytest.fixture(scope="module")
def previewed(base_url, tmp_path_factory):
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("ui-previews"))
    run = client.create_run(eid, run_name="previews")
    d = tmp_path_factory.mktemp("previews")
    with open(d / "table.csv", "w", newline="") as f:
        csv.writer(f).writerows(CSV_ROWS)
    (d / "report.html").write_text(MARKER_HTML)
    (d / "MLmodel").write_text(MLMODEL)
    for f in ("table.csv", "report.html", "MLmodel"):
        client.log_artifact(run.info.run_id, str(d / f))
    return {"eid": eid, "run": run.info.run_id, "dir": str(tmp_path_factory.mktemp("downloaded"))}


def test_artifact_previews(page, previewed, base_url, shots):
    page.goto(f"{base_url}/#/experiments/{previewed['eid']}/runs/{previewed['run']}")
    page.get_by_role("heading", name="previews").wait_for()

    # The CSV: a table whose cells are the file's.
    page.get_by_role("button", name="table.csv").click()
    region = page.get_by_role("region", name="Contents of table.csv")
    region.wait_for()
    head = region.locator("thead th").all_text_contents()
    body = region.locator("tbody tr").evaluate_all("trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")
    stored = MlflowClient(base_url).download_artifacts(previewed["run"], "table.csv", previewed["dir"])
    with open(stored, newline="") as f:
        want = list(csv.reader(f))
    assert [head, *body] == want == CSV_ROWS
    check(page, shots, "run-preview-csv")

    # MLmodel: highlighted, with its flavors summarised.
    page.get_by_role("button", name="MLmodel").click()
    page.get_by_label("Contents of MLmodel").wait_for()
    assert page.get_by_label("Contents of MLmodel").text_content() == MLMODEL
    assert page.locator("tr[data-flavor]").evaluate_all("trs => trs.map(t => t.dataset.flavor)") == ["onnx", "python_function"]
    assert "loader_module: mlflow.onnx" in page.locator('tr[data-flavor="python_function"]').text_content()
    assert page.locator(".y-key", has_text="flavors").count() == 1
    check(page, shots, "run-preview-mlmodel")

    # HTML: shown in a frame sandboxed without scripts; its script never runs.
    page.get_by_role("button", name="report.html").click()
    frame_el = page.locator("iframe.html-preview")
    frame_el.wait_for()
    assert frame_el.get_attribute("sandbox") == ""
    frame = frame_el.content_frame
    frame.get_by_role("heading", name="Report").wait_for()
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.mlshipMarker") is None
    assert frame.locator("#p").text_content() == "Static text of the report."
    # The browser says why: the frame's sandbox has no allow-scripts.
    blocked = [p for p in page.problems if p.startswith("Blocked script execution in 'about:srcdoc'") and "allow-scripts" in p]
    assert blocked, page.problems
    page.problems[:] = [p for p in page.problems if p not in blocked]
    check(page, shots, "run-preview-html")
    # A full-page screenshot catches the frame mid-layout: the viewport shows it as it is.
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        frame_el.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        page.screenshot(path=str(shots / f"ui-run-preview-html{'-dark' if scheme == 'dark' else ''}.png"))
