"""The web UI in a real Chromium (Debian's package, driven by Playwright): runs logged with
the official MLflow client show on the experiments, runs and run pages as a person would
check them; each page is screenshotted and checked with axe-core for serious accessibility
violations. MLSHIP_UI_SCREENSHOTS=DIR keeps the screenshots there too (docs/img)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import REPO_ROOT, Server, _free_port
from helpers import unique_name
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

pytestmark = pytest.mark.mlship_only

CHROMIUM = shutil.which("chromium")
AXE = REPO_ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (make system-deps installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r tests/requirements.txt)")
if not AXE.exists():
    pytest.skip("axe-core is not installed: run make ui (npm ci in ui/)", allow_module_level=True)

LOSS = [1.0, 0.8, 0.55, 0.42, 0.3, 0.26, 0.2, 0.18, 0.15, 0.12]
NOTES = "The model was trained on the March data.\nSecond line.\n"
BIG = 1024 * 1024  # bytes of the large artifact: the preview must read only its start


@pytest.fixture(scope="module")
def seeded(base_url, tmp_path_factory):
    """An experiment of five runs with params, a loss history and artifacts, and another of
    450 runs for the table's paging."""
    client = MlflowClient(base_url)
    name = unique_name("ui-pages")
    eid = client.create_experiment(name)
    runs = []
    for i, lr in enumerate([0.1, 0.03, 0.01, 0.003, 0.001]):
        run = client.create_run(eid, run_name=f"lr-{lr}")
        rid = run.info.run_id
        t0 = int(time.time() * 1000)
        scale = 1 + i / 10
        metrics = [Metric("loss", v * scale, t0 + step * 1000, step) for step, v in enumerate(LOSS)]
        metrics.append(Metric("accuracy", 0.7 + i / 20, t0, 0))
        client.log_batch(rid, metrics=metrics, params=[Param("lr", str(lr)), Param("model", "tree" if i % 2 else "linear")])
        client.set_tag(rid, "team", "fraud")
        client.set_terminated(rid, "FINISHED", end_time=run.info.start_time + 12_000)
        runs.append({"id": rid, "name": f"lr-{lr}", "last_loss": LOSS[-1] * scale, "lr": lr, "scale": scale})
    art = tmp_path_factory.mktemp("artifacts")
    (art / "notes.txt").write_text(NOTES)
    (art / "metrics.json").write_text('{"auc": 0.91, "rows": 1200}')
    (art / "big.log").write_text(("0123456789abcdef" * 4 + "\n") * (BIG // 65 + 1))
    for f in ("notes.txt", "metrics.json", "big.log"):
        client.log_artifact(runs[0]["id"], str(art / f))

    many = client.create_experiment(unique_name("ui-many"))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.create_run(many, run_name=f"run-{i:03d}", start_time=1_700_000_000_000 + i), range(450)))
    return {"eid": eid, "name": name, "runs": runs, "many": many}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    d = tmp_path_factory.mktemp("ui-screenshots")
    yield d
    keep = os.environ.get("MLSHIP_UI_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for f in d.iterdir():
            shutil.copy(f, Path(keep) / f.name)


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    # Injected before each document, as DevTools does: the page's own CSP forbids inline scripts.
    ctx.add_init_script(path=str(AXE))
    pg = ctx.new_page()
    pg.problems = []
    pg.on("console", lambda m: m.type == "error" and pg.problems.append(m.text))
    pg.on("pageerror", lambda e: pg.problems.append(str(e)))
    yield pg
    ctx.close()


def check(page, shots, name):
    """Screenshots the page and runs axe-core on it: no serious or critical violation, and
    no error in the console (a CSP refusal would show there)."""
    for scheme in ("light", "dark"):  # the theme follows the system's
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(shots / f"ui-{name}{'-dark' if scheme == 'dark' else ''}.png"), full_page=True)
        violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""")
        assert violations == [], f"{name} ({scheme}): accessibility violations:\n" + "\n".join(violations)
    page.emulate_media(color_scheme="light")
    expected = "Failed to load resource: the server responded with a status of 4"  # refusals the page shows
    assert [p for p in page.problems if not p.startswith(expected)] == [], f"{name}: console errors: {page.problems}"


def body_rows(page):
    return page.locator('.grid [role="rowgroup"]:not(.head) [role="row"]')


def test_root_serves_the_app_with_its_headers(base_url):
    r = requests.get(base_url + "/", timeout=30)
    assert r.status_code == 200 and '<div id="app">' in r.text
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    # The page's inline scripts run by their hashes, each one's and no other; never 'unsafe-inline'.
    csp = r.headers["Content-Security-Policy"]
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    hashes = re.findall(r"'sha256-([^']+)'", csp)
    assert inline and "unsafe" not in csp
    assert hashes == [base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in inline], csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-cache"
    script = r.text.split('src="', 1)[1].split('"', 1)[0]
    a = requests.get(base_url + script, headers={"Accept-Encoding": "br, gzip"}, timeout=30)
    assert a.status_code == 200 and a.headers["Content-Encoding"] == "br"
    assert a.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_experiments_page(page, seeded, base_url, shots):
    page.goto(base_url + "/")
    page.get_by_role("heading", name="Experiments").wait_for()
    page.get_by_role("link", name=seeded["name"]).wait_for()
    check(page, shots, "experiments")

    page.get_by_label("Search by name").fill(seeded["name"])
    page.get_by_label("Search by name").press("Enter")
    page.wait_for_function("() => location.hash.includes('q=')")
    page.get_by_text("1 experiment matching").wait_for()
    assert page.locator("table.list tbody tr").count() == 1

    # create, rename, delete
    created = unique_name("ui-created")
    page.get_by_label("New experiment").fill(created)
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name=created).wait_for()
    eid = page.evaluate("() => location.hash.split('/')[2].split('?')[0]")
    client = MlflowClient(base_url)
    assert client.get_experiment(eid).name == created

    page.goto(base_url + f"/#/experiments?q={created}")
    page.get_by_role("button", name=f"Rename {created}").click()
    page.get_by_label(f"New name of {created}").fill(created + "-renamed")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Renamed").wait_for()
    assert client.get_experiment(eid).name == created + "-renamed"

    page.goto(base_url + f"/#/experiments?q={created}-renamed")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=f"Delete {created}-renamed").click()
    page.get_by_role("status").filter(has_text="Deleted").wait_for()
    assert client.get_experiment(eid).lifecycle_stage == "deleted"


def test_runs_page_sorts_and_filters_on_the_server(page, seeded, base_url, shots):
    page.goto(base_url + f"/#/experiments/{seeded['eid']}")
    page.get_by_role("heading", name=seeded["name"]).wait_for()
    page.get_by_text("5 runs loaded").wait_for()
    assert body_rows(page).count() == 5
    check(page, shots, "runs")

    # Sorting by the loss column asks the server: highest last loss first, then lowest.
    by_loss = sorted(seeded["runs"], key=lambda r: r["last_loss"])
    page.locator('[role="columnheader"]', has_text="loss").get_by_role("button").click()
    page.wait_for_function("() => new URLSearchParams(location.hash.split('?')[1]).get('order') === 'metrics.`loss` DESC'")
    page.locator('[role="columnheader"][aria-sort="descending"]', has_text="loss").wait_for()
    page.wait_for_function(f"() => document.querySelector('.grid [role=\"rowgroup\"]:not(.head) [role=\"row\"] a')?.textContent === {by_loss[-1]['name']!r}")
    page.locator('[role="columnheader"]', has_text="loss").get_by_role("button").click()
    page.wait_for_function(f"() => document.querySelector('.grid [role=\"rowgroup\"]:not(.head) [role=\"row\"] a')?.textContent === {by_loss[0]['name']!r}")

    # The filter box completes the keys of the loaded runs.
    box = page.get_by_label("Filter")
    box.fill("params.model = 'tree' and metrics.acc")
    page.wait_for_function("""() => [...document.querySelectorAll('#filter-completions option')].map(o => o.value)
        .includes("params.model = 'tree' and metrics.accuracy")""")

    # A filter in MLflow's grammar is applied by the server.
    box.fill("params.model = 'tree' and metrics.accuracy > 0.7")
    box.press("Enter")
    page.get_by_text("2 runs loaded").wait_for()
    names = sorted(body_rows(page).locator("a").all_text_contents())
    assert names == sorted(r["name"] for i, r in enumerate(seeded["runs"]) if i % 2)

    # A bad filter shows the server's own message.
    bad = "metrics.loss <<< 1"
    want = requests.post(base_url + "/api/2.0/mlflow/runs/search", json={"experiment_ids": [seeded["eid"]], "filter": bad},
                         timeout=30).json()["message"]
    box.fill(bad)
    box.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert want in alert.text_content()
    check(page, shots, "runs-bad-filter")


# Records the first page's calls the inline script (ui/src/early.ts) hands to the app, as it
# hands them over: the app takes them and deletes the global.
EARLY_TRAP = """Object.defineProperty(window, 'mlshipEarly', {configurable: true,
  get() { return this.__early; }, set(v) { this.__early = v; window.earlyKeys = Object.keys(v); }});"""


def test_runs_page_first_calls_leave_as_the_page_is_parsed(page, seeded, base_url):
    """The runs page's first calls start from the script inlined in index.html, which the
    page's CSP allows by its hash, and the app takes their answers: each is asked once."""
    page.add_init_script(EARLY_TRAP)
    asked = []
    page.on("request", lambda r: "/api/" in r.url and asked.append(f"{r.method} {r.url.split('/api/', 1)[1]}"))
    page.goto(base_url + f"/#/experiments/{seeded['eid']}?order=" + requests.utils.quote("metrics.`loss` ASC"))
    page.get_by_text("5 runs loaded").wait_for()
    page.get_by_role("heading", name=seeded["name"]).wait_for()
    assert body_rows(page).first.locator("a").text_content() == min(seeded["runs"], key=lambda r: r["last_loss"])["name"]
    keys = page.evaluate("window.earlyKeys")
    assert [k.split(" ", 2)[:2] for k in keys] == [
        ["GET", "/api/v1/whoami"], ["GET", f"/api/2.0/mlflow/experiments/get?experiment_id={seeded['eid']}"],
        ["POST", "/api/2.0/mlflow/runs/search"]], keys
    assert "metrics.`loss` ASC" in keys[2]
    assert page.evaluate("window.mlshipEarly") is None  # taken by the app
    assert sorted(asked) == sorted(["GET v1/whoami", f"GET 2.0/mlflow/experiments/get?experiment_id={seeded['eid']}",
                                    "POST 2.0/mlflow/runs/search"]), asked
    assert page.problems == []  # a script the CSP refused would be reported here

    # Another page asks only who the caller is early; its own calls are the app's.
    page.goto(base_url + "/#/models")
    page.reload()
    page.get_by_role("heading", name="Models").wait_for()
    assert [k.split(" ", 2)[:2] for k in page.evaluate("window.earlyKeys")] == [["GET", "/api/v1/whoami"]]
    assert page.problems == []


