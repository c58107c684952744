#!/usr/bin/env bash
# Issue 23's red-team reproducers against `panel serve` under a 1,024 file limit (bench/serve-attack.py):
# a slowloris, event streams whose clients leave, a $0.001 token's concurrent reviews. The mock holds
# every answer for 10 minutes, so reviews stay running. Uses the debug build unless BIN is set.
# Usage: bench/serve-attack.sh [connections=2000] [watchers=200]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug}
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
"$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/mock" --latency-ms 600000 >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/mock" ] && break; sleep 0.1; done
cat >"$tmp/panel.yaml" <<YAML
backends:
  - {name: mock, kind: openai, base_url: "http://127.0.0.1:$(cat "$tmp/mock")/v1", model: mock, price: {input_per_mtok: 1, output_per_mtok: 2}}
YAML
editor=$("$BIN/panel" tokens create --role editor --name editor --store "$tmp/s.sqlite" 2>/dev/null)
poor=$("$BIN/panel" tokens create --role editor --name poor --budget-usd 0.001 --store "$tmp/s.sqlite" 2>/dev/null)
( ulimit -n 1024; exec "$BIN/panel" serve --listen 127.0.0.1:0 --ready-file "$tmp/port" --store "$tmp/s.sqlite" --quiet \
    --config "$tmp/panel.yaml" --requests-per-minute 1000000 ) >"$tmp/serve.log" 2>&1 &
spid=$!
pids+=($spid)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
ulimit -n 8192
python3 bench/serve-attack.py --port "$(cat "$tmp/port")" --pid "$spid" --editor "$editor" --poor "$poor" \
  --connections "${1:-2000}" --watchers "${2:-200}"
