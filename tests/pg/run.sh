#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL, its URI in MLSHIP_TEST_POSTGRES_URI (the Go
# conformance suites then run against it too), and stops it afterwards:
#   tests/pg/run.sh go test ./internal/store/...
# Without PostgreSQL installed, the command runs without the variable.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/mlship-pg.XXXXXX")
trap '"$here/stop.sh" "$dir"' EXIT
if uri=$("$here/start.sh" "$dir"); then
	export MLSHIP_TEST_POSTGRES_URI=$uri
else
	echo "run.sh: no PostgreSQL: the suites run on SQLite alone" >&2
fi
"$@"
