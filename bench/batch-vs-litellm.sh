#!/usr/bin/env bash
# The same 2,000 calls (500 listings × 4 personas, concurrency 64, mock at 100 ms) driven by
# `panel batch` and by LiteLLM's Router, against the same mock provider in the same run. LiteLLM is
# installed with pip into a throwaway virtual environment (set PANEL_BENCH_VENV to reuse one).
set -euo pipefail
cd "$(dirname "$0")/.."
listings=${1:-500}; concurrency=${2:-64}; latency=${3:-100}
swift build -c release >/dev/null
BIN="$(swift build -c release --show-bin-path)"
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
venv=${PANEL_BENCH_VENV:-$tmp/venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv" && "$venv/bin/pip" install -q litellm; fi
python3 -c "
import json
with open('$tmp/in.jsonl', 'w') as f:
    for i in range($listings):
        f.write(json.dumps({'name': f'Tool {i}', 'tagline': 'A tool', 'description': f'Tool number {i} does one thing well for teams that need it.'}) + '\n')"
"$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/port" --latency-ms "$latency" >/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$tmp/port")/v1"
/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$BIN/panel" batch "$tmp/in.jsonl" --out "$tmp/out" --base-url "$base" --model mock \
  --store "$tmp/s.sqlite" --concurrency "$concurrency" --quiet >/dev/null 2>&1 || true
LITELLM_LOCAL_MODEL_COST_MAP=True "$venv/bin/python" bench/litellm_driver.py "$base" "$((listings * 4))" "$concurrency" > "$tmp/litellm.json"
python3 - "$tmp/time" "$tmp/litellm.json" "$((listings * 4))" "$concurrency" "$latency" <<'PY'
import json, sys
wall, user, sys_, rss = open(sys.argv[1]).read().split()
l = json.load(open(sys.argv[2])); calls = int(sys.argv[3])
ideal = calls * float(sys.argv[5]) / 1000 / int(sys.argv[4])
pc = (float(user) + float(sys_)) / calls * 1000; lc = l["cpu_s"] / calls * 1000
print(f"{calls} calls, concurrency {sys.argv[4]}, mock {sys.argv[5]} ms (ideal {ideal:.2f} s)")
print(f"panel batch : wall {float(wall):.2f} s ({float(wall)/ideal:.2f}× ideal), CPU {pc:.3f} ms/call")
print(f"LiteLLM     : wall {l['wall_s']:.2f} s ({l['wall_s']/ideal:.2f}× ideal), CPU {lc:.3f} ms/call, failed {l['failed']}")
print(f"CPU per call, panel ÷ LiteLLM: 1/{lc/pc:.1f}")
PY
