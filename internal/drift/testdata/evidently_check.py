"""Runs Evidently's DataDriftPreset, and scipy directly, on datasets built from
the data scikit-learn ships, and writes what they found for the Go test
(internal/drift/evidently_test.go) to compare with mlship's drift package.

    python evidently_check.py OUTDIR [SCENARIO...]

For each scenario it writes OUTDIR/NAME.ref.csv and OUTDIR/NAME.cur.csv, reads
them back with pandas (as a user would), runs Evidently on them and records
every column's method, threshold, score and verdict, the dataset verdict, and
scipy's ks_2samp and wasserstein_distance on the numerical columns. The
result goes to OUTDIR/results.json.
"""
import json
import multiprocessing
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import datasets

from evidently import DataDefinition, Dataset, Report
from evidently.core.datasets import infer_column_type
from evidently.legacy.core import ColumnType
from evidently.legacy.utils import data_drift_utils
from evidently.presets import DataDriftPreset

# Evidently computes each text column's drift three times (the column's
# metric, the dataset's and the table's), each drawing 1,000 random
# classifiers: remember the random classifiers' percentile per labels, which
# is a pure function of them, so the check runs in minutes, not tens.
_random_percentile = data_drift_utils.roc_auc_random_classifier_percentile
_percentiles = {}


def _remembered_percentile(y_test, p_value=0.05, iter_num=1000, seed=42):
    key = (np.asarray(y_test).tobytes(), p_value, iter_num, seed)
    if key not in _percentiles:
        _percentiles[key] = _random_percentile(y_test, p_value=p_value, iter_num=iter_num, seed=seed)
    return _percentiles[key]


data_drift_utils.roc_auc_random_classifier_percentile = _remembered_percentile

METHOD_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Absolute text content drift": "abs_text_content_drift",
    "Percentile text content drift": "perc_text_content_drift",
}


def split(frame, n_ref, seed):
    idx = np.random.RandomState(seed).permutation(len(frame))
    return frame.iloc[idx[:n_ref]].reset_index(drop=True), frame.iloc[idx[n_ref:]].reset_index(drop=True)


def wine():
    d = datasets.load_wine(as_frame=True).frame
    ref, cur = split(d, 89, 0)
    cur["alcohol"] += 1.0
    cur["color_intensity"] *= 1.6
    cur["proline"] += 300
    return ref, cur, ["alcohol", "color_intensity", "proline"], {}


def breast_cancer():
    d = datasets.load_breast_cancer(as_frame=True).frame
    ref, cur = split(d, 300, 2)
    cur["mean radius"] += 3.0
    cur["worst texture"] *= 1.5
    cur["mean smoothness"] += 0.02
    cur["area error"] *= 2.0
    return ref, cur, ["mean radius", "worst texture", "mean smoothness", "area error"], {}


