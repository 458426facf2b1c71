#!/usr/bin/env bash
# Creates the Python environments the benchmarks start their baselines from, at the
# repository root:
#   .venv-bench     bench/requirements.txt: MLflow's tracking server and scoring server
#                   (mlflow==3.17.2), and scikit-learn, skl2onnx and onnxruntime to build
#                   the model that bench/serving serves
#   .venv-mlserver  bench/requirements-mlserver.txt: MLServer with mlserver-mlflow
#                   (bench/serving only)
# and, with the argument `drift` (not by default: bench/drift only):
#   .venv-bench-drift  bench/requirements-drift.txt: Evidently 0.7.23 (DataDriftPreset)
#   .venv-dvc          bench/requirements-dvc.txt: DVC (`dvc add`)
# With arguments, only the named ones: `bash bench/setup.sh bench`, `... mlserver` or
# `... drift`.
# A venv is left alone when it was installed from the same requirements file.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ensure_venv VENV REQUIREMENTS: install REQUIREMENTS into VENV unless the stamp that a
# finished install leaves says it was installed from this very file.
ensure_venv() {
  local venv="$1" req="$2"
  local stamp="$venv/.requirements.sha256"
  local sum
  sum="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    echo "setup.sh: $venv is up to date with ${req#"$root"/}"
    return
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    # Keep the venv out of git without touching the repository's .gitignore.
    echo '*' > "$venv/.gitignore"
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$req"
  echo "$sum" > "$stamp"
  echo "setup.sh: installed ${req#"$root"/} into $venv"
}

# versions VENV PACKAGE...: print the installed versions.
versions() {
  local venv="$1"
  shift
  "$venv/bin/python" - "$@" <<'PY'
import importlib.metadata as m, sys
print("setup.sh:", ", ".join(f"{p} {m.version(p)}" for p in sys.argv[1:]))
PY
}

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(bench mlserver)
fi
for t in "${targets[@]}"; do
  case "$t" in
    bench) ensure_venv "$root/.venv-bench" "$root/bench/requirements.txt"
           versions "$root/.venv-bench" mlflow scikit-learn skl2onnx onnxruntime ;;
    mlserver) ensure_venv "$root/.venv-mlserver" "$root/bench/requirements-mlserver.txt"
              versions "$root/.venv-mlserver" mlserver mlserver-mlflow mlflow scikit-learn ;;
    drift) ensure_venv "$root/.venv-bench-drift" "$root/bench/requirements-drift.txt"
           versions "$root/.venv-bench-drift" evidently pandas numpy scipy
           ensure_venv "$root/.venv-dvc" "$root/bench/requirements-dvc.txt"
           versions "$root/.venv-dvc" dvc dvc-data dvc-objects scmrepo ;;
    *) echo "setup.sh: unknown environment $t (want bench, mlserver or drift)" >&2; exit 2 ;;
  esac
done
