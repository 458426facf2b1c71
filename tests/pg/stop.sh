#!/usr/bin/env bash
# Stops a PostgreSQL started by start.sh DIR and deletes DIR.
set -euo pipefail
dir=${1:?usage: stop.sh DIR}
[ -d "$dir/data" ] || exit 0
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
as=()
if [ "$(id -u)" = 0 ]; then
	user=$(stat -c %U "$dir/data")
	as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
fi
"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