def diabetes():
    d = datasets.load_diabetes(as_frame=True).frame
    ref, cur = split(d, 221, 3)
    cur["bmi"] += 0.03
    cur["s5"] -= 0.03
    # flip the sex of most of one group so the two-valued column drifts
    values = sorted(cur["sex"].unique())
    cur.loc[cur.index[: len(cur) // 2], "sex"] = values[1]
    return ref, cur, ["bmi", "s5", "sex"], {}


def digits():
    d = datasets.load_digits(as_frame=True).frame
    ref, cur = split(d, 1200, 5)
    cur["pixel_2_3"] = (cur["pixel_2_3"] // 2).astype("int64")
    cur["pixel_5_2"] = (cur["pixel_5_2"] + 8).clip(upper=24).astype("int64")
    cur["target"] = cur["target"].where(cur["target"] > 2, 9)
    return ref, cur, None, {}


def mixed_types():
    d = datasets.load_wine(as_frame=True).frame
    d["cultivar"] = d["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    d["strong"] = d["alcohol"] > 13.0
    d = d.drop(columns=["target"])
    ref, cur = split(d, 100, 2)
    cur.loc[cur.index[:10], "ash"] = np.nan
    ref.loc[ref.index[:7], "hue"] = np.inf
    cur.loc[cur.index[5:20], "magnesium"] = np.nan
    cur["cultivar"] = cur["cultivar"].where(cur["cultivar"] != "barbera", "nebbiolo")
    cur["strong"] = cur["alcohol"] > 12.0
    return ref, cur, ["cultivar", "strong"], {}


def overrides(options):
    def build():
        d = datasets.load_breast_cancer(as_frame=True).frame
        ref, cur = split(d, 350, 17)
        cur["mean texture"] += 2.0
        cur["worst area"] *= 1.3
        return ref, cur, None, options
    return build


def ks_asymptotic():
    d = datasets.load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    rng = np.random.RandomState(23)
    ref, _ = split(d, 400, 23)
    cur = d.iloc[rng.randint(0, len(d), size=12000)].reset_index(drop=True)
    cur = cur + rng.normal(scale=0.05, size=cur.shape) * d.std().values
    cur["mean perimeter"] *= 1.2
    return ref, cur, ["mean perimeter"], {}


WORDS = (
    "delivery arrived late box damaged support answered quickly refund issued product works great battery "
    "lasts long screen bright sound quality poor price fair would recommend again never ordered size fits "
    "color faded after wash shipping cost high packaging nice instructions unclear setup easy app crashes "
    "often customer service helpful warranty covered replacement strap broke charger missing fabric soft "
    "zipper stuck material cheap design elegant smells strange taste fresh portion small staff friendly"
).split()
NEW_WORDS = (
    "subscription renewal invoice account password login verification firmware update bluetooth pairing "
    "latency dashboard export spreadsheet calendar sync notification badge widget tutorial onboarding"
).split()


def sentences(rng, n, words, extra=None, extra_share=0.0):
    out = []
    for _ in range(n):
        k = rng.randint(4, 12)
        pool = words
        if extra is not None and rng.rand() < extra_share:
            pool = extra
        out.append(" ".join(rng.choice(pool, size=k)).capitalize() + ".")
    return out


def text_columns():
    # the example of a report counting text columns: one of two numerics
    # drifts beside two unchanged text columns
    d = datasets.load_wine(as_frame=True).frame[["alcohol", "malic_acid"]]
    rng = np.random.RandomState(31)
    d = d.iloc[rng.randint(0, len(d), size=600)].reset_index(drop=True)
    d["review"] = sentences(rng, len(d), WORDS)
    d["title"] = sentences(rng, len(d), WORDS[:40])
    ref, cur = split(d, 300, 31)
    cur["alcohol"] += 1.0
    return ref, cur, ["alcohol"], {}


def text_drift():
    d = datasets.load_wine(as_frame=True).frame[["alcohol", "hue"]]
    rng = np.random.RandomState(37)
    d = d.iloc[rng.randint(0, len(d), size=500)].reset_index(drop=True)
    ref, cur = split(d, 250, 37)
    ref["review"] = sentences(rng, len(ref), WORDS)
    cur["review"] = sentences(rng, len(cur), WORDS, NEW_WORDS, 0.4)
    ref["note"] = sentences(rng, len(ref), WORDS)
    cur["note"] = sentences(rng, len(cur), WORDS, NEW_WORDS, 0.03)
    return ref, cur, None, {}


def text_large():
    # more than 1000 reference rows: the absolute ROC AUC threshold
    d = datasets.load_breast_cancer(as_frame=True).frame[["mean radius", "mean texture"]]
    rng = np.random.RandomState(41)
    d = d.iloc[rng.randint(0, len(d), size=2600)].reset_index(drop=True)
    ref, cur = split(d, 1300, 41)
    ref["comment"] = sentences(rng, len(ref), WORDS)
    cur["comment"] = sentences(rng, len(cur), WORDS, NEW_WORDS, 0.3)
    ref["remark"] = sentences(rng, len(ref), WORDS)
    cur["remark"] = sentences(rng, len(cur), WORDS)
    return ref, cur, None, {}


def mixed_strings():
    # a string column whose values include numbers: pandas keeps "1" and
    # "1.0" apart
    d = datasets.load_wine(as_frame=True).frame[["alcohol", "hue"]]
    rng = np.random.RandomState(43)
    ref, cur = split(d, 90, 43)
    ref["code"] = rng.choice(["1", "2", "x"], size=len(ref), p=[0.6, 0.2, 0.2])
    cur["code"] = rng.choice(["1.0", "2", "x"], size=len(cur), p=[0.6, 0.2, 0.2])
    ref["grade"] = rng.choice(["1", "1.5", "A", "B"], size=len(ref))
    cur["grade"] = rng.choice(["1", "1.5", "A", "B"], size=len(cur))
    return ref, cur, ["code"], {}


def nullable_booleans():
    d = datasets.load_wine(as_frame=True).frame[["alcohol", "hue", "proline"]]
    ref, cur = split(d, 90, 47)
    ref["strong"], cur["strong"] = ref["alcohol"] > 13.0, cur["alcohol"] > 12.0
    cur["strong"] = cur["strong"].astype(object)
    cur.loc[cur.index[:5], "strong"] = np.nan  # missing in current: Evidently leaves it Unknown
    ref["pale"], cur["pale"] = ref["hue"] > 1.0, cur["hue"] > 0.7
    ref["pale"] = ref["pale"].astype(object)
    ref.loc[ref.index[:5], "pale"] = np.nan  # missing in the reference only: compared
    return ref, cur, ["pale"], {}


def kinds_differ():
    d = datasets.load_wine(as_frame=True).frame[["alcohol", "hue"]]
    rng = np.random.RandomState(53)
    d = d.iloc[rng.randint(0, len(d), size=400)].reset_index(drop=True)
    ref, cur = split(d, 200, 53)
    # 10 distinct integers in the reference (categorical), 11 in the current (numerical)
    ref["rating"] = rng.randint(0, 10, size=len(ref))
    cur["rating"] = rng.randint(0, 11, size=len(cur))
    # 11 in the reference, 10 in the current
    ref["floors"] = rng.randint(0, 11, size=len(ref))
    cur["floors"] = rng.randint(1, 11, size=len(cur))
    # categorical in the reference, text in the current
    ref["city"] = rng.choice(["paris", "lyon", "nice", "lille"], size=len(ref))
    cur["city"] = [f"{c} {i}" for i, c in enumerate(rng.choice(["paris", "lyon", "nice", "lille"], size=len(cur)))]
    return ref, cur, None, {}


def kinds_from_reference():
    ref, cur, _, _ = kinds_differ()
    return ref, cur, None, {"kinds_from": "reference"}


SCENARIOS = {
    "wine": wine,
    "breast_cancer": breast_cancer,
    "diabetes": diabetes,
    "digits": digits,
    "mixed_types": mixed_types,
    "psi": overrides({"num_method": "psi", "cat_method": "psi"}),
    "jensenshannon": overrides({"method": "jensenshannon", "per_column_threshold": {"worst area": 0.05}}),
    "kl_div": overrides({"num_method": "kl_div", "threshold": 0.05}),
    "per_column": overrides({
        "per_column_method": {"mean texture": "wasserstein", "mean radius": "psi", "target": "jensenshannon"},
        "num_threshold": 0.01, "cat_threshold": 0.2, "drift_share": 0.1,
    }),
    "ks_asymptotic": ks_asymptotic,
    "text_columns": text_columns,
    "text_drift": text_drift,
    "text_large": text_large,
    "mixed_strings": mixed_strings,
    "nullable_booleans": nullable_booleans,
    "kinds_differ": kinds_differ,
    "kinds_from_reference": kinds_from_reference,
}


def kind_of(column_type):
    return {ColumnType.Numerical: "numerical", ColumnType.Categorical: "categorical", ColumnType.Text: "text"}.get(column_type, "unknown")


def run(name, outdir):
    ref, cur, injected, options = SCENARIOS[name]()
    ref_path, cur_path = os.path.join(outdir, name + ".ref.csv"), os.path.join(outdir, name + ".cur.csv")
    ref.to_csv(ref_path, index=False)
    cur.to_csv(cur_path, index=False)
    ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)

    # Evidently infers each dataset's kinds from its own data and compares
    # the columns as the current data's kinds say. kinds_from=reference (an
    # mlship option) pins them to the reference by handing Evidently its own
    # inference on the reference.
    options = dict(options)
    kinds_from = options.pop("kinds_from", "current")
    kinds = {c: kind_of(infer_column_type((ref if kinds_from == "reference" else cur)[c])) for c in ref.columns}
    definition = None
    if kinds_from == "reference":
        definition = DataDefinition(
            numerical_columns=[c for c, k in kinds.items() if k == "numerical"],
            categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
            text_columns=[c for c, k in kinds.items() if k == "text"],
        )
    preset = DataDriftPreset(**options)
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    if kinds_from != "current":
        options["kinds_from"] = kinds_from
    out = snapshot.dict()
    columns, share = {}, None
    for metric in out["metrics"]:
        config = metric["config"]
        if config["type"] == "evidently:metric_v2:ValueDrift":
            columns[config["column"]] = {
                "method": METHOD_NAMES.get(config["method"], config["method"]),
                "threshold": config["threshold"],
                "score": float(metric["value"]),
            }
        elif config["type"] == "evidently:metric_v2:DriftedColumnsCount":
            share = metric["value"]["share"]
    for test in out["tests"]:
        prefix = "Value Drift for column "
        if test["name"].startswith(prefix):
            columns[test["name"][len(prefix):]]["drifted"] = test["status"] == "FAIL"
    for c in columns:
        columns[c]["kind"] = kinds[c]
        if kinds[c] == "numerical":
            a = ref[c].replace([np.inf, -np.inf], np.nan).dropna().to_numpy()
            b = cur[c].replace([np.inf, -np.inf], np.nan).dropna().to_numpy()
            ks = stats.ks_2samp(a, b)
            columns[c]["scipy"] = {
                "ks_statistic": float(ks.statistic),
                "ks_pvalue": float(ks.pvalue),
                "wasserstein_normed": float(stats.wasserstein_distance(a, b) / max(float(np.std(a)), 0.001)),
            }
    drift_share = options.get("drift_share", 0.5)
    return {
        "name": name,
        "reference": os.path.basename(ref_path),
        "current": os.path.basename(cur_path),
        "options": options,
        "injected": injected,
        "columns": columns,
        "share_of_drifted_columns": share,
        "dataset_drift": bool(share >= drift_share),
    }


def main(outdir, names):
    # Evidently is imported once, then the scenarios run in forked workers.
    with multiprocessing.get_context("fork").Pool(min(2, os.cpu_count() or 1)) as pool:
        scenarios = pool.starmap(run, [(name, outdir) for name in names or SCENARIOS])
    results = {"scenarios": scenarios}
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
