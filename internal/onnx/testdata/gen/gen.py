"""Builds the ONNX corpus of the Go engine's tests and benchmark.

    python gen.py [OUT_DIR] [GROUP...]     (default: ../models, every group)

Naming a group (neighbours, text) rebuilds its models and those of the groups after it, and
keeps the others; those groups come last, so their seeds are the ones a full run gives them.

For each model it writes NAME.onnx and NAME.json (fixed inputs and onnxruntime's outputs
for them, in the format cases.py describes), and manifest.json, which tells reference.py
how to draw fresh inputs. Everything is seeded: running it again with the pinned
requirements writes the same files.
"""

import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from cases import draw, run_case
import neighbours_text

warnings.filterwarnings("ignore")

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "models")
SEED = 20261128
ROWS = 16
MODELS = []


def normal(name, features, elem="float32", scale=2.0, nan_rate=0.0):
    return {"name": name, "elem": elem, "shape": [-1, features], "dist": "normal",
            "scale": scale, "nan_rate": nan_rate}


def add(name, model, inputs, rows=ROWS):
    """Saves a model and its fixed case, and lists it in the manifest."""
    data = model.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(SEED + len(MODELS))
    feeds = {spec["name"]: draw(spec, rows, rng) for spec in inputs}
    case = run_case(sess, name, feeds)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(case, f, separators=(",", ":"))
    ops = sorted({(n.domain or "ai.onnx") + ":" + n.op_type for n in model.graph.node})
    MODELS.append({"name": name, "rows": rows, "inputs": inputs, "ops": ops})
    print(f"{name:40s} {len(data):8d} B  {' '.join(ops)}")


# ---- data ---------------------------------------------------------------------------------


def classification(n_features=10, n_classes=2, n=600, seed=0):
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=n, n_features=n_features, n_informative=min(n_features, 6),
                               n_redundant=0, n_classes=n_classes, random_state=seed)
    return X.astype(np.float32), y


def regression(n_features=10, n=600, seed=0):
    from sklearn.datasets import make_regression
    X, y = make_regression(n_samples=n, n_features=n_features, noise=5.0, random_state=seed)
    return X.astype(np.float32), y / 50.0


# ---- scikit-learn through skl2onnx ----------------------------------------------------------


def _patch_bool_attributes():
    """skl2onnx 1.20 passes HistGradientBoosting's missing-value flags as booleans, which
    onnx 1.23 refuses in an ints attribute: hand them over as integers."""
    from skl2onnx.common._container import ModelComponentContainer
    original = ModelComponentContainer.add_node

    def add_node(self, *args, **attrs):
        for k, v in attrs.items():
            if isinstance(v, (list, tuple)) and any(isinstance(b, (bool, np.bool_)) for b in v):
                attrs[k] = [int(b) for b in v]
            elif isinstance(v, np.ndarray) and v.dtype == np.bool_:
                attrs[k] = v.astype(np.int64)
        return original(self, *args, **attrs)

    ModelComponentContainer.add_node = add_node


def skl(model, n_features, zipmap=True, elem="float32", opset=None):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    t = DoubleTensorType if elem == "float64" else FloatTensorType
    options = {"zipmap": False} if not zipmap else None
    if options and not hasattr(model, "predict_proba"):
        options = None
    return to_onnx(model, initial_types=[("X", t([None, n_features]))], options=options,
                   target_opset=opset)


