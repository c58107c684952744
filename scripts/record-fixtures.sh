#!/usr/bin/env bash
# Re-creates fixtures/recordings from the hand-written sample answers in fixtures/answers/samples.json:
# serves them from the mock provider and records `panel review` over every bundled listing.
# Run after changing prompts/ (the recordings are keyed by the exact prompt text).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build >/dev/null
BIN="$(swift build --show-bin-path)"
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/port" --canned fixtures/answers/samples.json --latency-ms 40 --jitter-ms 60 >/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
rm -rf fixtures/recordings && mkdir -p fixtures/recordings
"$BIN/panel" review fixtures/listings/* --base-url "http://127.0.0.1:$port/v1" --model mistral-small-latest \
  --backend-name mistral --price 0.10,0.30 --record fixtures/recordings --format json -o "$tmp/doc.json" --quiet || true
# The recordings are samples, not captured traffic: say so in each file.
python3 - <<'PY'
import json, pathlib
for f in pathlib.Path("fixtures/recordings").glob("*.json"):
    d = json.loads(f.read_text())
    d["note"] = "sample answer written by hand to look like real model output (fixtures/answers/samples.json); not captured traffic"
    f.write_text(json.dumps(d, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
PY
echo "recorded $(ls fixtures/recordings | wc -l) answers into fixtures/recordings"
