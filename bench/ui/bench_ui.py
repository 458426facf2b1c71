"""bench/ui: the runs page of an experiment with N runs x 20 metrics, in headless Chromium
(Debian's package, driven by Playwright), served by mlship and by MLflow's own `mlflow server`,
side by side: time to first rows, time to interactive (a click on a run's checkbox answered)
and, for mlship, the compressed JavaScript its first page loads. Both servers run the whole
time and the loads alternate between them. See bench/README.md.

Run with the test venv's Python (Playwright): `.venv/bin/python bench/ui/bench_ui.py`.
MLflow's store is seeded by this same file run with .venv-bench's Python (`seed-mlflow`)."""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000_000
METRICS = 20
EXPERIMENT = "bench-ui"


def run_data(i: int):
    """Run i of the seeded experiment: the same on both servers."""
    start = T0 + i * 1000
    metrics = {f"m_{k:02d}": round(((i * 7919 + k * 104729) % 100_000) / 100_000, 5) for k in range(METRICS)}
    params = {"lr": str([0.1, 0.03, 0.01, 0.003][i % 4]), "batch_size": str(32 << (i % 3)), "model": ["linear", "tree", "mlp"][i % 3]}
    return f"run-{i:06d}", start, metrics, params


# --- MLflow's store, seeded in-process with its own SQLAlchemy models (.venv-bench) ---------

def seed_mlflow(db: str, artifacts: str, n: int) -> None:
    import uuid

    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", artifacts)
    # A classic ML experiment, as MLflow 3's client marks one when it logs runs: its UI opens
    # the GenAI views otherwise.
    from mlflow.entities import ExperimentTag

    eid = store.create_experiment(EXPERIMENT, tags=[ExperimentTag("mlflow.experimentKind", "custom_model_development")])
    chunk = 5000
    with store.engine.begin() as conn:
        for lo in range(0, n, chunk):
            runs, tags, params, metrics, latest = [], [], [], [], []
            for i in range(lo, min(n, lo + chunk)):
                name, start, ms, ps = run_data(i)
                rid = uuid.uuid4().hex
                runs.append(dict(run_uuid=rid, name=name, source_type="LOCAL", source_name="", entry_point_name="",
                                 user_id="bench", status="RUNNING", start_time=start, end_time=None, source_version="",
                                 lifecycle_stage="active", artifact_uri=f"{artifacts}/{eid}/{rid}/artifacts", experiment_id=int(eid)))
                tags += [dict(key="mlflow.runName", value=name, run_uuid=rid), dict(key="mlflow.user", value="bench", run_uuid=rid)]
                params += [dict(key=k, value=v, run_uuid=rid) for k, v in ps.items()]
                for k, v in ms.items():
                    row = dict(key=k, value=v, timestamp=start, step=0, is_nan=False, run_uuid=rid)
                    metrics.append(row)
                    latest.append(row)
            conn.execute(m.SqlRun.__table__.insert(), runs)
            conn.execute(m.SqlTag.__table__.insert(), tags)
            conn.execute(m.SqlParam.__table__.insert(), params)
            conn.execute(m.SqlMetric.__table__.insert(), metrics)
            conn.execute(m.SqlLatestMetric.__table__.insert(), latest)
    print(eid)


# --- servers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(base: str, proc: subprocess.Popen, timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench/ui: server exited with status {proc.returncode}")
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench/ui: {base} did not answer /health within {timeout:.0f} s")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by pid and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(d)] = fields
        children.setdefault(int(fields[1]), []).append(int(d))
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][11]) + int(stats[p][12])) / tick
        todo += children.get(p, [])
    return total