def sklearn_models():
    from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                                  GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler
    from sklearn.svm import SVC, SVR, LinearSVC
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    X, y = classification(10)
    Xm, ym = classification(10, n_classes=3)
    Xr, yr = regression(10)
    f10 = [normal("X", 10)]

    add("logreg_binary", skl(LogisticRegression(max_iter=500).fit(X, y), 10), f10)
    add("logreg_multiclass", skl(LogisticRegression(max_iter=500).fit(Xm, ym), 10), f10)
    add("logreg_multiclass_nozipmap",
        skl(LogisticRegression(max_iter=500).fit(Xm, ym), 10, zipmap=False), f10)
    add("logreg_multiclass_double",
        skl(LogisticRegression(max_iter=500).fit(Xm.astype(np.float64), ym), 10,
            zipmap=False, elem="float64"), [normal("X", 10, "float64")])
    add("linear_regression", skl(LinearRegression().fit(Xr, yr), 10), f10)
    add("ridge", skl(Ridge(alpha=0.5).fit(Xr, yr), 10), f10)
    add("linear_svc", skl(LinearSVC().fit(Xm, ym), 10), f10)
    add("normalizer_logreg_pipeline",
        skl(make_pipeline(Normalizer(norm="l1"), LogisticRegression(max_iter=500)).fit(Xm, ym), 10,
            zipmap=False), f10)

    add("decision_tree_classifier_strings",
        skl(DecisionTreeClassifier(max_depth=6, random_state=0)
            .fit(Xm, np.array(["cat", "dog", "eel"])[ym]), 10), f10)
    add("decision_tree_regressor",
        skl(DecisionTreeRegressor(max_depth=6, random_state=0).fit(Xr, yr), 10), f10)
    add("random_forest_classifier",
        skl(RandomForestClassifier(n_estimators=30, max_depth=7, random_state=0).fit(Xm, ym), 10), f10)
    add("random_forest_classifier_binary_labels",
        skl(RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)
            .fit(X, np.array([3, 7])[y]), 10, zipmap=False), f10)
    add("random_forest_regressor",
        skl(RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0).fit(Xr, yr), 10), f10)
    add("extra_trees_classifier",
        skl(ExtraTreesClassifier(n_estimators=20, max_depth=6, random_state=0).fit(Xm, ym), 10,
            zipmap=False), f10)
    add("extra_trees_regressor",
        skl(ExtraTreesRegressor(n_estimators=20, max_depth=6, random_state=0).fit(Xr, yr), 10), f10)
    add("gradient_boosting_classifier_multiclass",
        skl(GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0).fit(Xm, ym), 10),
        f10)
    add("gradient_boosting_regressor",
        skl(GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=0).fit(Xr, yr), 10),
        f10)
    add("hist_gradient_boosting_classifier",
        skl(HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(Xm, ym), 10), f10)
    Xn = Xr.copy()
    Xn[np.random.default_rng(1).random(Xn.shape) < 0.1] = np.nan
    add("hist_gradient_boosting_regressor_nan",
        skl(HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(Xn, yr), 10),
        [normal("X", 10, nan_rate=0.1)])
    add("svc_rbf", skl(SVC(random_state=0).fit(Xm[:200], ym[:200]), 10, zipmap=False), f10)
    add("svc_probability",
        skl(SVC(probability=True, kernel="poly", degree=2, random_state=0).fit(X[:200], y[:200]), 10,
            zipmap=False), f10)
    add("svr", skl(SVR(C=2.0).fit(Xr[:200], yr[:200]), 10), f10)
    add("mlp_classifier",
        skl(MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=300, random_state=0).fit(Xm, ym), 10),
        f10)
    add("mlp_regressor",
        skl(MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", max_iter=300, random_state=0)
            .fit(Xr, yr), 10), f10)
    add("scaler_logreg_pipeline",
        skl(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X * 5 + 3, y), 10),
        [normal("X", 10, scale=8.0)])

    # The benchmark models: 20 features, 100 trees.
    Xb, yb = classification(20, n=2000, seed=1)
    fb = [normal("X", 20)]
    add("bench_gradient_boosting",
        skl(GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(Xb, yb), 20,
            zipmap=False), fb)
    add("bench_random_forest",
        skl(RandomForestClassifier(n_estimators=100, max_depth=6, random_state=0).fit(Xb, yb), 20,
            zipmap=False), fb)


