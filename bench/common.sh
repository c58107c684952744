# Shared by the benchmarks: the release build they measure, the listings every batch run reviews, and the
# mock provider they call. Sourced first; write_listings and start_mock use `tmp` (a scratch directory) and
# `BIN` (the release build's bin path), set before they are called.

# release_bin [--product P]: builds the release products (unless BENCH_BIN_DIR names a directory holding
# them already) and prints their bin path. The build is README's install: Swift's runtime and Foundation
# linked into the binary (--static-swift-stdlib; 4.5% less CPU a call than the shared libraries, see
# docs/benchmarks.md); PANEL_RELEASE_SCRATCH=dir builds in a scratch path of its own (as CI does).
release_bin() {
  if [ -n "${BENCH_BIN_DIR:-}" ]; then echo "$BENCH_BIN_DIR"; return; fi
  local build=(swift build -c release --static-swift-stdlib ${PANEL_RELEASE_SCRATCH:+--scratch-path "$PANEL_RELEASE_SCRATCH"})
  "${build[@]}" "$@" >/dev/null
  "${build[@]}" --show-bin-path
}

# write_listings N: N distinct listings as JSON Lines in $tmp/in.jsonl.
write_listings() {
  python3 -c "
import json
with open('$tmp/in.jsonl', 'w') as f:
    for i in range($1):
        f.write(json.dumps({'name': f'Tool {i}', 'tagline': 'A tool', 'description': f'Tool number {i} does one thing well for teams that need it.'}) + '\n')"
}

# start_mock LATENCY_MS: the mock provider on a free loopback port; sets pid and base (its /v1 URL).
start_mock() {
  "$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/port" --latency-ms "$1" >/dev/null &
  pid=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  base="http://127.0.0.1:$(cat "$tmp/port")/v1"
}
