#!/usr/bin/env bash
# Batch throughput against the ideal: LISTINGS listings × 4 personas at concurrency C against the mock
# provider with LATENCY ms. Ideal wall = calls × latency ÷ concurrency. Prints wall ÷ ideal, CPU time
# per call (panel's user+sys) and peak RSS.
# Usage: bench/batch-throughput.sh [listings=500] [concurrency=64] [latency_ms=100]
set -euo pipefail
cd "$(dirname "$0")/.."
listings=${1:-500}; concurrency=${2:-64}; latency=${3:-100}
swift build -c release >/dev/null
BIN="$(swift build -c release --show-bin-path)"
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
python3 -c "
import json, sys
with open('$tmp/in.jsonl', 'w') as f:
    for i in range($listings):
        f.write(json.dumps({'name': f'Tool {i}', 'tagline': 'A tool', 'description': f'Tool number {i} does one thing well for teams that need it.'}) + '\n')"
"$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/port" --latency-ms "$latency" >/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$BIN/panel" batch "$tmp/in.jsonl" --out "$tmp/out" \
  --base-url "http://127.0.0.1:$(cat "$tmp/port")/v1" --model mock --store "$tmp/s.sqlite" --concurrency "$concurrency" --quiet >/dev/null 2>&1 || true
python3 - "$tmp/time" "$listings" "$concurrency" "$latency" "$tmp/out/summary.json" <<'PY'
import json, sys
wall, user, sys_, rss_kb = open(sys.argv[1]).read().split()
n, c, lat = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
calls = n * 4
ideal = calls * lat / 1000 / c
s = json.load(open(sys.argv[5]))
print(f"{n} listings × 4 personas = {calls} calls, concurrency {c}, mock latency {lat:.0f} ms; complete {s['complete']}/{n}")
print(f"wall {float(wall):.2f} s, ideal {ideal:.2f} s, wall/ideal {float(wall)/ideal:.3f}")
print(f"CPU {float(user)+float(sys_):.2f} s = {(float(user)+float(sys_))/calls*1000:.3f} ms per call; peak RSS {int(rss_kb)/1024:.1f} MiB")
PY