def column_transformer_model():
    """A pipeline over a table: four numeric columns (with missing values) imputed and scaled,
    two string columns one-hot encoded, then a classifier. Each column is one model input."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    rng = np.random.default_rng(0)
    n = 500
    num = rng.normal(0, 2, size=(n, 4)).astype(np.float32)
    num[rng.random(num.shape) < 0.1] = np.nan
    colors = np.array(["red", "green", "blue", "black"])[rng.integers(0, 4, n)]
    sizes = np.array(["s", "m", "l"])[rng.integers(0, 3, n)]
    y = ((np.nan_to_num(num[:, 0]) + (colors == "red") * 2 - (sizes == "l")) > 0.5).astype(int)
    frame = pd.DataFrame(num, columns=[f"n{i}" for i in range(4)])
    frame["c0"] = colors
    frame["c1"] = sizes
    types = [(f"n{i}", FloatTensorType([None, 1])) for i in range(4)]
    types += [("c0", StringTensorType([None, 1])), ("c1", StringTensorType([None, 1]))]
    specs = [{"name": f"n{i}", "elem": "float32", "shape": [-1, 1], "dist": "normal",
              "scale": 2.0, "nan_rate": 0.1} for i in range(4)]
    specs += [{"name": "c0", "elem": "string", "shape": [-1, 1], "dist": "categories",
               "categories": ["red", "green", "blue", "black", "purple"]},
              {"name": "c1", "elem": "string", "shape": [-1, 1], "dist": "categories",
               "categories": ["s", "m", "l"]}]
    for clf, name in ((LogisticRegression(max_iter=500), "column_transformer_logreg"),
                      (RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
                       "column_transformer_forest")):
        pre = ColumnTransformer([
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")),
                              ("scale", StandardScaler())]), ["n0", "n1", "n2", "n3"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["c0", "c1"]),
        ])
        pipe = Pipeline([("pre", pre), ("clf", clf)]).fit(frame, y)
        add(name, to_onnx(pipe, initial_types=types), specs)


# ---- XGBoost and LightGBM through onnxmltools -------------------------------------------------


def boosting_models():
    import lightgbm as lgb
    import xgboost as xgb
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    X, y = classification(10)
    Xm, ym = classification(10, n_classes=3)
    Xr, yr = regression(10)
    f10 = [normal("X", 10)]
    t10 = [("X", FloatTensorType([None, 10]))]

    add("xgboost_classifier",
        convert_xgboost(xgb.XGBClassifier(n_estimators=30, max_depth=4, random_state=0).fit(X, y),
                        initial_types=t10, target_opset=15), f10)
    add("xgboost_classifier_multiclass",
        convert_xgboost(xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0).fit(Xm, ym),
                        initial_types=t10, target_opset=15), f10)
    Xn = Xr.copy()
    Xn[np.random.default_rng(2).random(Xn.shape) < 0.1] = np.nan
    add("xgboost_regressor_nan",
        convert_xgboost(xgb.XGBRegressor(n_estimators=30, max_depth=4, random_state=0).fit(Xn, yr),
                        initial_types=t10, target_opset=15), [normal("X", 10, nan_rate=0.1)])
    add("lightgbm_classifier",
        convert_lightgbm(lgb.LGBMClassifier(n_estimators=30, num_leaves=15, random_state=0, verbose=-1)
                         .fit(X, y), initial_types=t10, target_opset=15, zipmap=False), f10)
    add("lightgbm_classifier_multiclass",
        convert_lightgbm(lgb.LGBMClassifier(n_estimators=10, num_leaves=8, random_state=0, verbose=-1)
                         .fit(Xm, ym), initial_types=t10, target_opset=15), f10)
    add("lightgbm_regressor",
        convert_lightgbm(lgb.LGBMRegressor(n_estimators=30, num_leaves=15, random_state=0, verbose=-1)
                         .fit(Xr, yr), initial_types=t10, target_opset=15), f10)

    Xb, yb = classification(20, n=2000, seed=1)
    add("bench_xgboost",
        convert_xgboost(xgb.XGBClassifier(n_estimators=100, max_depth=6, random_state=0).fit(Xb, yb),
                        initial_types=[("X", FloatTensorType([None, 20]))], target_opset=15),
        [normal("X", 20)])


# ---- hand-written graphs ------------------------------------------------------------------------


def graph_model(nodes, inputs, outputs, inits=(), opset=17, ml=3, ir=8, check=True):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    imports = [helper.make_opsetid("", opset)]
    if ml:
        imports.append(helper.make_opsetid("ai.onnx.ml", ml))
    m = helper.make_model(g, opset_imports=imports, producer_name="mlship-corpus")
    m.ir_version = ir
    if check:
        onnx.checker.check_model(m)
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def torch_style_mlp():
    """The graph torch.onnx.export (opset 17) writes for

        nn.Sequential(nn.Linear(12, 32), nn.GELU(), nn.LayerNorm-free Linear(32, 16), nn.ReLU(),
                      nn.Linear(16, 4)) followed by softmax, with the dynamic batch dimension.

    Linear layers become Gemm with transB=1; GELU becomes Div/Erf/Add/Mul/Mul."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 0.3, (32, 12)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 32).astype(np.float32)
    w2 = rng.normal(0, 0.3, (16, 32)).astype(np.float32)
    b2 = rng.normal(0, 0.1, 16).astype(np.float32)
    w3 = rng.normal(0, 0.3, (4, 16)).astype(np.float32)
    b3 = rng.normal(0, 0.1, 4).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["/fc1/Gemm_output_0"],
                         alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Div", ["/fc1/Gemm_output_0", "sqrt2"], ["/act/Div_output_0"]),
        helper.make_node("Erf", ["/act/Div_output_0"], ["/act/Erf_output_0"]),
        helper.make_node("Add", ["/act/Erf_output_0", "one"], ["/act/Add_output_0"]),
        helper.make_node("Mul", ["/fc1/Gemm_output_0", "/act/Add_output_0"], ["/act/Mul_output_0"]),
        helper.make_node("Mul", ["/act/Mul_output_0", "half"], ["/act/Mul_1_output_0"]),
        helper.make_node("Gemm", ["/act/Mul_1_output_0", "fc2.weight", "fc2.bias"],
                         ["/fc2/Gemm_output_0"], alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Relu", ["/fc2/Gemm_output_0"], ["/relu/Relu_output_0"]),
        helper.make_node("Gemm", ["/relu/Relu_output_0", "fc3.weight", "fc3.bias"], ["logits"],
                         alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [init("fc1.weight", w1), init("fc1.bias", b1), init("fc2.weight", w2),
             init("fc2.bias", b2), init("fc3.weight", w3), init("fc3.bias", b3),
             init("sqrt2", np.float32(1.4142135)), init("one", np.float32(1.0)),
             init("half", np.float32(0.5))]
    m = graph_model(nodes, [vi("input", TensorProto.FLOAT, ["batch", 12])],
                    [vi("logits", TensorProto.FLOAT, ["batch", 4]),
                     vi("probabilities", TensorProto.FLOAT, ["batch", 4])], inits, ml=0)
    add("torch_style_mlp", m, [normal("input", 12)])


def core_ops_graph():
    """Many core operators in one graph, in the shapes converters and exporters use them."""
    rng = np.random.default_rng(4)
    w = rng.normal(0, 0.5, (6, 5)).astype(np.float32)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero_i"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus1"], ["shape2"], axis=0),
        helper.make_node("Reshape", ["x", "shape2"], ["flat"]),
        helper.make_node("Sub", ["flat", "mean"], ["centred"]),
        helper.make_node("Abs", ["centred"], ["absx"]),
        helper.make_node("Sqrt", ["absx"], ["sqrtx"]),
        helper.make_node("Neg", ["sqrtx"], ["negx"]),
        helper.make_node("Exp", ["negx"], ["expx"]),
        helper.make_node("Log", ["expx"], ["logx"]),
        helper.make_node("Pow", ["centred", "two"], ["sq"]),
        helper.make_node("MatMul", ["centred", "w"], ["mm"]),
        helper.make_node("Tanh", ["mm"], ["th"]),
        helper.make_node("LeakyRelu", ["mm"], ["lr"], alpha=0.1),
        helper.make_node("Sigmoid", ["mm"], ["sg"]),
        helper.make_node("Max", ["th", "lr", "sg"], ["mx"]),
        helper.make_node("Min", ["th", "lr"], ["mn"]),
        helper.make_node("Sum", ["mx", "mn", "sg"], ["sm"]),
        helper.make_node("Clip", ["sm", "lo", "hi"], ["clipped"]),
        helper.make_node("LogSoftmax", ["clipped"], ["lsm"], axis=-1),
        helper.make_node("ReduceSum", ["sq", "axes1"], ["rsum"], keepdims=1),
        helper.make_node("ReduceMean", ["centred", "axes1"], ["rmean"], keepdims=0),
        helper.make_node("ReduceMax", ["centred", "axes1"], ["rmax"], keepdims=1),
        helper.make_node("ReduceMin", ["centred", "axes1"], ["rmin"], keepdims=0),
        helper.make_node("ReduceProd", ["sg", "axes1"], ["rprod"], keepdims=1),
        helper.make_node("ReduceLogSumExp", ["mm", "axes1"], ["rlse"], keepdims=1),
        helper.make_node("ArgMax", ["mm"], ["amax"], axis=1, keepdims=0),
        helper.make_node("ArgMin", ["mm"], ["amin"], axis=1, keepdims=1, select_last_index=1),
        helper.make_node("Greater", ["centred", "zero_f"], ["pos"]),
        helper.make_node("Less", ["centred", "lo"], ["small"]),
        helper.make_node("Or", ["pos", "small"], ["either"]),
        helper.make_node("Not", ["either"], ["neither"]),
        helper.make_node("Where", ["pos", "centred", "negx"], ["picked"]),
        helper.make_node("IsNaN", ["z"], ["nan"]),
        helper.make_node("Cast", ["nan"], ["nan_f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["mm"], ["mmT"], perm=[1, 0]),
        helper.make_node("Slice", ["mmT", "starts", "ends", "axes0", "steps"], ["sliced"]),
        helper.make_node("Flatten", ["sliced"], ["flattened"], axis=0),
        helper.make_node("Squeeze", ["rsum", "axes1"], ["squeezed"]),
        helper.make_node("Equal", ["amax", "three"], ["is3"]),
        helper.make_node("And", ["is3", "is3"], ["is3b"]),
        helper.make_node("GreaterOrEqual", ["squeezed", "rmean"], ["ge"]),
        helper.make_node("LessOrEqual", ["squeezed", "rmean"], ["le"]),
        helper.make_node("Expand", ["mean", "shape"], ["expanded"]),
        helper.make_node("ConstantOfShape", ["shape"], ["zeros"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])),
        helper.make_node("Add", ["expanded", "zeros"], ["ez"]),
        helper.make_node("Identity", ["ez"], ["ident"]),
        helper.make_node("Constant", [], ["cst"], value=helper.make_tensor("c", TensorProto.FLOAT, [5],
                                                                          [1, 2, 3, 4, 5])),
        helper.make_node("Mul", ["lsm", "cst"], ["scaled"]),
        helper.make_node("Div", ["scaled", "two"], ["halved"]),
        helper.make_node("Softmax", ["halved"], ["softmax"], axis=1),
        helper.make_node("Relu", ["picked"], ["relu"]),
        helper.make_node("Tile", ["rmax", "tiles"], ["tiled"]),
        helper.make_node("Cast", ["amin"], ["amin_f"], to=TensorProto.DOUBLE),
        helper.make_node("Gemm", ["relu", "w", "gb"], ["gemm"], alpha=0.5, beta=2.0),
    ]
    inits = [init("zero_i", np.array(0, dtype=np.int64)), init("axes0", np.array([0], dtype=np.int64)),
             init("axes1", np.array([1], dtype=np.int64)), init("minus1", np.array([-1], dtype=np.int64)),
             init("mean", rng.normal(0, 1, 6).astype(np.float32)), init("two", np.float32(2.0)),
             init("w", w), init("lo", np.float32(-0.5)), init("hi", np.float32(1.5)),
             init("zero_f", np.float32(0.0)), init("starts", np.array([1], dtype=np.int64)),
             init("ends", np.array([4], dtype=np.int64)), init("steps", np.array([2], dtype=np.int64)),
             init("three", np.array(3, dtype=np.int64)), init("tiles", np.array([1, 3], dtype=np.int64)),
             init("gb", rng.normal(0, 1, 5).astype(np.float32))]
    outs = ["softmax", "rsum", "rmean", "rmax", "rmin", "rprod", "rlse", "amax", "amin_f", "neither",
            "nan_f", "flattened", "is3b", "ge", "le", "ident", "tiled", "gemm", "logx"]
    m = graph_model(nodes, [vi("x", TensorProto.FLOAT, ["N", 6]), vi("z", TensorProto.FLOAT, ["N", 3])],
                    [helper.make_empty_tensor_value_info(o) for o in outs], inits, opset=18, ml=0,
                    check=False)
    # Shape inference gives the outputs the types the checker asks for.
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    for out in m.graph.output:
        out.CopyFrom(inferred[out.name])
    onnx.checker.check_model(m)
    add("core_ops", m, [normal("x", 6), normal("z", 3, nan_rate=0.3)])


