#!/usr/bin/env bash
# Instructions per persona call, counted by callgrind (the same total for the same binary and input,
# whatever else the machine does): `panel batch` of 50 fixed listings × 4 personas against the mock
# provider (no latency), --concurrency 1, SWIFT_DETERMINISTIC_HASHING=1, the release build; only panel's
# process is counted (the mock runs apart). The measure issue 19 defines, kept as CI's guard.
# Usage: bench/instructions.sh [runs=1]   prints instructions per call for each run (and their spread)
#        bench/instructions.sh --check    fails when instructions per call exceed bench/instructions.baseline
#                                         by more than its allowed rise (the measured spread plus 3%)
#        bench/instructions.sh --marginal the instructions one more call costs: (a 100-listing batch − the
#                                         50-listing one) ÷ 200 calls, without the process's fixed costs
#                                         (start-up, first use of each type), which the per-call figure spreads
#        bench/instructions.sh --profile  where those marginal instructions go, by group and by function
# Set OTEL_EXPORTER_OTLP_ENDPOINT (a receiver listening) to count with traces on.
# PANEL_BIN=path/to/panel counts another build (e.g. the one before a change).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-1}
command -v valgrind >/dev/null || { echo "bench/instructions.sh needs valgrind (apt-get install valgrind)"; exit 2; }
# CI builds the release products in a scratch path of their own (PANEL_RELEASE_SCRATCH), beside the tests'
# debug build.
. bench/common.sh
release_bin --product panel >/dev/null
BIN=$(release_bin --product panel-mock-provider)
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
# Valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: it counts a copy without the debug
# information (the symbol table stays, so callgrind_annotate still names functions).
PANEL="$tmp/panel"
cp "${PANEL_BIN:-$BIN/panel}" "$PANEL"
strip --strip-debug "$PANEL"
start_mock 0

count() {  # count RUN [LISTINGS=50] [total]: instructions per call of one run (or the run's total)
  local listings=${2:-50}
  write_listings "$listings"
  rm -rf "$tmp/out" "$tmp/s.sqlite"*
  SWIFT_DETERMINISTIC_HASHING=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$PANEL" batch "$tmp/in.jsonl" \
    --out "$tmp/out" --base-url "$base" --model mock --store "$tmp/s.sqlite" --concurrency 1 --quiet >/dev/null 2>"$tmp/log.$1" \
    || { tail -20 "$tmp/log.$1"; echo "bench/instructions.sh: the batch failed"; exit 1; }
  complete=$(python3 -c "import json; print(json.load(open('$tmp/out/summary.json'))['complete'])")
  [ "$complete" = "$listings" ] || { echo "bench/instructions.sh: $complete of $listings listings complete"; exit 1; }
  total=$(grep -h '^totals:\|^summary:' "$tmp/cg.$1"* | head -1 | awk '{print $2}')
  if [ "${3:-}" = total ]; then echo "$total"; else echo $(( total / (listings * 4) )); fi
}

if [ "$mode" = "--marginal" ]; then
  small=$(count 1 50 total); large=$(count 2 100 total)
  python3 -c "print(f'marginal instructions per call: {($large - $small) // 200:,} (100-listing run {$large:,}, 50-listing run {$small:,})')"
  exit 0
fi

if [ "$mode" = "--profile" ]; then
  # Where one more call's instructions go: each function's own instructions in the 100-listing run less
  # the 50-listing run's, ÷ 200 calls, grouped (JSON, SQLite, documents, statistics, runtime, NIO, …).
  count 1 50 total >/dev/null; count 2 100 total >/dev/null
  for run in 1 2; do callgrind_annotate --threshold=100 "$tmp/cg.$run" > "$tmp/annotated.$run" 2>/dev/null; done
  python3 bench/profile.py "$tmp/annotated.1" "$tmp/annotated.2" 200
  exit 0
fi

if [ "$mode" = "--check" ]; then
  read -r baseline allowed < <(grep -v '^#' bench/instructions.baseline)
  per_call=$(count 1)
  python3 - "$per_call" "$baseline" "$allowed" <<'PY'
import sys
per_call, baseline, allowed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
limit = baseline * (1 + allowed)
change = (per_call / baseline - 1) * 100
print(f"instructions per call: {per_call:,} (baseline {baseline:,}, {change:+.1f}%; the guard allows up to {limit:,.0f})")
if per_call > limit:
    print("instruction-count guard: FAILED — a change made each call cost more; profile it (bench/instructions.sh, "
          "callgrind_annotate) and make it cheaper, or, if the cost is deliberate, say why and raise bench/instructions.baseline")
    sys.exit(1)
print("instruction-count guard: ok")
PY
  exit 0
fi

for run in $(seq "$mode"); do count "$run"; done | python3 -c "
import statistics, sys
values = [int(line) for line in sys.stdin]
for run, value in enumerate(values, 1): print(f'run {run}: {value:,} instructions per call')
if len(values) > 1:
    print(f'median {statistics.median(values):,.0f}; spread (max-min)/min {(max(values) - min(values)) / min(values) * 100:.2f}%')"
