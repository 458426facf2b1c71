"""The runs page of an experiment of 100,000 runs with 5 metrics each (bench/ui measures
20), in a real Chromium
(the harness of test_ui_pages.py): it opens on the newest runs, keeps only the rows in view in
the page, loads more as it scrolls, sorts and filters on the server over all 100,000 runs.
The store is filled by tests/seedruns (the tracking service the server writes with, without
HTTP: seeding 100,000 runs through the API would take minutes) before the server starts.
How fast the page opens is bench/ui's to measure; the figures here are only printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, Server
from test_ui_pages import body_rows, browser, check, page, shots  # noqa: F401 (fixtures)

pytestmark = pytest.mark.mlship_only

RUNS, METRICS = 100_000, 5


def value(i: int, k: int) -> float:
    """Metric m_{k:02d} of run i, as tests/seedruns logs it."""
    return ((i * 7919 + k * 104729) % 100_000) / 100_000


def seeder(tmp: Path) -> str:
    built = os.environ.get("MLSHIP_SEEDRUNS")
    if built and os.path.exists(built):
        return built
    out = tmp / "seedruns"
    subprocess.run(["go", "build", "-o", str(out), "./tests/seedruns"], cwd=REPO_ROOT, check=True, timeout=600)
    return str(out)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A server whose store holds an experiment of RUNS runs. Its data lives in memory
    (/dev/shm) where there is one: seeding is bound by fsync on a disk."""
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="ui-scale-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    try:
        server = Server("mlship", base)
        began = time.monotonic()
        out = subprocess.run([seeder(tmp_path_factory.mktemp("seedruns")), "--data-dir", str(server.data_dir),
                              "--runs", str(RUNS), "--metrics", str(METRICS), "--experiment", "ui-scale"],
                             check=True, capture_output=True, text=True, timeout=900)
        print(f"\nseeded {RUNS:,} runs x {METRICS} metrics in {time.monotonic() - began:.1f} s")
        server.start()
        try:
            yield {"url": server.url, "eid": out.stdout.strip().splitlines()[-1]}
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def status(page) -> str:
    return page.get_by_role("status").first.text_content() or ""


def test_a_hundred_thousand_runs_open_scroll_sort_and_filter(page, big, shots):
    url = f"{big['url']}/#/experiments/{big['eid']}"
    began = time.monotonic()
    page.goto(url)
    page.get_by_role("link", name=f"run-{RUNS - 1:06d}", exact=True).wait_for(timeout=60_000)
    print(f"\nfirst rows of {RUNS:,} runs in {time.monotonic() - began:.2f} s (bench/ui measures this)")
    page.wait_for_function("() => /^[\\d,]+\\+ runs loaded$/.test(document.querySelector('[role=status]').textContent)")
    loaded = int(status(page).split("+")[0].replace(",", ""))
    assert 0 < loaded < RUNS  # a page of runs, not all of them
    rows = body_rows(page)
    assert 0 < rows.count() < 100  # only the rows in view (and a few around them) are in the page
    check(page, shots, "runs-100k")

    # Scrolling to the end of what is loaded loads the next page, again and again; the page
    # keeps only the rows in view.
    grid = page.locator(".grid")
    for _ in range(5):
        before = loaded
        grid.evaluate("g => { g.scrollTop = g.scrollHeight }")
        page.wait_for_function(
            "n => { const m = /^([\\d,]+)\\+ runs loaded$/.exec(document.querySelector('[role=status]').textContent);"
            " return m && Number(m[1].replace(/,/g, '')) > n }", arg=before, timeout=60_000)
        loaded = int(status(page).split("+")[0].replace(",", ""))
    assert loaded >= 6 * 100
    grid.evaluate("g => { g.scrollTop = g.scrollHeight }")
    oldest_loaded = f"run-{RUNS - loaded:06d}"
    page.get_by_role("link", name=oldest_loaded, exact=True).wait_for()
    assert 0 < rows.count() < 100

    # Sorting by a metric is the server's, over all runs: the largest m_00 of the 100,000
    # comes first (run i's value is i * 7919 mod 100,000: each value once).
    top = max(range(RUNS), key=lambda i: value(i, 0))
    page.get_by_role("columnheader").get_by_role("button", name="m. m_00").click()
    page.wait_for_function("() => location.hash.includes('order=')")
    first = rows.first
    first.get_by_role("link", name=f"run-{top:06d}", exact=True).wait_for(timeout=60_000)
    assert f"{value(top, 0):g}" in first.text_content()

    # A filter is the server's too: the five runs whose m_00 is at least 0.99995.
    page.get_by_label("Filter").fill("metrics.m_00 >= 0.99995")
    page.get_by_label("Filter").press("Enter")
    page.wait_for_function("() => document.querySelector('[role=status]').textContent === '5 runs loaded'", timeout=60_000)
    want = sorted((i for i in range(RUNS) if value(i, 0) >= 0.99995), key=lambda i: -value(i, 0))
    names = [rows.nth(k).get_by_role("link").first.text_content() for k in range(rows.count())]
    assert names == [f"run-{i:06d}" for i in want]