def core_ops_old_opset():
    """Unary operators, and the attribute forms of older opsets (11): axes of Squeeze,
    Unsqueeze and reductions as attributes, Softmax over flattened trailing dimensions,
    Clip bounds as inputs, and Slice without steps."""
    nodes = [
        helper.make_node("Unsqueeze", ["x"], ["x3"], axes=[1]),
        helper.make_node("Softmax", ["x3"], ["sm"], axis=1),
        helper.make_node("Squeeze", ["sm"], ["sq"], axes=[1]),
        helper.make_node("ReduceSum", ["x"], ["rs"], axes=[1], keepdims=0),
        helper.make_node("ReduceSumSquare", ["x"], ["rss"], axes=[1], keepdims=1),
        helper.make_node("ReduceL2", ["x"], ["rl2"], axes=[0], keepdims=0),
        helper.make_node("Elu", ["x"], ["elu"], alpha=0.7),
        helper.make_node("HardSigmoid", ["x"], ["hs"], alpha=0.3, beta=0.4),
        helper.make_node("Softplus", ["x"], ["sp"]),
        helper.make_node("Sin", ["x"], ["sin"]),
        helper.make_node("Cos", ["x"], ["cos"]),
        helper.make_node("Floor", ["x"], ["fl"]),
        helper.make_node("Ceil", ["x"], ["ce"]),
        helper.make_node("Round", ["x"], ["ro"]),
        helper.make_node("Reciprocal", ["x"], ["rc"]),
        helper.make_node("Sign", ["x"], ["sg"]),
        helper.make_node("Clip", ["x", "lo", "hi"], ["cl"]),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["sl"]),
        helper.make_node("Greater", ["x", "zero"], ["g"]),
        helper.make_node("Less", ["x", "one"], ["l"]),
        helper.make_node("Xor", ["g", "l"], ["xor"]),
        helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
        helper.make_node("Cast", ["xi"], ["xs"], to=TensorProto.STRING),
        helper.make_node("Mul", ["xi", "three_i"], ["xi3"]),
    ]
    inits = [init("lo", np.float32(-1.0)), init("hi", np.float32(2.0)),
             init("starts", np.array([1], dtype=np.int64)), init("ends", np.array([-1], dtype=np.int64)),
             init("axes", np.array([1], dtype=np.int64)), init("zero", np.float32(0)),
             init("one", np.float32(1)), init("three_i", np.array([3], dtype=np.int64))]
    outs = ["sq", "rs", "rss", "rl2", "elu", "hs", "sp", "sin", "cos", "fl", "ce", "ro", "rc", "sg",
            "cl", "sl", "xor", "xs", "xi3"]
    m = graph_model(nodes, [vi("x", TensorProto.FLOAT, ["N", 5])],
                    [helper.make_empty_tensor_value_info(o) for o in outs], inits, opset=11, ml=0,
                    check=False)
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    for out in m.graph.output:
        out.CopyFrom(inferred[out.name])
    onnx.checker.check_model(m)
    add("core_ops_opset11", m, [normal("x", 5)])


