"""Runs Evidently's DataDriftPreset, and scipy directly, on datasets built from
the data scikit-learn ships, and writes what they found for the Go test
(internal/drift/evidently_test.go) to compare with mlship's drift package.

    python evidently_check.py OUTDIR

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
from evidently.presets import DataDriftPreset

METHOD_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
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
}


def kind_of(column_type):
    return {ColumnType.Numerical: "numerical", ColumnType.Categorical: "categorical", ColumnType.Text: "text"}.get(column_type, "unknown")


def run(name, outdir):
    ref, cur, injected, options = SCENARIOS[name]()
    ref_path, cur_path = os.path.join(outdir, name + ".ref.csv"), os.path.join(outdir, name + ".cur.csv")
    ref.to_csv(ref_path, index=False)
    cur.to_csv(cur_path, index=False)
    ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)

    # Evidently infers kinds from the data it is given; pin the rule to the
    # reference (as mlship does) by handing Evidently its own inference on it.
    kinds = {c: kind_of(infer_column_type(ref[c])) for c in ref.columns}
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numerical"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    preset = DataDriftPreset(**options)
    snapshot = Report([preset], include_tests=True).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
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


def main(outdir):
    # Evidently is imported once, then the scenarios run in forked workers.
    with multiprocessing.get_context("fork").Pool(min(2, os.cpu_count() or 1)) as pool:
        scenarios = pool.starmap(run, [(name, outdir) for name in SCENARIOS])
    results = {"scenarios": scenarios}
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
