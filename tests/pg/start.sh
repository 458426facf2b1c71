#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for tests and prints its URI on stdout.
#
#   uri=$(tests/pg/start.sh DIR)   # DIR: an empty or absent directory to hold the cluster
#   tests/pg/stop.sh DIR           # stops it and deletes DIR
#
# The cluster listens on a unix socket in DIR and on a free TCP port of 127.0.0.1, trusts
# local connections (it holds nothing but test data), and runs without fsync: a crash
# loses it, which a test cluster may. Run as root, postgres runs as the "postgres" user
# (Debian's package creates it) or, failing that, "nobody", since it refuses root.
set -euo pipefail

dir=${1:?usage: start.sh DIR}
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "start.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
	exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as=()
if [ "$(id -u)" = 0 ]; then
	user=postgres
	id "$user" >/dev/null 2>&1 || user=nobody
	chown "$user" "$dir"
	as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 400
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
log_min_messages = warning
CONF
"${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
	{ cat "$dir/postgres.log" >&2; exit 1; }
"${as[@]}" "$bindir/createdb" -h "$dir" -p "$port" -U postgres mlship
echo "postgresql://postgres@127.0.0.1:$port/mlship?sslmode=disable"
