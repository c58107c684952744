#!/usr/bin/env bash
# The same 2,000 calls (500 listings × 4 personas, concurrency 64, mock at 100 ms) driven by
# `panel batch` and by LiteLLM's Router, against the same mock provider in the same run. LiteLLM is
# installed with pip into a throwaway virtual environment (set PANEL_BENCH_VENV to reuse one).
# Usage: bench/batch-vs-litellm.sh [listings=500] [concurrency=64] [latency_ms=100] [runs=3]; runs alternate
# panel and LiteLLM, and the medians are compared.
set -euo pipefail
cd "$(dirname "$0")/.."
listings=${1:-500}; concurrency=${2:-64}; latency=${3:-100}; runs=${4:-3}
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
for run in $(seq "$runs"); do
  # panel: a fresh output directory and store per run (see bench/batch-throughput.sh).
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time.$run" "$BIN/panel" batch "$tmp/in.jsonl" --out "$tmp/out.$run" --base-url "$base" \
    --model mock --store "$tmp/s.$run.sqlite" --concurrency "$concurrency" --quiet >/dev/null 2>&1 || true
  LITELLM_LOCAL_MODEL_COST_MAP=True "$venv/bin/python" bench/litellm_driver.py "$base" "$((listings * 4))" "$concurrency" \
    > "$tmp/litellm.$run.json"
done
python3 - "$tmp" "$runs" "$((listings * 4))" "$concurrency" "$latency" <<'PY'
import json, statistics, sys
tmp, runs, calls, concurrency, latency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
ideal = calls * latency / 1000 / concurrency
print(f"{calls} calls, concurrency {concurrency}, mock {latency:.0f} ms (ideal {ideal:.2f} s), {runs} run(s) each, alternating")
panel, lite = [], []
for run in range(1, runs + 1):
    wall, user, sys_, rss = map(float, open(f"{tmp}/time.{run}").read().split())
    l = json.load(open(f"{tmp}/litellm.{run}.json"))
    panel.append((wall, (user + sys_) / calls * 1000))
    lite.append((l["wall_s"], l["cpu_s"] / calls * 1000, l["failed"]))
    print(f"run {run}: panel wall {wall:.2f} s ({wall / ideal:.2f}× ideal), CPU {panel[-1][1]:.3f} ms/call; "
          f"LiteLLM wall {l['wall_s']:.2f} s ({l['wall_s'] / ideal:.2f}× ideal), CPU {lite[-1][1]:.3f} ms/call, failed {l['failed']}")
pw, pc = statistics.median(p[0] for p in panel), statistics.median(p[1] for p in panel)
lw, lc = statistics.median(l[0] for l in lite), statistics.median(l[1] for l in lite)
print(f"panel batch : wall {pw:.2f} s ({pw / ideal:.2f}× ideal), CPU {pc:.3f} ms/call (median)")
print(f"LiteLLM     : wall {lw:.2f} s ({lw / ideal:.2f}× ideal), CPU {lc:.3f} ms/call (median)")
print(f"CPU per call, panel ÷ LiteLLM: 1/{lc / pc:.1f}")
PY
