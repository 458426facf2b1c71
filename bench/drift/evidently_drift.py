"""Evidently's side of bench/drift: the data drift preset on two CSV files.

    python evidently_drift.py REFERENCE.csv CURRENT.csv OUT.json

Loads both files with pandas (as a user would), then runs Report([DataDriftPreset()])
with Evidently 0.7's API, as internal/drift's reference test does: the column kinds
are Evidently's own inference on the reference (infer_column_type), handed to both
datasets, which is also how mlship picks them. Each step is timed on its own, with the
process's CPU time and peak resident memory (VmHWM, reset between steps through
/proc/self/clear_refs), and every column's method, score and verdict go to OUT.json.
"""
import json
import os
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def vm_hwm():
    """Peak resident memory since the last reset, in bytes (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_hwm():
    """Makes VmHWM the current RSS, so the next reading is the peak of one step."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Step:
    """Times a step: wall and CPU seconds, and the peak RSS while it ran."""

    def __init__(self, steps, name):
        self.steps, self.name = steps, name

    def __enter__(self):
        self.reset = reset_hwm()
        self.cpu, self.t = cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.steps[self.name] = {
                "seconds": time.perf_counter() - self.t,
                "cpu_seconds": cpu_seconds() - self.cpu,
                "peak_rss_bytes": vm_hwm(),
                "peak_is_step_only": self.reset,
            }


METHOD_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
}


def main(ref_path, cur_path, out_path):
    steps = {}
    with Step(steps, "import"):
        import pandas as pd
        import evidently
        from evidently import DataDefinition, Dataset, Report
        from evidently.core.datasets import infer_column_type
        from evidently.legacy.core import ColumnType
        from evidently.presets import DataDriftPreset

    with Step(steps, "load_reference"):
        ref = pd.read_csv(ref_path)
    with Step(steps, "load_current"):
        cur = pd.read_csv(cur_path)

    with Step(steps, "report"):
        kinds = {c: infer_column_type(ref[c]) for c in ref.columns}
        definition = DataDefinition(
            numerical_columns=[c for c, k in kinds.items() if k == ColumnType.Numerical],
            categorical_columns=[c for c, k in kinds.items() if k == ColumnType.Categorical],
        )
        snapshot = Report([DataDriftPreset()], include_tests=True).run(
            current_data=Dataset.from_pandas(cur, data_definition=definition),
            reference_data=Dataset.from_pandas(ref, data_definition=definition),
        )
    with Step(steps, "result"):
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
    prefix = "Value Drift for column "
    for test in out["tests"]:
        if test["name"].startswith(prefix):
            columns[test["name"][len(prefix):]]["drifted"] = test["status"] == "FAIL"
    for name, kind in kinds.items():
        if name in columns:
            columns[name]["kind"] = {ColumnType.Numerical: "numerical", ColumnType.Categorical: "categorical"}.get(kind, str(kind))

    result = {
        "evidently_version": evidently.__version__,
        "pandas_version": pd.__version__,
        "reference_rows": len(ref),
        "current_rows": len(cur),
        "steps": steps,
        "peak_rss_bytes": max(s["peak_rss_bytes"] for s in steps.values()),
        "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "columns": columns,
        "share_of_drifted_columns": share,
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
