"""MLflow's own parsing of search filters and order_by clauses, as a reference.

conformance.jsonl holds MLflow's answers, produced by this script with mlflow-skinny 3.17.2
(sqlparse 0.6.1): for each endpoint it calls the parser the server uses and then the
SQL store's comparator and order_by checks, which the parsers leave to the store.

    python -m venv /tmp/oracle && /tmp/oracle/bin/pip install mlflow-skinny==3.17.2
    /tmp/oracle/bin/python oracle.py < requests.jsonl > answers.jsonl

Each input line is {"schema": ..., "filter": ...} or {"schema": ..., "order": [...]};
each output line adds "mlflow": {"ok": [...]} or {"err": message}. Logged-model
attribute aliases are reported under their canonical names, as this package does.
"""
import json
import math
import sys

from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import (
    SearchExperimentsUtils,
    SearchLoggedModelsUtils,
    SearchModelUtils,
    SearchModelVersionUtils,
    SearchUtils,
)

ENT = {"parameter": "param"}


def norm_val(v):
    if isinstance(v, tuple) or isinstance(v, list):
        return {"list": list(v)}
    if isinstance(v, bool):
        return {"bad": repr(v)}
    if isinstance(v, (int, float)):
        return {"num": float(v)}
    if v is None:
        return {"none": True}
    return {"str": v}

def runs_filter(f):
    out = []
    for c in SearchUtils.parse_search_filter(f):
        t, k, v, op = c["type"], c["key"], c["value"], c["comparator"].upper()
        k = SearchUtils.translate_key_alias(k)
        if SearchUtils.is_string_attribute(t, k, op) or SearchUtils.is_numeric_attribute(t, k, op):
            pass
        elif SearchUtils.is_metric(t, op):
            v = float(v)
        elif SearchUtils.is_param(t, op) or SearchUtils.is_tag(t, op) or SearchUtils.is_dataset(t, op):
            pass
        else:
            raise MlflowException("Invalid search expression type")
        out.append((t, k, op, v))
    return out

def exp_filter(f):
    out = []
    for c in SearchExperimentsUtils.parse_search_filter(f):
        t, k, op, v = c["type"], c["key"], c["comparator"], c["value"]
        if t == "attribute":
            if k == "experiment_id":
                raise MlflowException("EXPERIMENT_ID_FILTER")
            if SearchExperimentsUtils.is_string_attribute(t, k, op) and op not in ("=", "!=", "LIKE", "ILIKE"):
                raise MlflowException(f"Invalid comparator for string attribute: {op}")
            if SearchExperimentsUtils.is_numeric_attribute(t, k, op):
                if op not in ("=", "!=", "<", "<=", ">", ">="):
                    raise MlflowException("Invalid comparator for numeric attribute")
                if isinstance(v, float):
                    raise MlflowException("Invalid value for numeric attribute")
                v = int(v)
        elif t == "tag":
            if op not in ("=", "!=", "LIKE", "ILIKE"):
                raise MlflowException(f"Invalid comparator for tag: {op}")
        else:
            raise MlflowException("Invalid token type")
        out.append((t, k, op, v))
    return out

def rm_filter(f):
    out = []
    for c in SearchModelUtils.parse_search_filter(f):
        t, k, op, v = c["type"], c["key"], c["comparator"], c["value"]
        if t == "attribute":
            if k != "name":
                raise MlflowException("Invalid attribute name")
            if op not in ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"):
                raise MlflowException("Invalid comparator for attribute")
        elif t == "tag":
            if op not in ("=", "!=", "LIKE", "ILIKE"):
                raise MlflowException("Invalid comparator for tag")
        else:
            raise MlflowException("Invalid token type")
        out.append((t, k, op, v))
    return out

def mv_filter(f):
    U = SearchModelVersionUtils
    out = []
    for c in U.parse_search_filter(f):
        t, k, op, v = c["type"], c["key"], c["comparator"], c["value"]
        if t == "attribute":
            if k not in U.VALID_SEARCH_ATTRIBUTE_KEYS:
                raise MlflowException("Invalid attribute name")
            if k in U.NUMERIC_ATTRIBUTES:
                if op not in U.VALID_NUMERIC_ATTRIBUTE_COMPARATORS:
                    raise MlflowException("Invalid comparator for attribute")
                if isinstance(v, float):
                    raise MlflowException("Invalid value for numeric attribute")
                try:
                    v = int(v)
                except (TypeError, ValueError):
                    raise MlflowException("Invalid value for numeric attribute")
            elif op not in U.VALID_STRING_ATTRIBUTE_COMPARATORS or (op in ("IN", "NOT IN") and k not in ("run_id", "name")):
                raise MlflowException("Invalid comparator for attribute")
        elif t == "tag":
            if op not in ("=", "!=", "LIKE", "ILIKE"):
                raise MlflowException("Invalid comparator for tag")
        else:
            raise MlflowException("Invalid token type")
        out.append((t, k, op, v))
    return out

