"""Saves the models the Python worker tests load, and what each must predict.

Usage: python make_python_models.py OUT_DIR

OUT_DIR/regressor   scikit-learn LinearRegression, column signature a, b, c, d (double),
                    saved in MLflow's default (skops) format
OUT_DIR/classifier  scikit-learn LogisticRegression with string labels, no signature,
                    saved with cloudpickle
OUT_DIR/custom      a pyfunc model from code (custom_model.py) that returns a DataFrame,
                    takes a "scale" param and prints to stdout while predicting
OUT_DIR/tensor      a pyfunc model from code (tensor_model.py) with a tensor signature:
                    float32 images of shape (-1, 2, 2), whose rows it sums
OUT_DIR/X.f64       the test rows, 5 x 4 float64, little-endian
OUT_DIR/regressor.f64   the regressor's predictions for X
OUT_DIR/classifier.txt  the classifier's labels for X, one per line
"""

import os
import sys

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from sklearn.linear_model import LinearRegression, LogisticRegression

out = sys.argv[1]
rng = np.random.default_rng(7)
columns = ["a", "b", "c", "d"]
# Listing requirements spares save_model from inferring them, which takes seconds.
REQUIREMENTS = ["mlflow", "scikit-learn"]
train = pd.DataFrame(rng.normal(size=(200, 4)), columns=columns)
y = train @ np.array([0.3, -1.7, 2.2, 0.01]) + rng.normal(scale=0.1, size=200)
labels = np.where(train["a"] + train["b"] > 0, "up", "down")

regressor = LinearRegression().fit(train, y)
mlflow.sklearn.save_model(regressor, os.path.join(out, "regressor"),
                          signature=infer_signature(train, regressor.predict(train)),
                          pip_requirements=REQUIREMENTS)
classifier = LogisticRegression().fit(train.to_numpy(), labels)
mlflow.sklearn.save_model(classifier, os.path.join(out, "classifier"), pip_requirements=REQUIREMENTS,
                          serialization_format="cloudpickle")

here = os.path.dirname(os.path.abspath(__file__))
mlflow.pyfunc.save_model(
    os.path.join(out, "custom"),
    python_model=os.path.join(here, "custom_model.py"),
    pip_requirements=REQUIREMENTS,
    signature=ModelSignature(
        inputs=Schema([ColSpec("double", "x"), ColSpec("string", "name")]),
        params=ParamSchema([ParamSpec("scale", "double", 1.0)]),
    ),
)

mlflow.pyfunc.save_model(
    os.path.join(out, "tensor"),
    python_model=os.path.join(here, "tensor_model.py"),
    pip_requirements=REQUIREMENTS,
    signature=ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 2, 2), "image")])),
)

X = pd.DataFrame(rng.normal(size=(5, 4)) * 1e3 / 7, columns=columns)
X.to_numpy().astype("<f8").tofile(os.path.join(out, "X.f64"))
regressor.predict(X).astype("<f8").tofile(os.path.join(out, "regressor.f64"))
with open(os.path.join(out, "classifier.txt"), "w") as f:
    f.write("\n".join(classifier.predict(X.to_numpy())) + "\n")
