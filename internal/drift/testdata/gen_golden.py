"""Writes golden.json: scipy's and numpy's answers for the statistics that
internal/drift reimplements. Run with the reference environment
(internal/drift/testdata/requirements.txt):

    python internal/drift/testdata/gen_golden.py internal/drift/testdata/golden.json

Inputs are drawn from seeded generators and stored with the answers, so the
Go tests need no Python.
"""
import json
import sys

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial import distance


def floats(a):
    return [float(x) for x in a]


def sequence(n, mult, offset, scale=1.0, shift=0.0, integer=False):
    """A deterministic sequence the Go tests rebuild bit for bit:
    (i*mult + offset) mod 1, scaled and shifted, floored when integer."""
    v = np.mod(np.arange(n, dtype=np.float64) * mult + offset, 1.0) * scale + shift
    return np.floor(v) if integer else v


def ks_cases():
    cases = []
    specs = [
        # (n1, n2, shift of b, scale, integer) -- exact square, exact band, ties, asymptotic
        (20, 20, 0.0, 1.0, False), (50, 50, 0.2, 1.0, False), (37, 53, 0.1, 1.0, False),
        (100, 250, 0.0, 1.0, False), (500, 300, 0.05, 1.0, False), (1000, 997, 0.01, 1.0, False),
        (60, 90, 0.0, 7.0, True), (200, 1000, 1.0, 7.0, True), (4000, 10000, 0.01, 1.0, False),
        (800, 12000, 0.03, 1.0, False), (300, 10001, 0.0, 9.0, True), (15000, 11000, 0.005, 1.0, False),
        (3, 7, 0.0, 1.0, False), (1, 1, 0.0, 1.0, False), (5, 5, 10.0, 1.0, False), (1000, 1000, 0.0, 1.0, False),
        (700, 900, 0.4, 1.0, False), (90, 11000, 0.2, 1.0, False),
    ]
    for i, (n1, n2, shift, scale, integer) in enumerate(specs):
        ga = {"n": n1, "mult": 0.6180339887498949, "offset": 0.1 * i, "scale": scale, "shift": 0.0, "integer": integer}
        gb = {"n": n2, "mult": 0.7548776662466927, "offset": 0.05 * i, "scale": scale, "shift": shift * scale, "integer": integer}
        a = sequence(**ga)
        b = sequence(**gb)
        res = stats.ks_2samp(a, b)
        cases.append({"a": ga, "b": gb, "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    return cases


def kstwo_cases():
    ns = [1, 2, 3, 5, 10, 20, 50, 100, 140, 141, 300, 500, 1000, 5000, 100000, 200000]
    ds = [0.001, 0.01, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.8, 0.95, 0.999]
    out = []
    for n in ns:
        for d in ds + [0.4 / n, 0.9 / n, 1.5 / n, (n - 0.5) / n if n > 1 else 0.7]:
            out.append({"n": n, "d": d, "sf": float(stats.kstwo.sf(d, n))})
    return out


def chi2_cases():
    out = []
    for df in [1, 2, 3, 4, 5, 9, 10, 30, 99, 500, 1999]:
        for x in [0.001, 0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, 600, 1000, 2500]:
            out.append({"df": df, "x": x, "sf": float(special.chdtrc(df, x))})
    return out


def chisquare_cases(rng):
    out = []
    for k in [2, 3, 5, 10, 40]:
        ref = rng.integers(1, 200, size=k).astype(float)
        cur = rng.integers(1, 200, size=k).astype(float)
        f_exp = ref * cur.sum() / ref.sum()
        res = stats.chisquare(cur, f_exp)
        out.append({"ref": floats(ref), "cur": floats(cur), "statistic": float(res.statistic), "pvalue": float(res.pvalue)})
    return out


def distance_cases(rng):
    out = []
    for n1, n2, shift in [(10, 12, 0.0), (100, 80, 0.5), (400, 300, 0.1), (5, 5, 2.0)]:
        a = rng.normal(size=n1)
        b = rng.normal(loc=shift, size=n2)
        p = rng.random(7)
        q = rng.random(7)
        q[2] = 0.0
        out.append({
            "a": floats(a), "b": floats(b),
            "wasserstein": float(stats.wasserstein_distance(a, b)),
            "p": floats(p), "q": floats(q),
            "jensenshannon": float(distance.jensenshannon(p, q)),
            "entropy": float(stats.entropy(p, q + 1e-3)),
            "q_filled": floats(q + 1e-3),
        })
    return out


def sturges_cases(rng):
    out = []
    for data, integer in [
        (rng.normal(size=137), False), (rng.normal(size=700) * 1e-3, False),
        (np.full(10, 3.0), False), (rng.integers(0, 7, size=300), True),
        (rng.integers(-50, 50, size=31), True), (np.array([1.0, 2.0]), False),
    ]:
        edges = np.histogram_bin_edges(data, bins="sturges")
        counts = np.histogram(data[: len(data) // 2], edges)[0]
        out.append({"data": floats(data), "integer": integer, "edges": floats(edges), "counts_first_half": [int(c) for c in counts]})
    return out


def main(path):
    rng = np.random.default_rng(20260601)
    golden = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "ks_2samp": ks_cases(),
        "kstwo_sf": kstwo_cases(),
        "chi2_sf": chi2_cases(),
        "chisquare": chisquare_cases(rng),
        "distances": distance_cases(rng),
        "sturges": sturges_cases(rng),
        "normal_cdf": [{"z": z, "cdf": float(stats.norm.cdf(z))} for z in [-8, -3.2, -1, 0, 0.3, 1.96, 5, 9]],
    }
    with open(path, "w") as f:
        json.dump(golden, f, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
