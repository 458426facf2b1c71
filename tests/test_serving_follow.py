"""A deployment that follows an alias keeps up with it: a Python version takes seconds to
load, and when the alias moves several times meanwhile, the deployment loads the newest
version next and none of those in between."""

from __future__ import annotations

import importlib.util
import re
import sys
import time

import mlflow
import pytest
import requests
from helpers import unique_name

pytestmark = pytest.mark.mlship_only

TIMEOUT_S = 120

VERSIONED = '''
import mlflow


class Versioned(mlflow.pyfunc.PythonModel):
    """Answers its version number for every row."""

    def __init__(self, version):
        self.version = version

    def predict(self, context, model_input, params=None):
        return [self.version] * len(model_input)
'''


def _versioned_class(tmp_path):
    """The Versioned class, pickled by value so that the worker needs no module of the test's."""
    import cloudpickle

    module_name = unique_name("versioned").replace("-", "_")
    script = tmp_path / f"{module_name}.py"
    script.write_text(VERSIONED)
    spec = importlib.util.spec_from_file_location(module_name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)
    return module.Versioned


def _register_versions(server, tmp_path, n) -> str:
    """n versions of one model, version k answering k. Requirements are given, so that
    logging does not load each model to infer them."""
    versioned = _versioned_class(tmp_path)
    mlflow.set_tracking_uri(server.url)
    name = unique_name("follow")
    for k in range(1, n + 1):
        with mlflow.start_run():
            mlflow.pyfunc.log_model(name="model", python_model=versioned(k), registered_model_name=name,
                                    pip_requirements=["mlflow"])
    return name


def _status(server, dep) -> dict:
    return requests.get(f"{server.url}/api/v1/deployments/{dep}", timeout=10).json()["status"]["models"][0]


def _wait_serving(server, dep, version):
    deadline = time.monotonic() + TIMEOUT_S
    while (st := _status(server, dep)).get("version") != version:
        assert time.monotonic() < deadline and not (st.get("error") and not st.get("version")), st
        time.sleep(0.1)


def _loads(server, dep) -> list[str]:
    """The versions the deployment started loading, in order, from the server's log."""
    pattern = re.compile(rf'msg="model version loading" deployment={re.escape(dep)} .*? version=(\S+)')
    return pattern.findall(server.log_path.read_text(errors="replace"))


def test_alias_moved_during_a_load_serves_the_newest_without_the_ones_between(server, tmp_path):
    name = _register_versions(server, tmp_path, 4)
    client = mlflow.MlflowClient(server.url)
    client.set_registered_model_alias(name, "live", "1")
    dep = unique_name("follow")
    r = requests.post(f"{server.url}/api/v1/deployments",
                      json={"name": dep, "model": f"models:/{name}@live", "workers": 1}, timeout=30)
    assert r.status_code == 200, r.text
    try:
        _wait_serving(server, dep, "1")
        client.set_registered_model_alias(name, "live", "2")
        deadline = time.monotonic() + 10
        while _loads(server, dep) != ["1", "2"]:
            assert time.monotonic() < deadline, _loads(server, dep)
            time.sleep(0.05)
        for v in ("3", "4"):  # while version 2 loads
            time.sleep(0.2)
            client.set_registered_model_alias(name, "live", v)
        _wait_serving(server, dep, "4")
        assert _loads(server, dep) == ["1", "2", "4"], "version 3 loaded, or a version twice"
        r = requests.post(f"{server.url}/deployments/{dep}/invocations", json={"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [4]
        log = server.log_path.read_text(errors="replace")
        assert re.search(rf'msg="model version load cancelled.*deployment={re.escape(dep)} .*version=2 ', log), \
            "the load of version 2 went on after the alias left it"
    finally:
        requests.delete(f"{server.url}/api/v1/deployments/{dep}", timeout=30)
