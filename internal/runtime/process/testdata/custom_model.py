"""A pyfunc model from code for the Python worker tests (see make_python_models.py)."""

import mlflow.models
import mlflow.pyfunc
import pandas as pd


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        print("printing to stdout must not corrupt the protocol")
        scale = (params or {}).get("scale", 1.0)
        return pd.DataFrame({
            "doubled": model_input["x"] * 2 * scale,
            "greeting": ["hello " + n for n in model_input["name"]],
        })


mlflow.models.set_model(Doubler())
