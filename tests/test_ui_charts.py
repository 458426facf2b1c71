"""The UI's charts and run comparison in a real Chromium (the harness of test_ui_pages.py):
a run with a 1,000,000-point metric renders from the server's downsampled history without
freezing the page, says it is downsampled and keeps a spike in its min/max band, and a zoom
reads its range again; three runs chosen in the runs table compare as overlaid series, parallel
coordinates and a scatter of their values. MLSHIP_UI_SCREENSHOTS=DIR keeps the screenshots."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import unique_name
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from test_ui_pages import browser, check, page, shots  # noqa: F401 (fixtures)

pytestmark = pytest.mark.mlship_only

BIG_POINTS = 1_000_000
SPIKE_STEP, SPIKE = 654_321, 100.0
BATCH = 1000  # the most metrics one log-batch carries


def big_value(step):
    return SPIKE if step == SPIKE_STEP else 0.5 + 0.4 * math.sin(step / 5000)


def drag(page, chart, start, end):
    """Drags the mouse across a chart, from start to end (shares of its width)."""
    box = page.locator(chart + " .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


@pytest.fixture(scope="module")
def big_run(base_url):
    """A run whose metric "signal" has 1,000,000 points (one spike), logged with log-batch
    a thousand points a request, eight requests at a time."""
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("ui-big"))
    rid = client.create_run(eid, run_name="big").info.run_id
    t0 = int(time.time() * 1000) - BIG_POINTS

    local = threading.local()

    def send(start):
        session = local.__dict__.setdefault("session", requests.Session())
        metrics = [{"key": "signal", "value": big_value(s), "timestamp": t0 + s, "step": s} for s in range(start, start + BATCH)]
        r = session.post(f"{base_url}/api/2.0/mlflow/runs/log-batch", json={"run_id": rid, "metrics": metrics}, timeout=60)
        assert r.status_code == 200, r.text

    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, BIG_POINTS, BATCH)))
    print(f"\nlogged {BIG_POINTS:,} points in {time.monotonic() - began:.1f} s")
    client.set_terminated(rid)
    return {"eid": eid, "id": rid}


def test_a_million_points_render_downsampled_without_freezing(page, big_run, base_url, shots):
    began = time.monotonic()
    page.goto(f"{base_url}/#/experiments/{big_run['eid']}/runs/{big_run['id']}")
    page.get_by_role("heading", name="big").wait_for()
    # While the history loads, the page answers a click at once.
    clicked = time.monotonic()
    page.get_by_label("Log scale").check(timeout=1000)
    page.get_by_label("Log scale").uncheck(timeout=1000)
    answered = time.monotonic() - clicked
    page.locator('[data-metric="signal"] canvas').wait_for()
    page.wait_for_function("() => document.querySelector('[data-metric=\"signal\"]').uplot?.data[0].length > 0")
    rendered = time.monotonic() - began
    fetched = page.evaluate("() => performance.getEntriesByType('resource').filter(e => e.name.includes('/history?')).map(e => e.duration)")
    print(f"\n{BIG_POINTS:,}-point metric: chart drawn {rendered:.2f} s after navigation "
          f"(of which the server's downsampled answer {fetched[0] / 1000:.2f} s); a click answered in {answered:.3f} s")
    assert answered < 1.0

    note = page.locator('[data-history="signal"] [data-role="sampling"]')
    assert "1,000,000 points, shown as 1,000 buckets, min/max kept" in note.text_content()
    data = page.locator('[data-metric="signal"]').evaluate("el => el.uplot.data")
    xs, line, lo, hi = data[0], data[1], data[2], data[3]
    assert len(xs) == 1000 and xs[0] == 0
    # The spike's bucket keeps it as its maximum, though its first and last values are not it.
    b = max(i for i, x in enumerate(xs) if x <= SPIKE_STEP)
    assert hi[b] == SPIKE and max(hi) == SPIKE
    assert line[b] != SPIKE and lo[b] < 1
    check(page, shots, "chart-big")

    # Smoothing draws a second line; the raw one stays.
    page.get_by_label("Smoothing").fill("0.9")
    page.wait_for_function("() => document.querySelector('[data-metric=\"signal\"]').uplot.series[4].show === true")

    # Dragging across a tenth of the chart reads that range again, in more detail.
    drag(page, '[data-metric="signal"]', 0.6, 0.65)
    page.wait_for_function("() => document.querySelector('[data-metric=\"signal\"]').uplot.data[0][0] > 0")
    page.get_by_text("points in view", exact=False).wait_for()
    zoomed = page.locator('[data-metric="signal"]').evaluate("el => el.uplot.data[0]")
    assert zoomed[0] > 0.5 * BIG_POINTS and zoomed[-1] < 0.75 * BIG_POINTS
    assert zoomed[1] - zoomed[0] < xs[1] - xs[0]  # finer buckets than the whole history's
    page.get_by_role("button", name="Show all 1,000,000").click()
    page.wait_for_function("() => document.querySelector('[data-metric=\"signal\"]').uplot.data[0][0] === 0")


@pytest.fixture(scope="module")
def three_runs(base_url):
    client = MlflowClient(base_url)
    eid = client.create_experiment(unique_name("ui-compare"))
    runs = []
    for i, (lr, depth) in enumerate([(0.1, 4), (0.03, 6), (0.01, 8)]):
        run = client.create_run(eid, run_name=f"cmp-{lr}")
        rid = run.info.run_id
        t0 = int(time.time() * 1000)
        loss = [1.0 / (1 + step * (i + 1) / 10) for step in range(50)]
        client.log_batch(rid, metrics=[Metric("loss", v, t0 + s * 100, s) for s, v in enumerate(loss)] + [Metric("auc", 0.8 + i / 20, t0, 0)],
                         params=[Param("lr", str(lr)), Param("depth", str(depth)), Param("model", "tree" if i else "linear")])
        client.set_terminated(rid)
        runs.append({"id": rid, "name": f"cmp-{lr}", "lr": lr, "depth": depth, "loss": loss[-1], "auc": 0.8 + i / 20})
    return {"eid": eid, "runs": runs}


def test_compare_three_runs(page, three_runs, base_url, shots):
    eid, runs = three_runs["eid"], three_runs["runs"]
    page.goto(f"{base_url}/#/experiments/{eid}")
    # The smallest and largest value of each run's loss history, as columns.
    page.get_by_role("button", name="Columns").click()
    page.get_by_label("loss (min)").check()
    page.get_by_label("loss (max)").check()
    # They are the last two columns: the table draws only the columns in view, so scroll there.
    page.locator(".grid").evaluate("g => { g.scrollLeft = g.scrollWidth }")
    smallest = page.get_by_role("columnheader", name="loss (min)").get_attribute("aria-colindex")
    largest = page.get_by_role("columnheader", name="loss (max)").get_attribute("aria-colindex")
    for r in runs:
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=r["name"], exact=True))
        low, high = row.locator(f'[aria-colindex="{smallest}"]'), row.locator(f'[aria-colindex="{largest}"]')
        page.wait_for_function("c => c.textContent !== ''", arg=high.element_handle())
        assert float(low.text_content()) == pytest.approx(r["loss"], rel=1e-5)
        assert float(high.text_content()) == 1.0
    for r in runs:
        page.get_by_label(f"Select {r['name']}").check()
    page.get_by_role("button", name="Compare 3").click()
    page.get_by_role("heading", name="Compare 3 runs").wait_for()
    assert "/compare?runs=" in page.url

    page.locator('[data-compare="loss"] canvas').wait_for()
    page.wait_for_function("() => document.querySelector('[data-compare=\"loss\"]').uplot?.series.length === 4")
    labels = page.locator('[data-compare="loss"]').evaluate("el => el.uplot.series.slice(1).map(s => s.label)")
    assert sorted(labels) == sorted(r["name"] for r in runs)
    data = page.locator('[data-compare="loss"]').evaluate("el => el.uplot.data")
    assert data[0] == list(range(50)) and all(len(s) == 50 for s in data[1:])
    # Dragging across the overlay reads every run's history again over that range.
    drag(page, '[data-compare="loss"]', 0.2, 0.4)
    page.locator('[data-overlay="loss"][data-zoomed="true"]').get_by_text("points in view", exact=False).wait_for()
    zoomed = page.locator('[data-compare="loss"]').evaluate("el => el.uplot.data")
    assert 5 <= zoomed[0][0] and zoomed[0][-1] <= 25 and len(zoomed[0]) < 50
    assert all(v is not None for s in zoomed[1:] for v in s)  # each run has every step in view
    page.locator('[data-overlay="loss"]').get_by_role("button", name="Show all").click()
    page.wait_for_function("() => document.querySelector('[data-compare=\"loss\"]').uplot.data[0].length === 50")

    assert page.locator("svg.parallel polyline").count() == 3

    page.get_by_label("Scatter X").select_option("params.lr")
    page.get_by_label("Scatter Y").select_option("metrics.loss")
    points = page.locator("svg.scatter circle").evaluate_all(
        "cs => cs.map(c => [c.dataset.run, Number(c.dataset.x), Number(c.dataset.y)])")
    assert sorted(points) == sorted([r["id"], r["lr"], pytest.approx(r["loss"])] for r in runs)
    page.get_by_label("Scatter Y").select_option("params.depth")
    points = page.locator("svg.scatter circle").evaluate_all("cs => cs.map(c => [c.dataset.run, Number(c.dataset.y)])")
    assert sorted(points) == sorted([r["id"], r["depth"]] for r in runs)
    check(page, shots, "compare")
