"""A pyfunc model from code with a tensor signature, for the Python worker tests (see
make_python_models.py): it takes float32 images of shape (-1, 2, 2) and sums each row
of each image."""

import mlflow.models
import mlflow.pyfunc


class RowSums(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if isinstance(model_input, dict):  # MLflow passes named tensors as a dict
            model_input = model_input["image"]
        return model_input.sum(axis=2)


mlflow.models.set_model(RowSums())