def test_runs_table_pages_as_it_scrolls(page, seeded, base_url, shots):
    page.goto(base_url + f"/#/experiments/{seeded['many']}")
    page.get_by_text("200+ runs loaded").wait_for()
    # Only the rows in view (and a few more) are in the DOM.
    assert 10 < body_rows(page).count() < 60
    assert body_rows(page).first.locator("a").text_content() == "run-449"  # newest first
    grid = page.locator(".grid")
    for loaded in ("400+ runs loaded", "450 runs loaded"):
        grid.evaluate("g => g.scrollTo(0, g.scrollHeight)")
        page.get_by_text(loaded).wait_for()
    grid.evaluate("g => g.scrollTo(0, g.scrollHeight)")
    page.get_by_role("link", name="run-000").wait_for()
    assert body_rows(page).count() < 60
    check(page, shots, "runs-scrolled")


def test_view_run_link_lands_on_the_run_with_its_chart_and_artifacts(page, seeded, base_url, shots):
    run = seeded["runs"][0]
    # The link the MLflow client prints ("View run ... at: URI/#/experiments/ID/runs/RUN").
    page.goto(f"{base_url}/#/experiments/{seeded['eid']}/runs/{run['id']}")
    page.get_by_role("heading", name=run["name"]).wait_for()
    page.get_by_text("FINISHED", exact=True).wait_for()
    page.get_by_text("12.0 s", exact=True).wait_for()  # the duration
    page.locator('[data-metric="loss"] canvas').wait_for()
    data = page.locator('[data-metric="loss"]').evaluate("el => el.uplot.data")
    assert data[0] == list(range(len(LOSS)))
    assert data[1] == pytest.approx([v * run["scale"] for v in LOSS])
    page.get_by_role("cell", name="lr", exact=True).wait_for()

    # The x axis by relative time, and the log scale.
    page.get_by_label("X axis").select_option("relative")
    page.wait_for_function("() => document.querySelector('[data-metric=\"loss\"]').uplot.data[0][1] === 1")
    page.get_by_label("Log scale").check()
    page.wait_for_function("() => document.querySelector('[data-metric=\"loss\"]').uplot.scales.y.distr === 3")

    page.get_by_role("button", name="notes.txt").click()
    page.get_by_label("Contents of notes.txt").wait_for()
    assert page.get_by_label("Contents of notes.txt").text_content() == NOTES
    check(page, shots, "run")

    page.get_by_role("button", name="metrics.json").click()
    page.get_by_label("Contents of metrics.json").wait_for()
    assert '"auc": 0.91' in page.get_by_label("Contents of metrics.json").text_content()

    # A large file: only its first 64 KB are read and shown, and the page says so.
    with page.expect_response(lambda r: r.url.endswith("/big.log")) as resp:
        page.get_by_role("button", name="big.log").click()
    assert resp.value.request.headers.get("range") == "bytes=0-65535"
    page.get_by_text("The first 64 KB of 1.0 MB").wait_for()
    assert len(page.get_by_label("Contents of big.log").text_content()) == 64 * 1024


