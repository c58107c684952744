#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for the store tests: Debian's postgresql (installed
# with apt when missing), initdb in a temporary folder as the `postgres` user (initdb refuses root),
# password authentication (scram-sha-256), default durability settings (fsync on).
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports PANEL_TEST_POSTGRES_URL and PANEL_PG_DIR
#   scripts/pg-test-cluster.sh stop "$PANEL_PG_DIR"
#   scripts/pg-test-cluster.sh restart "$PANEL_PG_DIR"   # a fast restart (the failure tests' outage)
set -euo pipefail
# The server must not inherit descriptors of whoever runs this (a test's process monitor would wait for
# the server to exit before it saw this script end).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "${1:-}" = restart ]; then
  dir=${2:?the cluster folder}
  run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
  exit 0
fi
if [ "${1:-}" = stop ]; then
  dir=${2:?the cluster folder}
  [ -n "$bin" ] && run "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi
if [ -z "$bin" ]; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
dir=$(mktemp -d /tmp/panel-pg.XXXXXX)
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
printf '%s\n' "$password" > "$dir/pw"
[ "$(id -u)" = 0 ] && chown -R postgres "$dir"
run "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pw" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# A free port, asked of the kernel and let go: something else (a test's mock on a random port) may take it
# before the server binds it, so a start that fails is tried again on another port.
for attempt in 1 2 3 4 5; do
  rm -f "$dir/server.log"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200" start >/dev/null && break
  grep -q "Address already in use" "$dir/server.log" && [ "$attempt" -lt 5 ] || { cat "$dir/server.log" >&2; exit 1; }
done
echo "export PANEL_TEST_POSTGRES_URL='postgres://postgres:$password@127.0.0.1:$port/postgres' PANEL_PG_DIR='$dir'"
