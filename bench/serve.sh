#!/usr/bin/env bash
# `panel serve` under load, on a SQLite store against the mock provider (streamed answers, LATENCY ms
# per call): SLOTS reviews always in progress, each watched by WATCHERS SSE streams (bench/serve_load.py),
# while wrk reads finished reviews' Markdown documents at about RATE requests/s (20 connections, each
# pausing between requests) for SECONDS. Prints the reads' rate and latency percentiles, the watchers'
# figures, the server's CPU, and then the memory an open watcher costs: RSS with 1,000 streams held open
# on reviews that last (a second mock at 60 s) against RSS before they opened.
# The slots start spread over one review's length (BENCH_SPREAD=0: all at once, every second a burst of
# 20 reviews finishing and 20 starting together — the worst case). Every client here is one loopback
# address, so the per-client connection cap and the per-token queue cap are raised past what it opens.
# Usage: bench/serve.sh [slots=20] [watchers=10] [rate=500] [seconds=20] [latency_ms=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
slots=${1:-20}; watchers=${2:-10}; rate=${3:-500}; seconds=${4:-20}; latency=${5:-1000}
command -v wrk >/dev/null || { echo "bench/serve.sh needs wrk (apt-get install wrk)"; exit 2; }
# BENCH_BIN_DIR=dir measures the panel and panel-mock-provider built there (e.g. the build before a change).
. bench/common.sh
BIN=$(release_bin)
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

serve() { # serve NAME MOCK_LATENCY_MS: a mock and a server on a fresh store; sets url, port, token, spid
  "$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/$1.mock" --latency-ms "$2" >/dev/null 2>&1 &
  mpid=$!
  pids+=($mpid)
  for _ in $(seq 100); do [ -s "$tmp/$1.mock" ] && break; sleep 0.1; done
  token=$("$BIN/panel" tokens create --role editor --name bench --store "$tmp/$1.sqlite" 2>/dev/null)
  "$BIN/panel" serve --listen 127.0.0.1:0 --ready-file "$tmp/$1.port" --store "$tmp/$1.sqlite" --quiet --concurrency 256 \
    --max-reviews 64 --requests-per-minute 1000000 --max-connections-per-client 4096 --max-queued-per-token 100000 --base-url "http://127.0.0.1:$(cat "$tmp/$1.mock")/v1" --model mock \
    --backend-name mock >"$tmp/$1.log" 2>&1 &
  spid=$!
  pids+=($spid)
  for _ in $(seq 100); do [ -s "$tmp/$1.port" ] && break; sleep 0.1; done
  port=$(cat "$tmp/$1.port")
  url="http://127.0.0.1:$port"
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

serve load "$latency"
# Finished reviews to read: 20, asked for and waited on.
ids=()
for i in $(seq 20); do
  id=$(curl -s -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"listings\": [{\"name\": \"Read tool $i\", \"description\": \"A finished review to read.\"}]}" "$url/v1/reviews" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  ids+=("$id")
done
for id in "${ids[@]}"; do curl -s -N -H "Authorization: Bearer $token" "$url/v1/reviews/$id/events" >/dev/null; done
paths=$(printf '"/v1/reviews/%s/document.md",' "${ids[@]}")
delay=$(python3 -c "print(max(0.0, 20 * 1000 / $rate - 4))")   # ms between a connection's requests (a read takes ~4 ms on average here)
cat >"$tmp/reads.lua" <<LUA
local paths = {${paths%,}}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {["Authorization"] = "Bearer $token"})
end
delay = function() return $delay end
LUA
before=$(ticks "$spid"); mock_before=$(ticks "$mpid")
python3 bench/serve_load.py 127.0.0.1 "$port" "$token" "$slots" "$watchers" "$((seconds + 4))" "${BENCH_SPREAD:-$(python3 -c "print($latency / 1000)")}" >"$tmp/watchers.json" &
watchers_pid=$!
sleep 2
wrk -t 2 -c 20 -d "${seconds}s" --latency -s "$tmp/reads.lua" "$url" >"$tmp/wrk.txt"
wait "$watchers_pid"
after=$(ticks "$spid"); mock_after=$(ticks "$mpid")
hz=$(getconf CLK_TCK)
echo "== reads (wrk, 20 connections paced for ~$rate/s, ${seconds} s) while $slots reviews stream to $((slots * watchers)) watchers (mock at ${latency} ms)"
grep -E "Requests/sec|Latency |50%|75%|90%|99%|Non-2xx|Socket errors" "$tmp/wrk.txt"
echo "== watchers"
cat "$tmp/watchers.json"
echo "== CPU over the run: server $(python3 -c "print(round(($after - $before) / $hz, 2))") s, mock provider $(python3 -c "print(round(($mock_after - $mock_before) / $hz, 2))") s (2 cores; wrk and the watchers' client share them)"

echo "== memory per open watcher (a second server, mock at 60 s: 20 reviews held in progress)"
serve mem 60000
rids=()
for i in $(seq 20); do
  rids+=("$(curl -s -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"listings\": [{\"name\": \"Held $i\", \"description\": \"Held in progress.\"}]}" "$url/v1/reviews" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
done
sleep 1
base_rss=$(rss_kib "$spid")
python3 - "$port" "$token" "${rids[@]}" <<'PY' &
import asyncio, sys
port, token, ids = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
async def hold(review):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /v1/reviews/{review}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    await writer.drain()
    await reader.readline()
    await asyncio.sleep(30)
async def main():
    await asyncio.gather(*(hold(ids[i % len(ids)]) for i in range(1000)))
asyncio.run(main())
PY
holder=$!
sleep 8
open_rss=$(rss_kib "$spid")
open_streams=$(curl -s "$url/metrics" | awk '/^panel_event_streams_open/ {print $2}')
kill "$holder" 2>/dev/null || true
python3 -c "print(f'RSS {$base_rss} KiB before, {$open_rss} KiB with {int(float(\"$open_streams\"))} streams open: {($open_rss - $base_rss) / max(1, float(\"$open_streams\")):.1f} KiB per open watcher')"