ADMIN_PASSWORD = "admin-password-for-ui"


@pytest.fixture(scope="module")
def auth_server():
    s = Server("mlship", Path(tempfile.mkdtemp(prefix="mlship-ui-auth-")), ["--auth"],
               env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    s.start()
    yield s
    s.stop()


def test_sign_in_form_with_auth(page, auth_server, shots):
    challenges = []
    page.on("response", lambda r: r.status == 401 and challenges.append(r.headers.get("www-authenticate")))
    page.goto(auth_server.url + "/#/experiments")
    page.get_by_role("heading", name="Sign in to mlship").wait_for()
    assert challenges == [None], "the UI's 401 must not carry a Basic challenge (the browser's own dialog)"
    assert page.get_by_text("Sign in with single sign-on").count() == 0  # no OIDC provider configured
    check(page, shots, "sign-in")

    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password or API token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="wrong").wait_for()

    page.get_by_label("Password or API token").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Experiments").wait_for()
    page.get_by_text("admin", exact=True).wait_for()
    # The password is kept for this tab only: a reload stays signed in.
    page.reload()
    page.get_by_role("heading", name="Experiments").wait_for()
    assert page.evaluate("() => localStorage.length") == 0


@pytest.fixture(scope="module")
def sso_server():
    """A server signing browsers in through the OpenID provider tests/test_oidc.py uses."""
    provider_bin = REPO_ROOT / ".tools" / "bin" / "oidc-provider"
    if not provider_bin.exists():
        pytest.fail(f"{provider_bin} is missing: run `make deps`")
    base = Path(tempfile.mkdtemp(prefix="mlship-ui-sso-"))
    secret = "ui-client-secret"
    srv = Server("mlship", base, env={"MLSHIP_ADMIN_PASSWORD": ADMIN_PASSWORD, "MLSHIP_OIDC_CLIENT_SECRET": secret})
    provider_url = f"http://127.0.0.1:{_free_port()}"
    log = open(base / "provider.log", "wb")
    provider = subprocess.Popen([str(provider_bin), "--addr", provider_url.removeprefix("http://"), "--client-id", "mlship",
                                 "--client-secret", secret, "--redirect-uri", srv.url + "/auth/callback",
                                 "--user", "ana:ana-password:ana@example.com:"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert provider.poll() is None and time.monotonic() < deadline, "the OpenID provider did not start"
            try:
                if requests.get(provider_url + "/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        srv.extra_args = ["--auth", "--oidc-issuer", provider_url, "--oidc-client-id", "mlship",
                          "--oidc-redirect-url", srv.url + "/auth/callback"]
        srv.start()
        yield srv
    finally:
        srv.stop()
        provider.terminate()
        provider.wait(timeout=10)
        log.close()


def test_single_sign_on_and_csrf(page, sso_server, shots):
    page.goto(sso_server.url + "/#/experiments")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.locator('input[name="username"]').fill("ana")
    page.locator('input[name="password"]').fill("ana-password")
    page.locator('input[name="password"]').press("Enter")
    # Back from the provider, signed in by the session cookie, on the page it left.
    page.get_by_role("heading", name="Experiments").wait_for()
    page.wait_for_function("() => location.hash === '#/experiments'")
    page.get_by_text("ana", exact=True).wait_for()
    # A change under the session carries its CSRF token (the server refuses it otherwise).
    name = unique_name("ui-sso")
    with page.expect_request(lambda r: r.url.endswith("/experiments/create")) as req:
        page.get_by_label("New experiment").fill(name)
        page.get_by_role("button", name="Create").click()
    assert req.value.headers.get("x-csrf-token")
    page.get_by_role("heading", name=name).wait_for()
    assert requests.get(sso_server.url + "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name},
                        auth=("admin", ADMIN_PASSWORD), timeout=30).ok
    # Opened afresh on that runs page, its first calls leave before the app holds the CSRF
    # token (ui/src/early.ts): the search the server refuses without it is asked again with it.
    page.reload()
    page.get_by_role("heading", name=name).wait_for()
    page.get_by_text("0 runs loaded").wait_for()
    assert page.get_by_role("alert").count() == 0
    # Signing out ends the session: the sign-in form is back.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to mlship").wait_for()
