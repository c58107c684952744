#!/usr/bin/env bash
# Router benchmarks (release build): decision time with 32 backends, and review latency with and
# without hedging on two mock providers where 5% of calls are 10x slower (decided per attempt, so a
# hedge or a repeat may be fast): hedged after p95 (the default), p90 and a fixed 250 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
BIN=$(release_bin --product panel-bench)
"$BIN/panel-bench" decision --backends 32 --iterations 50000
"$BIN/panel-bench" hedging --reviews 400 --concurrency 16 --after-percentile 95
"$BIN/panel-bench" hedging --reviews 400 --concurrency 16
"$BIN/panel-bench" hedging --reviews 400 --concurrency 16 --after-ms 250
