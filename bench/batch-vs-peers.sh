#!/usr/bin/env bash
# The same 2,000 calls (500 listings × 4 personas, concurrency 64, mock at 100 ms) driven by
# `panel batch`, by LiteLLM's Router and by TensorZero's Rust gateway embedded in its Python client
# (`AsyncTensorZeroGateway.build_embedded`), against the same mock provider in the same run. LiteLLM
# and TensorZero are installed with pip into a throwaway virtual environment (set PANEL_BENCH_VENV to
# reuse one).
# Usage: bench/batch-vs-peers.sh [listings=500] [concurrency=64] [latency_ms=100] [runs=3]; runs alternate
# panel, LiteLLM and TensorZero, and the medians are compared.
# The peers write nothing; panel keeps its store and writes a document per listing. Those files go to
# a RAM filesystem (/dev/shm when it exists; BENCH_SCRATCH=dir chooses), so the figure compared is the
# gateway's work and not the disk's: on the reference machine's ext4 (no journal) the kernel spends
# 0.24–0.42 ms of CPU creating each new file (it scans the inodes deleted in the last minutes), which
# would be up to a quarter of panel's figure and vary with what was deleted before the run. Each run
# also times panel with its files on the disk (${TMPDIR:-/tmp}), reported on a row of its own, and the
# floor: a client that does nothing but the HTTP (bench/floor_driver.py) — the wall any client could
# reach with this mock on this machine, against which the others' walls are read.
set -euo pipefail
cd "$(dirname "$0")/.."
listings=${1:-500}; concurrency=${2:-64}; latency=${3:-100}; runs=${4:-3}
# BENCH_BIN_DIR=dir measures the panel and panel-mock-provider built there (as bench/workers.sh does).
. bench/common.sh
BIN=$(release_bin)
scratch=${BENCH_SCRATCH:-$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}
tmp=$(mktemp -d "$scratch/panel-bench.XXXXXX"); disk=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp" "$disk"' EXIT
venv=${PANEL_BENCH_VENV:-$tmp/venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -c "import litellm, tensorzero" 2>/dev/null || "$venv/bin/pip" install -q litellm tensorzero
write_listings "$listings"
start_mock "$latency"
for run in $(seq "$runs"); do
  # panel: a fresh output directory and store per run (see bench/batch-throughput.sh).
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time.$run" "$BIN/panel" batch "$tmp/in.jsonl" --out "$tmp/out.$run" --base-url "$base" \
    --model mock --store "$tmp/s.$run.sqlite" --concurrency "$concurrency" --quiet >/dev/null 2>&1 || true
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/disk.$run" "$BIN/panel" batch "$tmp/in.jsonl" --out "$disk/out.$run" --base-url "$base" \
    --model mock --store "$disk/s.$run.sqlite" --concurrency "$concurrency" --quiet >/dev/null 2>&1 || true
  LITELLM_LOCAL_MODEL_COST_MAP=True "$venv/bin/python" bench/litellm_driver.py "$base" "$((listings * 4))" "$concurrency" \
    > "$tmp/litellm.$run.json"
  RUST_LOG=error "$venv/bin/python" bench/tensorzero_driver.py "$base" "$((listings * 4))" "$concurrency" > "$tmp/tensorzero.$run.json"
  python3 bench/floor_driver.py "$base" "$((listings * 4))" "$concurrency" > "$tmp/floor.$run.json"
done
python3 - "$tmp" "$runs" "$((listings * 4))" "$concurrency" "$latency" "$(dirname "$disk")" <<'PY'
import json, statistics, sys
tmp, runs, calls, concurrency, latency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
ideal = calls * latency / 1000 / concurrency
print(f"{calls} calls, concurrency {concurrency}, mock {latency:.0f} ms (ideal {ideal:.2f} s), {runs} run(s) each, alternating")
print(f"panel's store and documents in {tmp.rsplit('/', 1)[0]}; the 'on disk' row's in {sys.argv[6]}")
rows = {"panel batch": [], "LiteLLM Router": [], "TensorZero (embedded)": [], "panel batch, on disk": [], "floor (HTTP only)": []}
for run in range(1, runs + 1):
    for name, file in (("panel batch", "time"), ("panel batch, on disk", "disk")):
        wall, user, sys_, rss = map(float, open(f"{tmp}/{file}.{run}").read().split())
        rows[name].append((wall, (user + sys_) / calls * 1000, 0))
    for name, file in (("LiteLLM Router", "litellm"), ("TensorZero (embedded)", "tensorzero"), ("floor (HTTP only)", "floor")):
        r = json.load(open(f"{tmp}/{file}.{run}.json"))
        rows[name].append((r["wall_s"], r["cpu_s"] / calls * 1000, r["failed"]))
    print(f"run {run}: " + "; ".join(
        f"{name} wall {v[-1][0]:.2f} s ({v[-1][0] / ideal:.2f}× ideal), CPU {v[-1][1]:.3f} ms/call, failed {v[-1][2]}"
        for name, v in rows.items()))
medians = {name: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for name, v in rows.items()}
for name, (wall, cpu) in medians.items():
    print(f"{name:22}: wall {wall:.2f} s ({wall / ideal:.2f}× ideal), CPU {cpu:.3f} ms/call (median)")
# The peers' and the floor's walls count from their first call; panel's is its whole process (start,
# store, documents, summary, exit). The floor is a client doing nothing but HTTP (bench/floor_driver.py):
# the most any client could reach on this machine with this mock.
print(f"wall over the floor (HTTP only), medians: " + ", ".join(
    f"{name} {medians[name][0] / medians['floor (HTTP only)'][0]:.3f}×" for name in ("panel batch", "TensorZero (embedded)", "LiteLLM Router")))
panel = medians["panel batch"][1]
for name in ("LiteLLM Router", "TensorZero (embedded)"):
    print(f"CPU per call, panel ÷ {name}: 1/{medians[name][1] / panel:.1f}")
PY
