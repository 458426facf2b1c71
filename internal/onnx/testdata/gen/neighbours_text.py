"""The corpus's k-nearest-neighbours and text models (gen.py's groups "neighbours" and "text"):
scikit-learn models as skl2onnx converts them (Scan, TopK, StringNormalizer, Tokenizer,
TfIdfVectorizer), and hand-written graphs for those operators' attributes and edge cases."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

# Words for the drawn documents: ASCII, accented, Greek, Turkish dotted capitals, digits,
# punctuation, and the stopwords the models list.
WORDS = ["the", "The", "THE", "a", "cat", "Cat", "dog", "DOGS", "sat", "on", "mat", "quick",
         "brown", "fox", "jumps", "over", "lazy", "barks", "and", "or", "not", "x", "42",
         "éclair", "Éclair", "naïve", "straße", "ΣΟΦΙΑ", "σοφία", "İzmir", "ıi", "well-known",
         "e-mail", "U.S.A.", "!", ",", "--", "it's", "ok"]
# Seeded sentences to fit the text models on.
TOPICS = [["cat", "mat", "sat", "naïve", "éclair", "quick"], ["dog", "barks", "fox", "lazy", "straße", "ΣΟΦΙΑ"]]

F32, F64, I64, STR = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.STRING


def text_spec(name, shape, max_words=8):
    return {"name": name, "elem": "string", "shape": shape, "dist": "text", "words": WORDS,
            "max_words": max_words}


def graph(nodes, inputs, outputs, inits=(), opset=17, ms=False, ml=0):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    imports = [helper.make_opsetid("", opset)]
    if ms:
        imports.append(helper.make_opsetid("com.microsoft", 1))
    if ml:
        imports.append(helper.make_opsetid("ai.onnx.ml", ml))
    m = helper.make_model(g, opset_imports=imports, producer_name="mlship-corpus")
    m.ir_version = 8
    return m


def vi(name, elem, shape):
    if shape is None:  # a tensor of any shape
        return helper.make_value_info(name, helper.make_tensor_type_proto(elem, None))
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


# ---- k nearest neighbours -----------------------------------------------------------------------


def neighbours_models(add):
    from sklearn.datasets import make_classification, make_regression
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_redundant=0,
                               n_classes=3, random_state=7)
    X = X.astype(np.float32)
    Xr, yr = make_regression(n_samples=150, n_features=6, noise=3.0, random_state=7)
    Xr = Xr.astype(np.float32)
    f6 = [{"name": "X", "elem": "float32", "shape": [-1, 6], "dist": "normal", "scale": 1.5}]
    t6 = [("X", FloatTensorType([None, 6]))]

    add("knn_classifier", to_onnx(KNeighborsClassifier(5).fit(X, y), initial_types=t6), f6)
    add("knn_classifier_distance_manhattan",
        to_onnx(KNeighborsClassifier(4, weights="distance", p=1).fit(X, np.array(["a", "b", "c"])[y]),
                initial_types=t6, options={"zipmap": False}), f6)
    add("knn_regressor", to_onnx(KNeighborsRegressor(3).fit(Xr, yr / 50), initial_types=t6), f6)
    # The converter's other form: onnxruntime's CDist in place of the Scan.
    add("knn_classifier_cdist",
        to_onnx(KNeighborsClassifier(5).fit(X, y), initial_types=t6,
                options={"optim": "cdist", "zipmap": False}), f6)
    add("knn_regressor_cdist_distance",
        to_onnx(KNeighborsRegressor(4, weights="distance").fit(Xr, yr / 50), initial_types=t6,
                options={"optim": "cdist"}), f6)
    add("knn_regressor_distance_double",
        to_onnx(KNeighborsRegressor(6, weights="distance").fit(Xr.astype(np.float64), yr / 50),
                initial_types=[("X", DoubleTensorType([None, 6]))]),
        [dict(f6[0], elem="float64")])


# ---- text pipelines -----------------------------------------------------------------------------


def documents(n=300, seed=11):
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        words = list(rng.choice(TOPICS[label], size=4)) + list(rng.choice(WORDS, size=int(rng.integers(1, 6))))
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(label)
    return np.array(docs, dtype=object), np.array(labels)


def text_models(add):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    docs, y = documents()
    types = [("text", StringTensorType([None, 1]))]
    spec = [text_spec("text", [-1, 1])]
    # onnxruntime builds StringNormalizer's locale with the C library; C.UTF-8 is the one
    # every Linux has (the converter's default, en_US.UTF-8, often is not installed).
    for name, vec, clf in (
            ("text_count_logreg", CountVectorizer(), LogisticRegression(max_iter=500)),
            ("text_tfidf_bigrams_logreg", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
             LogisticRegression(max_iter=500)),
            ("text_tfidf_stopwords_nb", TfidfVectorizer(lowercase=False, stop_words=["the", "a", "and"],
                                                        ngram_range=(1, 3), norm="l1"), MultinomialNB())):
        pipe = make_pipeline(vec, clf).fit(docs, y)
        options = {id(vec): {"locale": "C.UTF-8"}, id(clf): {"zipmap": False}}
        add(name, to_onnx(pipe, initial_types=types, options=options), spec)
    # The separators form of the converter's tokenizer, and ZipMap on the output.
    vec = CountVectorizer(ngram_range=(1, 2), min_df=2)
    pipe = make_pipeline(vec, LogisticRegression(max_iter=500)).fit(docs, y)
    options = {id(vec): {"locale": "C.UTF-8", "separators": [" ", "[.]", "\\?", ",", ";", ":", "\\!", "-"]}}
    add("text_count_separators_logreg", to_onnx(pipe, initial_types=types, options=options), spec)
    # Documents without a single token: the tokenizer's output has no columns, the counts are 0.
    vec = CountVectorizer()
    pipe = make_pipeline(vec, LogisticRegression(max_iter=500)).fit(docs, y)
    options = {id(vec): {"locale": "C.UTF-8"}}
    add("text_empty_documents", to_onnx(pipe, initial_types=types, options=options),
        [{"name": "text", "elem": "string", "shape": [-1, 1], "dist": "categories",
          "categories": ["", " ", "!!", "-- ,"]}])


# ---- operators one by one -----------------------------------------------------------------------


def topk_graphs(add):
    def ints(name, cols, low=0, high=4, elem="float32"):
        return {"name": name, "elem": elem, "shape": [-1, cols], "dist": "int", "low": low, "high": high}

    k3 = init("k3", np.array([3], dtype=np.int64))
    # Ties everywhere (values drawn from 0..3): equal values keep their index order.
    nodes = [helper.make_node("TopK", ["x", "k3"], ["v", "i"], axis=1),
             helper.make_node("TopK", ["x", "k3"], ["vs", "is"], axis=-1, largest=0),
             helper.make_node("TopK", ["x", "k3"], ["v0", "i0"], axis=0, largest=1),
             helper.make_node("TopK", ["n", "k3"], ["vn", "in"], axis=1, largest=0)]
    m = graph(nodes, [vi("x", F32, ["N", 7]), vi("n", I64, ["N", 5])],
              [vi(o, F32 if o.startswith("v") and o != "vn" else I64, None)
               for o in ["v", "i", "vs", "is", "v0", "i0", "vn", "in"]], [k3], opset=11)
    add("topk_ties", m, [ints("x", 7), ints("n", 5, -3, 3, "int64")])

    # sorted=0 leaves the order to the implementation: compare what does not depend on it.
    nodes = [helper.make_node("TopK", ["x", "k3"], ["v", "i"], axis=1, sorted=0),
             helper.make_node("ReduceSum", ["v", "ax1"], ["vsum"], keepdims=0),
             helper.make_node("Cast", ["i"], ["fi"], to=F32),
             helper.make_node("ReduceSum", ["fi", "ax1"], ["isum"], keepdims=0),
             helper.make_node("TopK", ["v", "k3"], ["vsorted", "unused"], axis=1)]
    m = graph(nodes, [vi("x", F32, ["N", 9])], [vi("vsum", F32, ["N"]), vi("isum", F32, ["N"]),
                                                 vi("vsorted", F32, ["N", 3])],
              [k3, init("ax1", np.array([1], dtype=np.int64))], opset=13)
    add("topk_unsorted", m, [{"name": "x", "elem": "float32", "shape": [-1, 9], "dist": "normal"}])

    # The attribute k of opset 1 to 9, the input k of opset 10, doubles, k = 1 and k = 0.
    nodes = [helper.make_node("TopK", ["x"], ["v", "i"], k=2)]
    m = graph(nodes, [vi("x", F32, ["N", 4])], [vi("v", F32, ["N", 2]), vi("i", I64, ["N", 2])], opset=9)
    add("topk_opset9", m, [ints("x", 4)])
    nodes = [helper.make_node("TopK", ["x", "k1"], ["v", "i"], axis=1),
             helper.make_node("TopK", ["d", "k0"], ["dv", "di"], axis=1)]
    m = graph(nodes, [vi("x", F32, ["N", 4]), vi("d", F32, ["N", 3])],
              [vi("v", F32, ["N", 1]), vi("i", I64, ["N", 1]), vi("dv", F32, ["N", 0]), vi("di", I64, ["N", 0])],
              [init("k1", np.array([1], dtype=np.int64)), init("k0", np.array([0], dtype=np.int64))], opset=10)
    add("topk_opset10", m, [ints("x", 4), {"name": "d", "elem": "float32", "shape": [-1, 3], "dist": "normal"}])
    nodes = [helper.make_node("TopK", ["x", "k3"], ["v", "i"], axis=1, largest=0)]
    m = graph(nodes, [vi("x", F64, ["N", 40])], [vi("v", F64, ["N", 3]), vi("i", I64, ["N", 3])], [k3],
              opset=11)
    add("topk_double_wide", m, [{"name": "x", "elem": "float64", "shape": [-1, 40], "dist": "int",
                                 "low": 0, "high": 6}])
    k40 = init("k40", np.array([40], dtype=np.int64))
    nodes = [helper.make_node("TopK", ["x", "k40"], ["v", "i"], axis=1)]
    m = graph(nodes, [vi("x", F32, ["N", 50])], [vi("v", F32, ["N", 40]), vi("i", I64, ["N", 40])], [k40],
              opset=11)
    add("topk_large_k", m, [ints("x", 50, 0, 10)])


def scan_graphs(add):
    """Scan with a state, two scan inputs (one reversed, one along axis 1), two scan outputs
    (one prepended, one along axis 1) and a body that reads a value of the outer graph."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "a"], ["sum"]),
         helper.make_node("Mul", ["sum", "scale"], ["s_out"]),
         helper.make_node("Sub", ["b", "s_out"], ["diff"]),
         helper.make_node("Identity", ["s_out"], ["acc"])],
        "body",
        [vi("s_in", F32, [3]), vi("a", F32, [3]), vi("b", F32, [3])],
        [vi("s_out", F32, [3]), vi("acc", F32, [3]), vi("diff", F32, [3])])
    nodes = [helper.make_node("Mul", ["half", "two"], ["scale"]),
             helper.make_node("Scan", ["s0", "xa", "xb"], ["s_final", "accs", "diffs"], body=body,
                              num_scan_inputs=2, scan_input_directions=[1, 0], scan_input_axes=[0, 1],
                              scan_output_directions=[1, 0], scan_output_axes=[0, -1])]
    m = graph(nodes, [vi("s0", F32, [3]), vi("xa", F32, ["T", 3]), vi("xb", F32, [3, "T"])],
              [vi("s_final", F32, [3]), vi("accs", F32, ["T", 3]), vi("diffs", F32, [3, "T"])],
              [init("half", np.float32(0.45)), init("two", np.float32(2.0))], opset=16)
    add("scan_directions_axes", m, [
        {"name": "s0", "elem": "float32", "shape": [3], "dist": "normal"},
        {"name": "xa", "elem": "float32", "shape": [-1, 3], "dist": "normal"},
        {"name": "xb", "elem": "float32", "shape": [3, -1], "dist": "normal"}], rows=5)

    # A scalar int64 state counting the iterations and the distance of each row to a
    # point of the outer graph, in an opset 9 model.
    body = helper.make_graph(
        [helper.make_node("Add", ["n_in", "one"], ["n_out"]),
         helper.make_node("Sub", ["row", "centre"], ["d"]),
         helper.make_node("ReduceSumSquare", ["d"], ["dist"], axes=[0], keepdims=0)],
        "body", [vi("n_in", I64, []), vi("row", F32, [4])],
        [vi("n_out", I64, []), vi("dist", F32, [])])
    # The count is a scalar; it leaves as [1], as some runtimes return no scalars.
    nodes = [helper.make_node("Scan", ["n0", "x"], ["n", "dists"], body=body, num_scan_inputs=1),
             helper.make_node("Unsqueeze", ["n"], ["count"], axes=[0])]
    m = graph(nodes, [vi("x", F32, ["N", 4])], [vi("count", I64, [1]), vi("dists", F32, ["N"])],
              [init("n0", np.array(0, dtype=np.int64)), init("one", np.array(1, dtype=np.int64)),
               init("centre", np.array([0.5, -1, 2, 0], dtype=np.float32))], opset=9)
    add("scan_opset9_outer", m, [{"name": "x", "elem": "float32", "shape": [-1, 4], "dist": "normal"}])