def ml_ops_graphs():
    """The ai.onnx.ml operators converters rarely emit, one small graph each."""
    f32, i64, s = TensorProto.FLOAT, TensorProto.INT64, TensorProto.STRING
    # Scaler, Normalizer (MAX, L2), Binarizer, Imputer, ArrayFeatureExtractor, FeatureVectorizer.
    nodes = [
        helper.make_node("Imputer", ["x"], ["imp"], domain="ai.onnx.ml",
                         imputed_value_floats=[0.5, -1.0, 2.0, 0.0], replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imp"], ["sc"], domain="ai.onnx.ml",
                         offset=[0.1, 0.2, -0.3, 0.0], scale=[2.0, 0.5, 1.0, 3.0]),
        helper.make_node("Normalizer", ["sc"], ["nmax"], domain="ai.onnx.ml", norm="MAX"),
        helper.make_node("Normalizer", ["sc"], ["nl2"], domain="ai.onnx.ml", norm="L2"),
        helper.make_node("Binarizer", ["sc"], ["bin"], domain="ai.onnx.ml", threshold=0.3),
        helper.make_node("ArrayFeatureExtractor", ["sc", "idx"], ["picked"], domain="ai.onnx.ml"),
        helper.make_node("FeatureVectorizer", ["picked", "nl2"], ["fv"], domain="ai.onnx.ml",
                         inputdimensions=[2, 4]),
        helper.make_node("Imputer", ["k"], ["kimp"], domain="ai.onnx.ml",
                         imputed_value_int64s=[7], replaced_value_int64=-1),
        helper.make_node("LabelEncoder", ["kimp"], ["kstr"], domain="ai.onnx.ml",
                         keys_int64s=[0, 1, 2, 7], values_strings=["zero", "one", "two", "seven"],
                         default_string="other"),
        helper.make_node("LabelEncoder", ["kstr"], ["kback"], domain="ai.onnx.ml",
                         keys_strings=["zero", "one", "two"], values_floats=[0.0, 1.5, 2.5],
                         default_float=-9.0),
        helper.make_node("OneHotEncoder", ["kimp"], ["onehot"], domain="ai.onnx.ml",
                         cats_int64s=[0, 2, 7, 4], zeros=1),
        helper.make_node("OneHotEncoder", ["kstr"], ["onehot_s"], domain="ai.onnx.ml",
                         cats_strings=["two", "zero", "seven"], zeros=1),
    ]
    m = graph_model(nodes, [vi("x", f32, ["N", 4]), vi("k", i64, ["N", 3])],
                    [vi("nmax", f32, ["N", 4]), vi("nl2", f32, ["N", 4]), vi("bin", f32, ["N", 4]),
                     vi("fv", f32, ["N", 6]), vi("kstr", s, ["N", 3]), vi("kback", f32, ["N", 3]),
                     vi("onehot", f32, ["N", 3, 4]), vi("onehot_s", f32, ["N", 3, 3])],
                    [init("idx", np.array([0, 3], dtype=np.int64))], ml=2)
    add("ml_preprocessing", m, [normal("x", 4, nan_rate=0.2),
                                {"name": "k", "elem": "int64", "shape": [-1, 3], "dist": "int",
                                 "low": -1, "high": 8}])

    # LabelEncoder of ai.onnx.ml 1: strings to their index in classes_strings, and back.
    nodes = [
        helper.make_node("LabelEncoder", ["s"], ["idx"], domain="ai.onnx.ml",
                         classes_strings=["a", "b", "c"], default_int64=-7),
        helper.make_node("LabelEncoder", ["k"], ["str"], domain="ai.onnx.ml",
                         classes_strings=["a", "b", "c"], default_string="none"),
    ]
    m = graph_model(nodes, [vi("s", s, ["N"]), vi("k", i64, ["N"])],
                    [vi("idx", i64, ["N"]), vi("str", s, ["N"])], ml=1)
    add("ml_label_encoder_v1", m, [
        {"name": "s", "elem": "string", "shape": [-1], "dist": "categories", "categories": ["a", "b", "c", "z"]},
        {"name": "k", "elem": "int64", "shape": [-1], "dist": "int", "low": -1, "high": 5}])

    # DictVectorizer and CastMap take a map; LinearRegressor with several targets.
    nodes = [
        helper.make_node("DictVectorizer", ["m"], ["dense"], domain="ai.onnx.ml",
                         int64_vocabulary=[1, 3, 5, 7]),
        helper.make_node("CastMap", ["m"], ["cast"], domain="ai.onnx.ml", cast_to="TO_FLOAT",
                         map_form="SPARSE", max_map=6),
        helper.make_node("LinearRegressor", ["dense"], ["lin"], domain="ai.onnx.ml",
                         coefficients=[1.0, -2.0, 0.5, 3.0, 0.0, 1.0, 1.0, -1.0],
                         intercepts=[0.5, -0.25], targets=2),
    ]
    mapt = helper.make_map_type_proto(i64, helper.make_tensor_type_proto(f32, None))
    m = graph_model(nodes, [helper.make_value_info("m", mapt)],
                    [vi("dense", f32, [1, 4]), vi("cast", f32, [1, 6]), vi("lin", f32, [1, 2])], ml=1)
    add("ml_maps", m, [{"name": "m", "dist": "map", "keys": [1, 2, 3, 5, 7], "scale": 2.0}])

    nodes = [helper.make_node("DictVectorizer", ["m"], ["dense"], domain="ai.onnx.ml",
                              string_vocabulary=["a", "b", "c"])]
    mapt = helper.make_map_type_proto(s, helper.make_tensor_type_proto(f32, None))
    m = graph_model(nodes, [helper.make_value_info("m", mapt)], [vi("dense", f32, [1, 3])], ml=1)
    add("ml_dict_strings", m, [{"name": "m", "dist": "map", "keys": ["a", "b", "c", "z"],
                                "scale": 2.0}])


