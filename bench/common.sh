# Shared by the batch benchmarks: the listings every run reviews, and the mock provider they call.
# Sourced after `tmp` (a scratch directory) and `BIN` (the release build's bin path) are set.

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
