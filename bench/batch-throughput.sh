#!/usr/bin/env bash
# Batch throughput against the ideal: LISTINGS listings × 4 personas at concurrency C against the mock
# provider with LATENCY ms. Ideal wall = calls × latency ÷ concurrency. Prints, per run, wall ÷ ideal,
# CPU time per call (panel's user+sys, from the kernel's accounting of the process), peak RSS, and the
# mock's own CPU per request (it shares the machine); with RUNS > 1 also the median run.
# Usage: bench/batch-throughput.sh [listings=500] [concurrency=64] [latency_ms=100] [runs=1]
# PANEL_BIN=path/to/panel measures another build of panel (e.g. the one before a change) against the
# same mock. BENCH_STORE=postgres runs each batch on a fresh database of the PostgreSQL cluster that
# scripts/pg-test-cluster.sh started (PANEL_TEST_POSTGRES_URL, PANEL_PG_DIR) and adds the server's CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
listings=${1:-500}; concurrency=${2:-64}; latency=${3:-100}; runs=${4:-1}
# BENCH_BIN_DIR=dir measures the panel and panel-mock-provider built there (as the other benchmarks do).
. bench/common.sh
BIN=$(release_bin)
PANEL="${PANEL_BIN:-$BIN/panel}"
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
write_listings "$listings"
start_mock "$latency"
mock_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
store_kind=${BENCH_STORE:-sqlite}
# The PostgreSQL server's CPU: the postmaster's own and its finished children's (each connection is a
# child process that has exited by the time it is read).
pg_ticks() { [ "$store_kind" = postgres ] && awk '{print $14 + $15 + $16 + $17}' "/proc/$(head -1 "$PANEL_PG_DIR/data/postmaster.pid")/stat" || echo 0; }
store_for() {  # store_for RUN: the --store of one run
  if [ "$store_kind" = postgres ]; then
    local db="bench_$1_$$"
    psql "$PANEL_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
    echo "${PANEL_TEST_POSTGRES_URL%/*}/$db"
  else
    echo "$tmp/s.$1.sqlite"
  fi
}
for run in $(seq "$runs"); do
  # A fresh directory and store per run, all removed at exit: on a file system without a journal
  # (this machine's ext4), creating files right after deleting many makes every new inode skip the
  # recently deleted ones — a cost of the harness's clean-up, not of the run being measured.
  store=$(store_for "$run")
  before=$(mock_ticks); pg_before=$(pg_ticks)
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time.$run" "$PANEL" batch "$tmp/in.jsonl" --out "$tmp/out.$run" \
    --base-url "$base" --model mock --store "$store" --concurrency "$concurrency" \
    --quiet >/dev/null 2>&1 || true
  echo "$(( $(mock_ticks) - before ))" > "$tmp/mock.$run"
  sleep 0.5; echo "$(( $(pg_ticks) - pg_before ))" > "$tmp/pg.$run"
  python3 -c "import json; s = json.load(open('$tmp/out.$run/summary.json')); print(s['complete'])" > "$tmp/complete.$run"
done
python3 - "$tmp" "$listings" "$concurrency" "$latency" "$runs" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
tmp, n, c, lat, runs, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
calls = n * 4
ideal = calls * lat / 1000 / c
print(f"{n} listings × 4 personas = {calls} calls, concurrency {c}, mock latency {lat:.0f} ms, ideal {ideal:.2f} s")
rows = []
for run in range(1, runs + 1):
    wall, user, sys_, rss_kb = map(float, open(f"{tmp}/time.{run}").read().split())
    cpu = (user + sys_) / calls * 1000
    mock = int(open(f"{tmp}/mock.{run}").read()) / hz / calls * 1000
    complete = int(open(f"{tmp}/complete.{run}").read())
    pg = int(open(f"{tmp}/pg.{run}").read()) / hz / calls * 1000
    rows.append((wall / ideal, wall, cpu, rss_kb / 1024, pg))
    server = f"; PostgreSQL server CPU {pg:.3f} ms per call" if pg else ""
    print(f"run {run}: complete {complete}/{n}; wall {wall:.2f} s = {wall / ideal:.3f} × ideal; "
          f"CPU {cpu:.3f} ms per call; peak RSS {rss_kb / 1024:.1f} MiB; mock CPU {mock:.3f} ms per request{server}")
if runs > 1:
    ratio = statistics.median(r[0] for r in rows); cpu = statistics.median(r[2] for r in rows)
    pg = statistics.median(r[4] for r in rows)
    server = f", PostgreSQL server CPU {pg:.3f} ms per call" if pg else ""
    print(f"median of {runs}: wall {ratio:.3f} × ideal, CPU {cpu:.3f} ms per call, peak RSS {max(r[3] for r in rows):.1f} MiB{server}")
PY