def lm_filter(f):
    U = SearchLoggedModelsUtils
    out = []
    for c in U.parse_search_filter(f):
        t, k, v, op = c["type"], c["key"], c["value"], c["comparator"].upper()
        if U.is_metric(t, op):
            v = float(v)
        elif U.is_param(t, op) or U.is_tag(t, op) or U.is_numeric_attribute(t, k, op) or U.is_string_attribute(t, k, op):
            pass
        else:
            raise MlflowException("Invalid logged model search key")
        if t == "attribute":
            k = {"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"}.get(k, k)
        out.append((t, k, op, v))
    return out

def runs_order(lst):
    seen=set(); out=[]
    for c in lst:
        t, k, asc = SearchUtils.parse_order_by_for_search_runs(c)
        k = SearchUtils.translate_key_alias(k)
        if SearchUtils.is_string_attribute(t, k, "=") or SearchUtils.is_numeric_attribute(t, k, "="):
            pass
        elif SearchUtils.is_metric(t, "=") or SearchUtils.is_tag(t, "=") or SearchUtils.is_param(t, "="):
            pass
        else:
            raise MlflowException(f"Invalid identifier type '{t}'")
        if (t, k) in seen:
            raise MlflowException("`order_by` contains duplicate fields")
        seen.add((t, k)); out.append((t, k, not asc))
    return out

def exp_order(lst):
    out=[]
    for c in lst:
        t, k, asc = SearchExperimentsUtils.parse_order_by_for_search_experiments(c)
        if t != "attribute":
            raise MlflowException(f"Invalid order_by entity: {t}")
        out.append((t, k, not asc))
    return out

def rm_order(lst):
    seen=set(); out=[]
    for c in lst:
        tok, asc = SearchUtils.parse_order_by_for_search_registered_models(c)
        if tok == "name": f = "name"
        elif tok in SearchUtils.VALID_TIMESTAMP_ORDER_BY_KEYS: f = "last_updated_timestamp"
        else: raise MlflowException("Invalid order by key")
        if f in seen: raise MlflowException("dup")
        seen.add(f); out.append(("attribute", f, not asc))
    return out

def mv_order(lst):
    U = SearchModelVersionUtils
    seen=set(); out=[]
    for c in lst:
        t, k, asc = U.parse_order_by_for_search_model_versions(c)
        if k not in U.VALID_ORDER_BY_ATTRIBUTE_KEYS: raise MlflowException("Invalid order by key")
        if k in seen: raise MlflowException("dup")
        seen.add(k); out.append((t, k, not asc))
    return out

def lm_order(lst):
    out=[]
    for c in lst:
        ob = SearchLoggedModelsUtils.parse_order_by_for_logged_models({"field_name": c})
        f = ob.field_name
        if "." in f:
            out.append(("metric", f.split(".", 1)[1], False))
        else:
            out.append(("attribute", {"last_updated_time": "last_updated_timestamp"}.get(f, f), False))
    return out

ORDERS = {"runs": runs_order, "experiments": exp_order, "registered_models": rm_order,
          "model_versions": mv_order, "logged_models": lm_order}

FILTERS = {"runs": runs_filter, "experiments": exp_filter, "registered_models": rm_filter,
           "model_versions": mv_filter, "logged_models": lm_filter}

def run(req):
    if req.get("order") is not None:
        try:
            res = ORDERS[req["schema"]](req["order"])
        except MlflowException as e:
            return {"err": e.message}
        except Exception as e:
            return {"crash": f"{type(e).__name__}: {e}"}
        return {"ok": [dict(e=ENT.get(t, t), k=k, desc=d) for t, k, d in res]}
    fn = FILTERS[req["schema"]]
    try:
        res = fn(req["filter"])
    except MlflowException as e:
        return {"err": e.message}
    except Exception as e:
        return {"crash": f"{type(e).__name__}: {e}"}
    return {"ok": [dict(e=ENT.get(t, t), k=k, op=op, **norm_val(v)) for t, k, op, v in res]}


def answer(req):
    res = run(req)
    res.pop("in", None)
    for c in res.get("ok", []):
        if isinstance(c.get("num"), float) and math.isinf(c["num"]):
            c["num"] = "inf" if c["num"] > 0 else "-inf"
    if "crash" in res:
        res = {"err": res["crash"]}
    return res


if __name__ == "__main__":
    for line in sys.stdin:
        if line.strip():
            req = json.loads(line)
            req["mlflow"] = answer(req)
            print(json.dumps(req, ensure_ascii=False), flush=True)