def wait_settled(pids: list[int], share: float, window: float, timeout: float) -> float:
    """Waits until the processes pids and their descendants together use under share of a core
    over window seconds, and returns the seconds waited. After the start, MLflow's workers
    start after its first one answers /health; after a load, a server may still work on what
    the closed page asked, and the browser on closing it. Either would fall on the next load,
    of either UI."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = sum(tree_cpu_seconds(p) for p in pids)
        time.sleep(window)
        if sum(tree_cpu_seconds(p) for p in pids) - before < share * window:
            return time.monotonic() - t0
    print(f"bench/ui: the servers were still busy after {timeout:.0f} s; measuring anyway", file=sys.stderr)
    return time.monotonic() - t0


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def seed_mlship(data_dir: Path, n: int, seeder: str) -> str:
    """Seeds mlship's store the way seed_mlflow seeds MLflow's: directly, before its server
    starts (tests/seedruns writes through the tracking service the server uses)."""
    out = subprocess.run([seeder, "--data-dir", str(data_dir), "--runs", str(n), "--metrics", str(METRICS), "--experiment", EXPERIMENT],
                         check=True, capture_output=True, text=True, timeout=3600)
    return out.stdout.strip().splitlines()[-1]


def floor_server(newest: str):
    """A static page of one row, the newest run's name and a checkbox, served from a thread:
    the same steps on it take what the browser and Playwright take themselves (the floor under
    both UIs' figures)."""
    import http.server
    import threading

    body = (f'<!doctype html><html lang="en"><title>floor</title><div role="table"><div role="row">'
            f'<span>{newest}</span><input type="checkbox" aria-label="Select"></div></div></html>').encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"


# --- the browser --------------------------------------------------------------------------

def measure(browser, url: str, newest: str, collect_js: bool, timeout_ms: int, latency_ms: float = 0):
    """One cold load (fresh context, empty cache): seconds to first rows and to interactive,
    and the scripts loaded before first rows (url -> gzip size) when collect_js. latency_ms
    adds that much to every request's round trip (Chromium's network emulation)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    if latency_ms:
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1})
    scripts: dict[str, object] = {}
    errors: list[str] = []
    page.on("response", lambda r: errors.append(f"{r.status} {r.request.method} {r.url.split('/', 3)[-1][:80]}") if r.status >= 400 else None)
    if collect_js:
        page.on("response", lambda r: scripts.setdefault(r.url, r) if r.request.resource_type == "script" else None)
    try:
        t = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_ms)
        crashed = page.get_by_text("Something went wrong")  # MLflow's UI when one of its calls failed
        page.get_by_text(newest, exact=True).or_(crashed).first.wait_for(state="visible", timeout=timeout_ms)
        if crashed.count():
            raise RuntimeError("the page said 'Something went wrong' after the answers " + "; ".join(errors or ["(no failed answer)"]))
        first = time.perf_counter() - t
        loaded_before = dict(scripts)
        box = page.locator('[role="row"]', has_text=newest).locator('input[type="checkbox"]').first
        box.check(timeout=timeout_ms)  # clicks, and fails unless the box is then checked
        interactive = time.perf_counter() - t
        sizes = {}
        for u, resp in loaded_before.items():
            body = resp.body()
            sizes[u] = (len(gzip.compress(body, 9)), resp.headers.get("content-encoding", ""))
        if collect_js:  # scripts inlined in the page count too
            inline = page.evaluate("() => [...document.scripts].filter(s => !s.src).map(s => s.text).join('')")
            if inline:
                sizes["inline scripts of the page"] = (len(gzip.compress(inline.encode(), 9)), "inline")
        return first, interactive, sizes
    except Exception:
        shot = Path(tempfile.gettempdir()) / "bench-ui-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"bench/ui: {url}: page at failure saved to {shot}", file=sys.stderr)
        raise
    finally:
        ctx.close()


def start_target(target: str, d: Path, args) -> tuple[subprocess.Popen, str, float, str]:
    """Seeds a target's store with args.runs runs, starts its server on d, and returns the
    process, the runs page's URL, the seconds seeding took and how it was seeded."""
    d.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(d / "server.log", "wb")
    t = time.perf_counter()
    if target == "mlship":
        eid = seed_mlship(d / "data", args.runs, args.seeder)
        how = "tests/seedruns"
        if args.baseline_bin:  # the baseline serves a copy of this store, taken before its server opens it
            shutil.copytree(d / "data", d.parent / "baseline-data")
            args.seeded_eid = eid
        cmd = [args.mlship_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(d / "data")]
        page = f"{base}/#/experiments/{eid}"
    elif target == "baseline":
        shutil.move(d.parent / "baseline-data", d / "data")
        eid, how = args.seeded_eid, "a copy of mlship's"
        cmd = [args.baseline_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(d / "data")]
        page = f"{base}/#/experiments/{eid}"
    elif target == "mlflow":
        out = subprocess.run([args.mlflow_python, __file__, "seed-mlflow", str(d / "mlflow.db"), str(d / "artifacts"), str(args.runs)],
                             check=True, capture_output=True, text=True, timeout=3600)
        eid = out.stdout.strip().splitlines()[-1]
        how = "SQLAlchemy bulk inserts"
        cmd = [args.mlflow_python, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{d}/mlflow.db",
               "--artifacts-destination", str(d / "artifacts"), "--host", "127.0.0.1", "--port", str(port)]
        page = f"{base}/#/experiments/{eid}/runs"  # the runs table, not the experiment's GenAI overview
    else:
        raise SystemExit(f"bench/ui: unknown target {target} (want mlship or mlflow)")
    seeded = time.perf_counter() - t
    print(f"bench/ui: {target}'s store seeded with {args.runs} runs ({how}) in {seeded:.1f} s", file=sys.stderr)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_health(base, proc, 120)
    except BaseException:
        stop(proc)
        raise
    return proc, page, seeded, how


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "seed-mlflow":
        seed_mlflow(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000, help="runs in the experiment (20 metrics, 3 params each)")
    ap.add_argument("--repeat", type=int, default=7, help="cold page loads per UI, alternating between them (medians are reported)")
    ap.add_argument("--targets", default="mlship,mlflow")
    ap.add_argument("--mlship-bin", default=str(ROOT / "bin" / "mlship"))
    ap.add_argument("--baseline-bin", help="another mlship binary (an earlier build), served beside --mlship-bin on a copy of "
                    "its store and loaded in turn with the others: the ratio baseline / mlship says what a change gained")
    ap.add_argument("--seeder", default=str(ROOT / ".tools" / "bin" / "seedruns"), help="tests/seedruns, built (make bench-ui builds it)")
    ap.add_argument("--mlflow-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--timeout", type=float, default=300, help="seconds any one page step may take")
    ap.add_argument("--latency", type=float, default=0, help="milliseconds added to every request's round trip, for all "
                    "pages alike (Chromium's network emulation): a server across a network rather than on this machine")
    args = ap.parse_args()
    if args.runs < 1 or args.repeat < 1:
        ap.error("--runs and --repeat must be at least 1")
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("bench/ui: Debian's chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.baseline_bin:
        if "mlship" not in targets:
            ap.error("--baseline-bin is compared with mlship: keep mlship in --targets")
        targets.append("baseline")
    newest = run_data(args.runs - 1)[0]
    timeout_ms = int(args.timeout * 1000)
    loads: dict[str, list[tuple[float, float] | None]] = {t: [] for t in targets}
    failed: dict[str, list[str]] = {t: [] for t in targets}
    js: dict[str, tuple[int, str]] = {}
    floor: list[tuple[float, float]] = []
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, sync_playwright() as p:
        try:
            pages = {}
            for target in targets:
                proc, url, _, _ = start_target(target, Path(tmp) / target, args)
                procs.append(proc)
                pages[target] = url
            waited = wait_settled([p.pid for p in procs], 0.05, 2, 180)
            print(f"bench/ui: the servers settled {waited:.0f} s after they answered /health", file=sys.stderr)
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            # The browser's own start (its first context and renderer) is neither UI's: one
            # blank page first, unmeasured. Neither server is asked anything by it.
            warm = browser.new_context()
            warm.new_page().goto("data:text/html,<p>warm</p>")
            warm.close()
            # Both servers run the whole time and the loads alternate, so that the machine's
            # other load falls on both alike.
            # the servers, and this process's own: Playwright's driver and the browser
            everything = [p.pid for p in procs] + [os.getpid()]
            settle: dict[str, list[float]] = {t: [] for t in targets}
            for k in range(args.repeat):
                for target in targets:
                    settle[target].append(wait_settled(everything, 0.05, 0.5, 60))
                    try:
                        f, i, sizes = measure(browser, pages[target], newest, target == "mlship" and not js, timeout_ms, args.latency)
                    except Exception as e:  # a load that failed is counted, and the next one tried
                        failed[target].append(str(e).splitlines()[0])
                        loads[target].append(None)
                        print(f"bench/ui: {target} load {k + 1} failed: {failed[target][-1]}", file=sys.stderr)
                        continue
                    loads[target].append((f, i))
                    if target == "mlship" and not js:
                        js = sizes
                    print(f"bench/ui: {target} load {k + 1}: first rows {f:.3f} s, interactive {i:.3f} s "
                          f"(the servers and the browser settled in {settle[target][-1]:.1f} s before it)", file=sys.stderr)
            srv, url = floor_server(newest)
            for _ in range(args.repeat):
                wait_settled(everything, 0.05, 0.5, 60)
                f, i, _ = measure(browser, url, newest, False, timeout_ms, args.latency)
                floor.append((f, i))
            srv.shutdown()
            browser.close()
        finally:
            for proc in procs:
                stop(proc)

    print(f"\nbench/ui: runs page of an experiment with {args.runs} runs x {METRICS} metrics, headless Chromium "
          f"({args.repeat} cold loads each, alternating; medians){f', {args.latency:g} ms added to each round trip' if args.latency else ''}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':10} {'first rows s':>13} {'interactive s':>14}   all loads (first / interactive)")
    for t, ls in loads.items():
        ok = [x for x in ls if x is not None]
        fs, is_ = [a for a, _ in ok], [b for _, b in ok]
        if not ok:
            print(f"{t:10} {'failed':>13} {'failed':>14}   every load failed: {failed[t][0]}")
            continue
        print(f"{t:10} {statistics.median(fs):13.3f} {statistics.median(is_):14.3f}   "
              f"{' '.join(f'{a:.2f}' for a in fs)} / {' '.join(f'{a:.2f}' for a in is_)}"
              + (f"   ({len(failed[t])} of {len(ls)} loads failed)" if failed[t] else ""))
    for other, label, digits in (("mlflow", "ratio", 1), ("baseline", "gained", 2)):
        if other not in loads or "mlship" not in loads:
            continue
        pairs = [(a, b) for a, b in zip(loads[other], loads["mlship"]) if a is not None and b is not None]
        if pairs:
            rf = statistics.median(a[0] / b[0] for a, b in pairs)
            ri = statistics.median(a[1] / b[1] for a, b in pairs)
            print(f"{label:10} {rf:12.{digits}f}x {ri:13.{digits}f}x   ({'MLflow' if other == 'mlflow' else 'baseline'} / mlship, "
                  f"median of the {len(pairs)} alternating pairs where both loaded)")
    if floor:
        print(f"{'floor':10} {statistics.median(a for a, _ in floor):13.3f} {statistics.median(b for _, b in floor):14.3f}   "
              "the same steps on a static page of one row: what the browser and Playwright take, inside every figure above")
    for t, errs in failed.items():
        for e in sorted(set(errs)):
            print(f"{t}: {errs.count(e)} failed load(s): {e}")
    if js:
        total = sum(s for s, _ in js.values())
        print(f"\nmlship's first page: {len(js)} scripts before first rows, {total / 1024:.1f} KiB gzip (-9) in all (target 300 KB)")
        for u, (s, enc) in sorted(js.items()):
            how = "in the page" if enc == "inline" else "served " + (enc or "uncompressed")
            print(f"  {s / 1024:7.1f} KiB  {u.split('/', 3)[-1]}  ({how})")


if __name__ == "__main__":
    main()
