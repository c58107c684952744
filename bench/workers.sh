#!/usr/bin/env bash
# Several `panel worker`s draining one queue: LISTINGS listings × 4 personas enqueued with
# `panel batch --enqueue-only`, then WORKERS workers × CONCURRENCY calls in flight against the mock
# provider at LATENCY ms, each with --drain. Ideal wall = calls × latency ÷ (workers × concurrency).
# Prints wall ÷ ideal (from the first worker's start to the last one's exit), every listing's status,
# and CPU per listing: the workers' (user+sys, from the kernel) and, on PostgreSQL, the server's.
# Usage: bench/workers.sh [listings=1000] [workers=3] [concurrency=32] [latency_ms=100]
# BENCH_HOSTS=1 runs 1 worker vs 3 on three hosts of network namespaces (scripts/several-hosts.py, as root).
# BENCH_STORE=postgres (default) uses a fresh database of the cluster scripts/pg-test-cluster.sh started
# (PANEL_TEST_POSTGRES_URL, PANEL_PG_DIR); BENCH_STORE=sqlite has the workers share one SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
listings=${1:-1000}; workers=${2:-3}; concurrency=${3:-32}; latency=${4:-100}
# BENCH_BIN_DIR=dir measures the panel and panel-mock-provider built there (e.g. the build before a change).
. bench/common.sh
BIN=$(release_bin)
PANEL="${PANEL_BIN:-$BIN/panel}"
# BENCH_HOSTS=1: across the several-hosts network (root): 1 worker on one host, then 3 on three hosts
# (w1–w3), against PostgreSQL on its own host and the mock (LATENCY ms) on another, 32 calls in flight each.
if [ "${BENCH_HOSTS:-0}" = 1 ]; then
  exec python3 scripts/several-hosts.py --bin "$BIN" --bench "$listings" --bench-latency "$latency"
fi
tmp=$(mktemp -d); db=""
# The run's database goes with it (runs used to leave one behind each).
cleanup() {
  kill "$pid" 2>/dev/null || true; rm -rf "$tmp"
  [ -n "$db" ] && psql "$PANEL_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
write_listings "$listings"
start_mock "$latency"
store_kind=${BENCH_STORE:-postgres}
if [ "$store_kind" = postgres ]; then
  db="bench_workers_$$"
  psql "$PANEL_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
  store="${PANEL_TEST_POSTGRES_URL%/*}/$db"
  pg_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$(head -1 "$PANEL_PG_DIR/data/postmaster.pid")/stat"; }
else
  store="$tmp/shared.sqlite"
  pg_ticks() { echo 0; }
fi
"$PANEL" batch "$tmp/in.jsonl" --store "$store" --job bench --enqueue-only --base-url "$base" --model mock >/dev/null 2>&1
pg_before=$(pg_ticks)
start=$(date +%s.%N)
for w in $(seq "$workers"); do
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time.$w" "$PANEL" worker --store "$store" --drain --job bench \
    --base-url "$base" --model mock --concurrency "$concurrency" --poll-seconds 0.2 --quiet >/dev/null 2>"$tmp/err.$w" &
  waits+=($!)
done
wait "${waits[@]}"
end=$(date +%s.%N)
sleep 0.5; pg_after=$(pg_ticks)
"$PANEL" jobs status bench --store "$store" --json > "$tmp/status.json"
python3 - "$tmp" "$listings" "$workers" "$concurrency" "$latency" "$start" "$end" "$(( pg_after - pg_before ))" "$(getconf CLK_TCK)" "$store_kind" <<'PY'
import json, sys
tmp, n, w, c, lat, start, end, pg, hz, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), sys.argv[10]
calls = n * 4
ideal = calls * lat / 1000 / (w * c)
wall = end - start
cpu = 0.0; rss = 0.0
for i in range(1, w + 1):
    _, user, sys_, rss_kb = map(float, open(f"{tmp}/time.{i}").read().split())
    cpu += user + sys_; rss = max(rss, rss_kb / 1024)
status = json.load(open(f"{tmp}/status.json"))
server = f" + PostgreSQL server {pg / hz / n * 1000:.3f} ms" if kind == "postgres" else ""
print(f"{kind}: {n} listings × 4 personas = {calls} calls, {w} workers × {c} in flight, mock latency {lat:.0f} ms, ideal {ideal:.2f} s")
print(f"  complete {status['complete']}/{n}, failed {status['failed']}, pending {status['pending']}; wall {wall:.2f} s = {wall / ideal:.3f} × ideal")
print(f"  CPU per listing: workers {cpu / n * 1000:.3f} ms{server}; peak RSS per worker {rss:.1f} MiB")
PY