def tree_graphs():
    """Tree ensembles with every branch mode, missing-value tracks and aggregate function, and
    the same trees in the TreeEnsemble (ai.onnx.ml 5) encoding."""
    rng = np.random.default_rng(5)
    n_trees, depth, n_features = 6, 4, 5
    modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]
    nodes = {k: [] for k in ["treeids", "nodeids", "featureids", "values", "modes", "truenodeids",
                             "falsenodeids", "missing"]}
    leaves = []  # (tree, node, target, weight)
    for t in range(n_trees):
        count = 0

        def build(d):
            nonlocal count
            me = count
            count += 1
            idx = len(nodes["treeids"])
            for k, v in (("treeids", t), ("nodeids", me)):
                nodes[k].append(v)
            if d == depth:
                nodes["featureids"].append(0)
                nodes["values"].append(0.0)
                nodes["modes"].append("LEAF")
                nodes["truenodeids"].append(0)
                nodes["falsenodeids"].append(0)
                nodes["missing"].append(0)
                for target in range(2):
                    leaves.append((t, me, target, float(np.float32(rng.normal()))))
                return me
            mode = modes[rng.integers(0, len(modes))]
            value = float(np.round(rng.normal(), 0)) if mode in ("BRANCH_EQ", "BRANCH_NEQ") \
                else float(np.float32(rng.normal()))
            nodes["featureids"].append(int(rng.integers(0, n_features)))
            nodes["values"].append(value)
            nodes["modes"].append(mode)
            nodes["truenodeids"].append(0)
            nodes["falsenodeids"].append(0)
            nodes["missing"].append(int(rng.integers(0, 2)))
            nodes["truenodeids"][idx] = build(d + 1)
            nodes["falsenodeids"][idx] = build(d + 1)
            return me

        build(0)
    common = dict(domain="ai.onnx.ml", nodes_treeids=nodes["treeids"], nodes_nodeids=nodes["nodeids"],
                  nodes_featureids=nodes["featureids"], nodes_values=nodes["values"],
                  nodes_modes=nodes["modes"], nodes_truenodeids=nodes["truenodeids"],
                  nodes_falsenodeids=nodes["falsenodeids"],
                  nodes_missing_value_tracks_true=nodes["missing"])
    lt = [l[0] for l in leaves]
    ln = [l[1] for l in leaves]
    li = [l[2] for l in leaves]
    lw = [l[3] for l in leaves]
    xs = [{"name": "X", "elem": "float32", "shape": [-1, n_features], "dist": "int", "low": -2,
           "high": 3}]
    for agg in ["SUM", "AVERAGE", "MIN", "MAX"]:
        for post in (["NONE", "SOFTMAX_ZERO"] if agg == "SUM" else ["NONE"]):
            node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], n_targets=2,
                                    target_treeids=lt, target_nodeids=ln, target_ids=li,
                                    target_weights=lw, aggregate_function=agg, post_transform=post,
                                    base_values=[0.5, -0.5], **common)
            m = graph_model([node], [vi("X", TensorProto.FLOAT, ["N", n_features])],
                            [vi("Y", TensorProto.FLOAT, ["N", 2])], ml=1)
            # Integer-valued inputs hit the EQ and NEQ splits; NaNs take the missing tracks.
            spec = dict(xs[0])
            spec["nan_rate"] = 0.15
            add(f"tree_regressor_{agg.lower()}_{post.lower()}", m, [spec])
    for post in ["LOGISTIC", "SOFTMAX", "PROBIT"]:
        weights = [abs(w) / 10 for w in lw] if post == "PROBIT" else lw
        node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "scores"],
                                class_treeids=lt, class_nodeids=ln, class_ids=li,
                                class_weights=weights, classlabels_int64s=[10, 20],
                                post_transform=post, **common)
        m = graph_model([node], [vi("X", TensorProto.FLOAT, ["N", n_features])],
                        [vi("label", TensorProto.INT64, ["N"]), vi("scores", TensorProto.FLOAT, ["N", 2])],
                        ml=1)
        spec = dict(xs[0])
        spec["nan_rate"] = 0.15
        add(f"tree_classifier_{post.lower()}", m, [spec])

    # The same trees as TreeEnsemble (ai.onnx.ml 5), on doubles.
    index = {(t, n): i for i, (t, n) in enumerate(zip(nodes["treeids"], nodes["nodeids"]))}
    interior = [i for i, mode in enumerate(nodes["modes"]) if mode != "LEAF"]
    pos = {i: p for p, i in enumerate(interior)}
    leaf_of = {}
    leaf_targets, leaf_weights = [], []
    for (t, n, target, w) in leaves:
        if target != 0:
            continue
        leaf_of[index[(t, n)]] = len(leaf_targets)
        leaf_targets.append(0)
        leaf_weights.append(w)
    mode_code = {m: i for i, m in enumerate(modes)}
    te = {k: [] for k in ["feat", "split", "mode", "true", "false", "tleaf", "fleaf", "miss"]}
    roots = []
    for i in interior:
        t, n = nodes["treeids"][i], nodes["nodeids"][i]
        if n == 0:
            roots.append(pos[i])
        te["feat"].append(nodes["featureids"][i])
        te["split"].append(nodes["values"][i])
        te["mode"].append(mode_code[nodes["modes"][i]])
        te["miss"].append(nodes["missing"][i])
        for side, key, leafkey in (("truenodeids", "true", "tleaf"), ("falsenodeids", "false", "fleaf")):
            child = index[(t, nodes[side][i])]
            if nodes["modes"][child] == "LEAF":
                te[key].append(leaf_of[child])
                te[leafkey].append(1)
            else:
                te[key].append(pos[child])
                te[leafkey].append(0)
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1, aggregate_function=1,
        post_transform=0, tree_roots=roots, nodes_featureids=te["feat"],
        nodes_splits=helper.make_tensor("s", TensorProto.DOUBLE, [len(te["split"])], te["split"]),
        nodes_modes=helper.make_tensor("m", TensorProto.UINT8, [len(te["mode"])], te["mode"]),
        nodes_truenodeids=te["true"], nodes_falsenodeids=te["false"], nodes_trueleafs=te["tleaf"],
        nodes_falseleafs=te["fleaf"], nodes_missing_value_tracks_true=te["miss"],
        leaf_targetids=leaf_targets,
        leaf_weights=helper.make_tensor("w", TensorProto.DOUBLE, [len(leaf_weights)], leaf_weights))
    m = graph_model([node], [vi("X", TensorProto.DOUBLE, ["N", n_features])],
                    [vi("Y", TensorProto.DOUBLE, ["N", 1])], opset=21, ml=5, ir=10)
    spec = dict(xs[0])
    spec["elem"] = "float64"
    spec["nan_rate"] = 0.15
    add("tree_ensemble_v5", m, [spec])


