"""What the gate tests share: `mlship gate evaluate` and its exit status."""

from __future__ import annotations

import json

from helpers import mlship

# `mlship gate evaluate` exits 5 when the version fails its benchmark.
EXIT_GATE_FAILED = 5


def evaluate(server, ref, *extra):
    p = mlship(server, "gate", "evaluate", ref, "-o", "json", *extra, check=False)
    assert p.returncode in (0, EXIT_GATE_FAILED), p.stderr
    return p.returncode, json.loads(p.stdout)
