#!/usr/bin/env bash
# Creates .venv-bench at the repository root with the MLflow server pinned in
# bench/requirements.txt. Does nothing when the pinned version is already installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-bench"
req="$root/bench/requirements.txt"
pinned="$(sed -n 's/^mlflow==//p' "$req")"

installed=""
if [[ -x "$venv/bin/python" ]]; then
  installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))' 2>/dev/null || true)"
fi
if [[ "$installed" == "$pinned" ]]; then
  echo "setup.sh: $venv already has mlflow $installed"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  # Keep the venv out of git without touching the repository's .gitignore.
  echo '*' > "$venv/.gitignore"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$req"
echo "setup.sh: installed $("$venv/bin/python" -m mlflow --version)"
