"""Dataset versions and drift reports, through the command line and the REST API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests
from helpers import mlship, unique_name

pytestmark = pytest.mark.mlship_only




@pytest.fixture(scope="module")
def wine():
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame


SHIFTED = ["alcohol", "magnesium", "proline"]


def test_register_show_and_reregister(server, wine, tmp_path):
    name = unique_name("wine")
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    v = json.loads(mlship(server, "data", "add", name, str(path), "-o", "json").stdout)
    assert v["version"] == 1 and v["created"] is True
    assert v["rows"] == len(wine)
    assert v["digest"].startswith("sha256:")
    fields = {f["name"]: f for f in v["schema"]["fields"]}
    assert set(fields) == set(wine.columns)
    assert fields["alcohol"]["kind"] == "numerical"
    again = json.loads(mlship(server, "data", "add", name, str(path), "-o", "json").stdout)
    assert again["version"] == 1 and again["created"] is False and again["digest"] == v["digest"]
    # For people: one line per column, not the whole schema on one line.
    shown = mlship(server, "data", "add", name, str(path), "--quiet").stdout.splitlines()
    assert max(len(line) for line in shown) < 120, shown
    assert ["alcohol", "float", "numerical"] in [line.split() for line in shown], shown
    prof = requests.get(f"{server.url}/api/v1/datasets/{name}/versions/1/profile", timeout=30).json()
    assert prof["rows"] == len(wine)
    alcohol = next(c for c in prof["columns"] if c["name"] == "alcohol")
    assert alcohol["count"] == len(wine) and alcohol["nulls"] == 0
    listed = json.loads(mlship(server, "data", "list", "-o", "json").stdout)["datasets"]
    assert name in [d["name"] for d in listed]


def test_drift_finds_exactly_the_shifted_columns(server, wine, tmp_path):
    name = unique_name("wine")
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    wine.to_csv(ref, index=False)
    shifted = wine.copy()
    rng = np.random.default_rng(0)
    for col in SHIFTED:
        shifted[col] = shifted[col] + 2 * shifted[col].std() + rng.normal(0, 0.01, len(shifted))
    shifted.to_csv(cur, index=False)
    mlship(server, "data", "add", name, str(ref))
    mlship(server, "data", "add", name, str(cur))
    html = tmp_path / "report.html"
    report = json.loads(mlship(server, "drift", "compare", f"{name}/1", f"{name}/2", "--html", str(html), "-o", "json").stdout)
    drifted = sorted(c["name"] for c in report["columns"] if c["drifted"])
    assert drifted == sorted(SHIFTED), report
    assert report["dataset_drift"] is False
    # Each column says how its score meets its threshold: a p-value drifts below it.
    for c in report["columns"]:
        assert c["score_is_p_value"] is (c["method"] in ("ks", "chisquare", "z")), c
        if c["drifted"]:
            assert (c["score"] <= c["threshold"]) if c["score_is_p_value"] else (c["score"] >= c["threshold"]), c
    page = html.read_text()
    assert "<svg" in page and "<script" not in page
    r = requests.post(
        f"{server.url}/api/v1/drift?format=html",
        json={"reference": {"dataset": name, "version": "1"}, "current": {"dataset": name}},
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


WORDS = (
    "delivery arrived late box damaged support answered quickly refund issued product works great battery "
    "lasts long screen bright sound quality poor price fair would recommend again never ordered size fits "
    "color faded after wash shipping cost high packaging nice instructions unclear setup easy app crashes"
).split()


def _reviews(rng, n, words):
    return [" ".join(rng.choice(words, size=rng.randint(4, 12))).capitalize() + "." for _ in range(n)]


def test_text_columns_count_in_the_drifted_share(server, wine, tmp_path):
    # One of two numerical columns drifts beside two unchanged text columns:
    # Evidently counts four columns, one drifted (share 0.25), no dataset drift.
    rng = np.random.RandomState(31)
    frames = []
    for _ in range(2):
        d = wine[["alcohol", "malic_acid"]].iloc[rng.randint(0, len(wine), size=300)].reset_index(drop=True)
        d["review"], d["title"] = _reviews(rng, len(d), WORDS), _reviews(rng, len(d), WORDS[:30])
        frames.append(d)
    ref, cur = frames
    cur["alcohol"] += 1.0
    name = unique_name("reviews")
    for i, frame in enumerate(frames):
        frame.to_csv(tmp_path / f"{i}.csv", index=False)
        mlship(server, "data", "add", name, str(tmp_path / f"{i}.csv"))
    report = json.loads(mlship(server, "drift", "compare", f"{name}/1", f"{name}/2", "-o", "json").stdout)
    columns = {c["name"]: c for c in report["columns"]}
    assert set(columns) == {"alcohol", "malic_acid", "review", "title"}, report
    assert report["share_of_drifted_columns"] == 0.25 and report["dataset_drift"] is False, report
    for text in ("review", "title"):
        c = columns[text]
        assert c["kind"] == "text" and c["method"] == "perc_text_content_drift", c
        assert c["method_name"] == "Percentile text content drift" and not c["drifted"], c
        assert 0.3 < c["score"] < 0.7, c
    # The table says which test judged each column.
    table = mlship(server, "drift", "compare", f"{name}/1", f"{name}/2").stdout
    assert "Percentile text content drift" in table, table
    # Taking kinds from the reference is an option; a bad value is the client's mistake.
    r = requests.post(
        f"{server.url}/api/v1/drift",
        json={"reference": {"dataset": name, "version": "1"}, "current": {"dataset": name}, "kinds_from": "sideways"},
        timeout=60,
    )
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", r.text
    again = json.loads(mlship(server, "drift", "compare", f"{name}/1", f"{name}/2", "--kinds-from", "reference", "-o", "json").stdout)
    assert again["share_of_drifted_columns"] == 0.25


@pytest.mark.parametrize(
    "content,where",
    [
        ("a,b\n1,2\n3,4,5\n", "line 3"),
        ("", None),
        ("a,b\n1,\"unterminated\n", None),
        ("a,b\n1,\"unterminated\n3,4\n5,6\n", "line 2: malformed input: extraneous or missing \" in quoted-field in the record that starts on this line"),
        ("a,b\n1,2\n3,4\nfive,6\n", 'line 4, column "a"'),
        ("a,b\n1,2\n3,4\nfive,6\n", "--allow-mixed-types"),
    ],
    ids=["ragged", "empty", "bad-quote", "quote-never-closed", "mixed-types", "mixed-types-hint"],
)
def test_bad_files_are_refused_and_nothing_is_registered(server, tmp_path, content, where):
    name = unique_name("bad")
    path = tmp_path / "bad.csv"
    path.write_text(content)
    p = mlship(server, "data", "add", name, str(path), check=False)
    assert p.returncode == 1, (p.returncode, p.stderr)
    if where:
        assert where in p.stderr, p.stderr
    missing = mlship(server, "data", "list", name, check=False)
    assert missing.returncode == 3, missing.stderr


def test_huge_field_is_refused_with_its_line(server, tmp_path):
    name = unique_name("huge")
    path = tmp_path / "huge.csv"
    path.write_text("a,b\n1,2\n3," + "x" * (2 << 20) + "\n")
    p = mlship(server, "data", "add", name, str(path), check=False)
    assert p.returncode == 1 and "line 3" in p.stderr, p.stderr


def test_unknown_dataset_and_bad_names(server):
    r = requests.get(f"{server.url}/api/v1/datasets/nope-{unique_name()}/versions/1", timeout=10)
    assert r.status_code == 404
    r = requests.post(f"{server.url}/api/v1/datasets/..%2Fx/versions?file=a.csv", data=b"a\n1\n",
                      headers={"Content-Type": "text/csv"}, timeout=10)
    assert r.status_code in (400, 404)


def test_mixed_types_can_be_kept_as_text(server, tmp_path):
    name = unique_name("mixed")
    path = tmp_path / "mixed.csv"
    path.write_text("a,b\n1,2\n3,4\nfive,6\n")
    v = json.loads(mlship(server, "data", "add", name, str(path), "--allow-mixed-types", "-o", "json").stdout)
    fields = {f["name"]: f for f in v["schema"]["fields"]}
    assert fields["a"]["type"] == "string" and fields["b"]["type"] == "integer"


TESTDATA = Path(__file__).resolve().parent / "testdata"


def _profile_summary(server, name):
    prof = requests.get(f"{server.url}/api/v1/datasets/{name}/versions/1/profile", timeout=30).json()
    cols = {c["name"]: (c["kind"], c["type"], c["count"], c["nulls"], (c.get("numbers") or {}).get("mean"))
            for c in prof["columns"]}
    return prof["rows"], cols


@pytest.mark.parametrize("how", ["cli", "api:application/vnd.apache.parquet", "api:application/octet-stream"])
def test_parquet_is_profiled_as_the_same_data_in_csv(server, how):
    # credit.parquet and credit.csv hold the same 500 rows (a nullable float among them).
    csv_name, name = unique_name("credit-csv"), unique_name("credit-pq")
    mlship(server, "data", "add", csv_name, str(TESTDATA / "credit.csv"))
    if how == "cli":
        v = json.loads(mlship(server, "data", "add", name, str(TESTDATA / "credit.parquet"), "-o", "json").stdout)
    else:
        body = (TESTDATA / "credit.parquet").read_bytes()  # requests sends its Content-Length
        r = requests.post(f"{server.url}/api/v1/datasets/{name}/versions?file=credit.parquet", data=body,
                          headers={"Content-Type": how.removeprefix("api:")}, timeout=30)
        assert r.status_code == 200, r.text
        v = r.json()
    assert v["format"] == "parquet" and v["rows"] == 500
    rows, cols = _profile_summary(server, name)
    want_rows, want_cols = _profile_summary(server, csv_name)
    assert rows == want_rows == 500
    assert cols.keys() == want_cols.keys()
    for col, (kind, typ, count, nulls, mean) in cols.items():
        wkind, wtyp, wcount, wnulls, wmean = want_cols[col]
        assert (kind, typ, count, nulls) == (wkind, wtyp, wcount, wnulls), col
        assert mean == pytest.approx(wmean, rel=1e-12) if wmean is not None else mean is None, col
