"""Compute scikit-learn's metrics on the cases internal/gate's reference test writes.

Usage: python sklearn_reference.py cases.json results.json

Each case holds predictions (class indices and probabilities, or numbers) and
the options mlship uses; the script calls the scikit-learn function a user
would call for the same number and writes every value, overall and per slice.
A metric scikit-learn leaves undefined (NaN, or a ValueError) is null.
"""

import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn import metrics as M

warnings.simplefilter("ignore")

ZERO_DIVISION = {"": "warn", "0": 0.0, "1": 1.0, "nan": np.nan}


def value(f):
    try:
        v = float(f())
    except ValueError:
        return None
    return None if np.isnan(v) else v


def classification(case, yt, yp, proba):
    k, pos = case["classes"], case["positive"]
    zd = ZERO_DIVISION[case.get("zero_division", "")]
    average = case.get("average") or "weighted"
    if k == 2:
        kw = dict(average="binary", pos_label=pos, zero_division=zd)
    else:
        kw = dict(average=average, zero_division=zd)
    out = {
        "example_count": float(len(yt)),
        "accuracy_score": value(lambda: M.accuracy_score(yt, yp)),
        "precision_score": value(lambda: M.precision_score(yt, yp, **kw)),
        "recall_score": value(lambda: M.recall_score(yt, yp, **kw)),
        "f1_score": value(lambda: M.f1_score(yt, yp, **kw)),
    }
    if k == 2:
        tn, fp, fn, tp = M.confusion_matrix(yt == pos, yp == pos, labels=[False, True]).ravel()
        out.update(true_negatives=float(tn), false_positives=float(fp),
                   false_negatives=float(fn), true_positives=float(tp))
    if proba is None:
        return out
    labels = list(range(k))
    out["log_loss"] = value(lambda: M.log_loss(yt, proba, labels=labels))
    if k == 2:
        columns = proba if proba.ndim == 2 else np.column_stack([1 - proba, proba])
        out["roc_auc"] = value(lambda: M.roc_auc_score(yt == pos, columns[:, pos]))
    else:
        out["roc_auc"] = value(lambda: M.roc_auc_score(
            yt, proba, labels=labels, multi_class="ovr", average=average))
    return out


def regression(yt, yp):
    return {
        "example_count": float(len(yt)),
        "mean_absolute_error": value(lambda: M.mean_absolute_error(yt, yp)),
        "mean_squared_error": value(lambda: M.mean_squared_error(yt, yp)),
        "root_mean_squared_error": value(lambda: M.root_mean_squared_error(yt, yp)),
        "r2_score": value(lambda: M.r2_score(yt, yp)),
        "max_error": value(lambda: M.max_error(yt, yp)),
        "mean_absolute_percentage_error": value(lambda: M.mean_absolute_percentage_error(yt, yp)),
    }


def arrays(case):
    """The case's columns as numpy arrays, converted once."""
    if case["task"] == "regression":
        return np.asarray(case["y_true"]), np.asarray(case["y_pred"]), None
    proba = case.get("proba")
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
    return np.asarray(case["class_true"]), np.asarray(case["class_pred"]), proba


def metrics(case, columns, rows):
    yt, yp, proba = columns
    if case["task"] == "regression":
        return regression(yt[rows], yp[rows])
    return classification(case, yt[rows], yp[rows], None if proba is None else proba[rows])


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = {"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": {}}
    for case in cases:
        columns = arrays(case)
        entry = {"overall": metrics(case, columns, np.arange(len(columns[0]))), "slices": {}}
        if case.get("slice"):
            column = np.asarray(case["slice"])
            for v in sorted(set(case["slice"])):
                entry["slices"][v] = metrics(case, columns, np.flatnonzero(column == v))
        results["cases"][case["name"]] = entry
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