def scan_opset8_graph(add):
    """Opset 8's batched Scan: a state and two scan inputs per batch item, one reversed,
    with sequence_lens (outputs past an item's length are zeros) and without."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "a"], ["s_out"]),
         helper.make_node("Mul", ["s_out", "b"], ["y"])],
        "body", [vi("s_in", F32, [2]), vi("a", F32, [2]), vi("b", F32, [])],
        [vi("s_out", F32, [2]), vi("y", F32, [2])])
    nodes = [helper.make_node("Scan", ["lens", "s0", "xa", "xb"], ["s_final", "ys"], body=body,
                              num_scan_inputs=2, directions=[1, 0]),
             helper.make_node("Scan", ["", "s0", "xa", "xb"], ["s_full", "ys_full"], body=body,
                              num_scan_inputs=2)]
    m = graph(nodes, [vi("lens", I64, ["B"]), vi("s0", F32, ["B", 2]), vi("xa", F32, ["B", 5, 2]),
                      vi("xb", F32, ["B", 5])],
              [vi("s_final", F32, ["B", 2]), vi("ys", F32, ["B", 5, 2]), vi("s_full", F32, ["B", 2]),
               vi("ys_full", F32, ["B", 5, 2])], opset=8)
    add("scan_opset8_batched", m, [
        {"name": "lens", "elem": "int64", "shape": [-1], "dist": "int", "low": 1, "high": 6},
        {"name": "s0", "elem": "float32", "shape": [-1, 2], "dist": "normal"},
        {"name": "xa", "elem": "float32", "shape": [-1, 5, 2], "dist": "normal"},
        {"name": "xb", "elem": "float32", "shape": [-1, 5], "dist": "normal"}], rows=6)


def nested_scan_graph(add):
    """A Scan in a Scan's body: the inner body reads a value of the main graph computed at
    run time (w) and one of the outer body (bias)."""
    inner = helper.make_graph(
        [helper.make_node("Mul", ["e", "w"], ["ew"]),
         helper.make_node("Add", ["a_in", "ew"], ["a_out"]),
         helper.make_node("Add", ["a_out", "bias"], ["y"])],
        "inner", [vi("a_in", F32, [1]), vi("e", F32, [])], [vi("a_out", F32, [1]), vi("y", F32, [1])])
    outer = helper.make_graph(
        [helper.make_node("ReduceMax", ["row"], ["bias"], axes=[0], keepdims=1),
         helper.make_node("Scan", ["acc_in", "row"], ["acc_out", "ys"], body=inner, num_scan_inputs=1)],
        "outer", [vi("acc_in", F32, [1]), vi("row", F32, [4])], [vi("acc_out", F32, [1]), vi("ys", F32, [4, 1])])
    nodes = [helper.make_node("Mul", ["s", "two"], ["w"]),
             helper.make_node("Scan", ["zero", "x"], ["total", "all_ys"], body=outer, num_scan_inputs=1)]
    m = graph(nodes, [vi("x", F32, ["N", 4]), vi("s", F32, [1])],
              [vi("total", F32, [1]), vi("all_ys", F32, ["N", 4, 1])],
              [init("two", np.array([2.0], dtype=np.float32)), init("zero", np.zeros(1, dtype=np.float32))], opset=17)
    add("scan_nested", m, [{"name": "x", "elem": "float32", "shape": [-1, 4], "dist": "normal"},
                           {"name": "s", "elem": "float32", "shape": [1], "dist": "normal"}])


def tfidf_graphs(add):
    # Integer pool: 1-grams 2, 3, 5, 7; 2-grams (2, 3), (3, 5), (7, 7); 3-gram (2, 3, 5).
    pool = [2, 3, 5, 7, 2, 3, 3, 5, 7, 7, 2, 3, 5]
    counts = [0, 4, 10]
    indexes = [0, 1, 2, 3, 4, 5, 6, 7]
    weights = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    nodes, outs = [], []
    for mode in ("TF", "IDF", "TFIDF"):
        for lo, hi, skip in ((1, 1, 0), (1, 3, 2), (2, 3, 1)):
            for w in ((None, weights) if mode != "TF" else (None,)):
                name = f"{mode.lower()}_{lo}{hi}{skip}{'w' if w else ''}"
                attrs = dict(mode=mode, min_gram_length=lo, max_gram_length=hi, max_skip_count=skip,
                             ngram_counts=counts, ngram_indexes=indexes, pool_int64s=pool)
                if w:
                    attrs["weights"] = w
                nodes.append(helper.make_node("TfIdfVectorizer", ["x"], [name], **attrs))
                outs.append(vi(name, F32, ["N", 8]))
    # int32 input, one row.
    nodes.append(helper.make_node("TfIdfVectorizer", ["x32"], ["one_row"], mode="TF", min_gram_length=1,
                                  max_gram_length=2, max_skip_count=3, ngram_counts=counts[:2],
                                  ngram_indexes=[3, 2, 1, 0, 4, 6, 5], pool_int64s=pool[:10]))
    outs.append(vi("one_row", F32, [7]))
    m = graph(nodes, [vi("x", I64, ["N", 12]), vi("x32", TensorProto.INT32, [10])], outs, opset=9)
    add("tfidf_int_modes", m, [
        {"name": "x", "elem": "int64", "shape": [-1, 12], "dist": "int", "low": 1, "high": 9},
        {"name": "x32", "elem": "int32", "shape": [10], "dist": "int", "low": 1, "high": 9}])

    # String pool, with ngram_indexes out of pool order, two n-grams in one column and a
    # column no n-gram fills.
    spool = ["cat", "dog", "the", "the", "cat", "the", "dog", "dog", "barks"]
    nodes = [helper.make_node("TfIdfVectorizer", ["t"], ["y"], mode="TFIDF", min_gram_length=1,
                              max_gram_length=2, max_skip_count=1, ngram_counts=[0, 3],
                              ngram_indexes=[5, 0, 2, 1, 0, 3], pool_strings=spool,
                              weights=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
             helper.make_node("TfIdfVectorizer", ["t"], ["y_idf"], mode="IDF", min_gram_length=1,
                              max_gram_length=2, max_skip_count=2, ngram_counts=[0, 3],
                              ngram_indexes=[5, 0, 2, 1, 0, 3], pool_strings=spool,
                              weights=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])]
    m = graph(nodes, [vi("t", STR, ["N", 6])], [vi("y", F32, ["N", 6]), vi("y_idf", F32, ["N", 6])], opset=9)
    add("tfidf_strings", m, [{"name": "t", "elem": "string", "shape": [-1, 6], "dist": "categories",
                              "categories": ["the", "cat", "dog", "barks", "fox"]}])


def string_graphs(add):
    loc = "C.UTF-8"
    sn = [
        helper.make_node("StringNormalizer", ["s"], ["lower"], case_change_action="LOWER", locale=loc),
        helper.make_node("StringNormalizer", ["s"], ["upper"], case_change_action="UPPER", locale=loc),
        helper.make_node("StringNormalizer", ["s"], ["kept"], case_change_action="NONE",
                         is_case_sensitive=1, stopwords=["the", "DOGS"], locale=loc),
        helper.make_node("StringNormalizer", ["s"], ["nocase"], case_change_action="NONE",
                         is_case_sensitive=0, stopwords=["the", "dogs", "éclair"], locale=loc),
        helper.make_node("StringNormalizer", ["s"], ["nocase_upper"], case_change_action="UPPER",
                         is_case_sensitive=0, stopwords=["the", "straße", "σοφία"], locale=loc),
        helper.make_node("StringNormalizer", ["s"], ["case_lower"], case_change_action="LOWER",
                         is_case_sensitive=1, stopwords=["The", "x"], locale=loc),
        helper.make_node("StringNormalizer", ["row"], ["row_out"], case_change_action="LOWER",
                         is_case_sensitive=0, stopwords=["cat"], locale=loc),
    ]
    outs = [vi(o, STR, None) for o in ["lower", "upper", "kept", "nocase", "nocase_upper", "case_lower"]]
    outs.append(vi("row_out", STR, None))
    m = graph(sn, [vi("s", STR, ["C"]), vi("row", STR, [1, 4])], outs, opset=10)
    add("string_normalizer", m, [{"name": "s", "elem": "string", "shape": [-1], "dist": "categories",
                                  "categories": WORDS},
                                 {"name": "row", "elem": "string", "shape": [1, 4], "dist": "categories",
                                  "categories": WORDS}])

    tk = [
        helper.make_node("Tokenizer", ["t"], ["by_space"], domain="com.microsoft", mark=1, mincharnum=2,
                         pad_value="#", separators=[" ", "-+", ","]),
        helper.make_node("Tokenizer", ["t"], ["words"], domain="com.microsoft", mark=0, mincharnum=3,
                         pad_value="", tokenexp="\\b\\w+\\b"),
        helper.make_node("Tokenizer", ["t"], ["alnum"], domain="com.microsoft", mark=0, mincharnum=1,
                         pad_value="<pad>", tokenexp="[a-zA-Z0-9_]+"),
        helper.make_node("Tokenizer", ["t"], ["letters"], domain="com.microsoft", mark=1, mincharnum=1,
                         pad_value="_", tokenexp="."),
        helper.make_node("Tokenizer", ["t"], ["chars"], domain="com.microsoft", mark=0, mincharnum=1,
                         pad_value="_", separators=[""]),
        helper.make_node("Tokenizer", ["t"], ["greedy"], domain="com.microsoft", mark=0, mincharnum=1,
                         pad_value="~", separators=["a|an", "[0-9]+"]),
        helper.make_node("Tokenizer", ["c"], ["column"], domain="com.microsoft", mark=0, mincharnum=1,
                         pad_value="#", separators=[" "]),
    ]
    outs = [vi(o, STR, None) for o in ["by_space", "words", "alnum", "letters", "chars", "greedy", "column"]]
    m = graph(tk, [vi("t", STR, ["N", 2]), vi("c", STR, ["C"])], outs, opset=17, ms=True)
    add("tokenizer", m, [text_spec("t", [-1, 2], 5), text_spec("c", [-1], 4)])

    # Every string a stopword: one empty string comes out. Nothing but separators, or
    # empty strings: the tokens have no columns.
    sn = [helper.make_node("StringNormalizer", ["s"], ["none_left"], case_change_action="LOWER",
                           is_case_sensitive=0, stopwords=["the", "a"], locale=loc),
          helper.make_node("StringNormalizer", ["row"], ["none_left_row"], case_change_action="NONE",
                           is_case_sensitive=1, stopwords=["the", "THE", "a"], locale=loc),
          helper.make_node("Tokenizer", ["e"], ["no_tokens"], domain="com.microsoft", mark=1,
                           mincharnum=1, pad_value="#", separators=[" ", "-"]),
          helper.make_node("Tokenizer", ["e"], ["no_words"], domain="com.microsoft", mark=0,
                           mincharnum=2, pad_value="#", tokenexp="[a-z]+")]
    m = graph(sn, [vi("s", STR, ["C"]), vi("row", STR, [1, 3]), vi("e", STR, ["N", 2])],
              [vi(o, STR, None) for o in ["none_left", "none_left_row", "no_tokens", "no_words"]],
              opset=10, ms=True)
    add("text_ops_nothing_left", m, [
        {"name": "s", "elem": "string", "shape": [-1], "dist": "categories", "categories": ["the", "THE", "A"]},
        {"name": "row", "elem": "string", "shape": [1, 3], "dist": "categories", "categories": ["the", "THE", "a"]},
        {"name": "e", "elem": "string", "shape": [-1, 2], "dist": "categories", "categories": ["", " ", "- -", "x"]}])


def neighbours_group(add):
    neighbours_models(add)
    topk_graphs(add)
    scan_graphs(add)
    nested_scan_graph(add)
    scan_opset8_graph(add)


def text_group(add):
    text_models(add)
    tfidf_graphs(add)
    string_graphs(add)