# The groups a run can rebuild alone: they come last, in this order.
GROUPS = {"neighbours": neighbours_text.neighbours_group, "text": neighbours_text.text_group}


def grouped(group):
    def add_to(name, model, inputs, rows=ROWS):
        add(name, model, inputs, rows)
        MODELS[-1]["group"] = group
    return add_to


def main():
    _patch_bool_attributes()
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[2:]
    if only:
        order = list(GROUPS)
        rebuilt = order[min(order.index(g) for g in only):]
        with open(os.path.join(OUT, "manifest.json")) as f:
            kept = [m for m in json.load(f)["models"] if m.get("group") not in rebuilt]
        MODELS.extend(kept)
        for group in rebuilt:
            GROUPS[group](grouped(group))
        with open(os.path.join(OUT, "manifest.json"), "w") as f:
            json.dump({"seed": SEED, "models": MODELS}, f, indent=1)
        print(f"{len(MODELS)} models")
        return
    for f in os.listdir(OUT):
        if f.endswith((".onnx", ".json")):
            os.remove(os.path.join(OUT, f))
    sklearn_models()
    column_transformer_model()
    boosting_models()
    torch_style_mlp()
    core_ops_graph()
    core_ops_old_opset()
    ml_ops_graphs()
    tree_graphs()
    for group, build in GROUPS.items():
        build(grouped(group))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"seed": SEED, "models": MODELS}, f, indent=1)
    print(f"{len(MODELS)} models")


if __name__ == "__main__":
    main()
