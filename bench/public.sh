#!/usr/bin/env bash
# Published pages under load (issue 26): `panel serve` on a SQLite store with 20 published reviews; wrk reads
# their public pages at about RATE requests/s (readers with a cookie, as a returning reader's browser sends)
# while bench/public_votes.py casts VOTES votes/s from distinct readers and networks (X-Forwarded-For, the
# server trusting 127.0.0.1 as a proxy), for SECONDS. Prints the reads' and the votes' latency percentiles and
# the server's CPU.
# Usage: bench/public.sh [rate=1000] [votes=50] [seconds=20]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-1000}; votes=${2:-50}; seconds=${3:-20}
command -v wrk >/dev/null || { echo "bench/public.sh needs wrk (apt-get install wrk)"; exit 2; }
. bench/common.sh
BIN=$(release_bin)
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
"$BIN/panel-mock-provider" --port 0 --ready-file "$tmp/mock" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/mock" ] && break; sleep 0.1; done
token=$("$BIN/panel" tokens create --role editor --name bench --store "$tmp/s.sqlite" 2>/dev/null)
"$BIN/panel" serve --listen 127.0.0.1:0 --ready-file "$tmp/port" --store "$tmp/s.sqlite" --quiet --requests-per-minute 1000000 \
  --max-connections-per-client 4096 --trusted-proxy 127.0.0.1 --votes-per-network-hour 1000000 \
  --base-url "http://127.0.0.1:$(cat "$tmp/mock")/v1" --model mock --backend-name mock >"$tmp/serve.log" 2>&1 &
spid=$!
pids+=($spid)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port"); url="http://127.0.0.1:$port"
slugs=()
for i in $(seq 20); do
  id=$(curl -s -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"listings\": [{\"name\": \"Page $i\", \"description\": \"A published review.\", \"pricing\": \"\$$i per month\"}]}" "$url/v1/reviews" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  curl -s -N -H "Authorization: Bearer $token" "$url/v1/reviews/$id/events" >/dev/null
  curl -s -X PATCH -H "Authorization: Bearer $token" -H 'content-type: application/json' -d '{"approve": true, "confirm": true}' "$url/v1/reviews/$id" >/dev/null
  slugs+=("$(curl -s -X POST -H "Authorization: Bearer $token" "$url/v1/reviews/$id/publication" | python3 -c 'import json,sys; print(json.load(sys.stdin)["slug"])')")
done
# A returning reader's cookie (the page sets one on the first visit).
cookie=$(curl -s -D - -o /dev/null "$url/p/${slugs[0]}" | awk -F'[ ;]' 'tolower($1) == "set-cookie:" {print $2}')
paths=$(printf '"/p/%s",' "${slugs[@]}")
delay=$(python3 -c "print(max(0.0, 20 * 1000 / $rate - 6))")   # ms between a connection's requests (a read takes ~6 ms here)
cat >"$tmp/reads.lua" <<LUA
local paths = {${paths%,}}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {["Cookie"] = "$cookie"})
end
delay = function() return $delay end
LUA
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
before=$(ticks "$spid")
python3 bench/public_votes.py 127.0.0.1 "$port" "$votes" "$((seconds + 2))" "${slugs[@]}" >"$tmp/votes.json" &
voter=$!
sleep 1
wrk -t 2 -c 20 -d "${seconds}s" --latency -s "$tmp/reads.lua" "$url" >"$tmp/wrk.txt"
wait "$voter"
after=$(ticks "$spid")
echo "== public page reads (wrk, 20 connections paced for ~$rate/s, ${seconds} s) while readers vote ~$votes/s"
grep -E "Requests/sec|Latency |50%|90%|99%|Non-2xx|Socket errors" "$tmp/wrk.txt"
echo "== votes"
cat "$tmp/votes.json"
echo "== server CPU over the run: $(python3 -c "print(round(($after - $before) / $(getconf CLK_TCK), 2))") s (2 cores; wrk and the voters share them)"
