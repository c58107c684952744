#!/usr/bin/env bash
# Shows that a review's persona calls run concurrently: a two-tool review (8 calls) against the
# mock provider with a fixed latency and jitter takes about as long as the slowest call, not the sum.
# Usage: bench/review-concurrency.sh [latency_ms] [jitter_ms]
set -euo pipefail
cd "$(dirname "$0")/.."
latency=${1:-1500}; jitter=${2:-500}
. bench/common.sh
BIN=$(release_bin)
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/port" --latency-ms "$latency" --jitter-ms "$jitter" >/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
"$BIN/panel" review fixtures/listings/azure-ai-foundry-realtime-voice.yaml fixtures/listings/mistral-3-small.yaml \
  --base-url "http://127.0.0.1:$(cat "$tmp/port")/v1" --model mock --format json -o "$tmp/doc.json" --quiet
python3 - "$tmp/doc.json" "$latency" "$jitter" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lat = [r["latency_ms"] for t in d["tools"] for r in t["reviews"]]
wall = d["totals"]["wall_ms"]
print(f"mock latency {sys.argv[2]} ms + jitter 0-{sys.argv[3]} ms, {len(lat)} calls")
print(f"slowest call {max(lat)} ms, sum of calls {sum(lat)} ms, review wall time {wall} ms")
print(f"wall / slowest = {wall / max(lat):.2f}   wall / sum = {wall / sum(lat):.2f}")
PY
