#!/usr/bin/env bash
# Runs a command with the test S3 server (moto with signature checks, tests/s3/server.py) and
# stops it afterwards:
#   tests/s3/run.sh go test ./internal/blob/...
# The command finds the server in MLSHIP_TEST_S3_ENDPOINT and MLSHIP_TEST_S3_BUCKET, with its
# credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; tests/s3/mlship-on-s3 starts
# mlship servers with their artifacts there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${MLSHIP_TEST_S3_PYTHON:-$here/../../.venv-s3/bin/python}
if [ ! -x "$python" ]; then
	echo "run.sh: $python is missing: run make deps" >&2
	exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/mlship-s3.XXXXXX")
mkfifo "$dir/stdin"
"$python" "$here/server.py" --bucket mlship-e2e <"$dir/stdin" >"$dir/out" 2>"$dir/log" &
pid=$!
exec 3>"$dir/stdin" # the server runs while this is open
trap 'exec 3>&-; kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 300); do
	[ -s "$dir/out" ] && break
	kill -0 $pid 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
	sleep 0.1
done
env_lines=$("$python" - "$dir/out" <<'PY'
import json, shlex, sys
s = json.loads(open(sys.argv[1]).readline())
q = {k: shlex.quote(v) for k, v in s.items()}
print("export MLSHIP_TEST_S3_ENDPOINT=%(endpoint)s AWS_REGION=%(region)s"
      " AWS_ACCESS_KEY_ID=%(access_key)s AWS_SECRET_ACCESS_KEY=%(secret_key)s" % q)
PY
)
eval "$env_lines"
export MLSHIP_TEST_S3_BUCKET=mlship-e2e AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$@"
