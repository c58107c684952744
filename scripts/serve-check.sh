#!/usr/bin/env bash
# The team server end to end, as CI runs it: the built panel serves a fresh SQLite store against the mock
# provider (streamed answers: 300 ms, then a chunk every 80 ms); a headless Chromium drives the page (scripts/serve-browser-test.py)
# (and scripts/a11y-test.py: axe-core on every page, the editor's flow by keyboard alone), and schemathesis
# runs the API against /openapi.yaml with an editor token. Needs .build/debug/panel and panel-mock-provider,
# chromium + chromium-driver, and a Python with selenium, axe-selenium-python, schemathesis, extruct and feedparser (PYTHON);
# scripts/publish-check.py publishes a review and reads its page, feed and sitemap as readers and crawlers do.
# With SCREENSHOT=PATH it only takes README's screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.build/web-venv/bin/python}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] && cp -r "$work" /tmp/serve-work; rm -rf "$work"; }
trap cleanup EXIT

hostile='<script>document.title='"'"'pwned-script'"'"'</script><img src=x onerror="document.title='"'"'pwned-img'"'"';document.body.appendChild(Object.assign(document.createElement('"'"'div'"'"'),{id:'"'"'pwned'"'"'}))">'
name="Evil $hostile"
"$PYTHON" - "$work/canned.json" "$name" "$hostile" <<'PY'
import json, sys
path, name, hostile = sys.argv[1:4]
answers = [{"persona": p, "tool": name, "text": json.dumps({"score": 71, "verdict": "ship",
            "rationale": f"A paragraph with {hostile} and </textarea><script>document.title='pwned-textarea'</script> in it, "
                         f"at $5 per month{hostile}, under the MIT licence<img src=x onerror=\"document.title='pwned-claim'\">."})}
           for p in ["builder", "skeptic", "founder", "futurist"]]
json.dump(answers, open(path, "w"))
PY

.build/debug/panel-mock-provider --port 0 --ready-file "$work/mock.port" --latency-ms 300 --chunk-interval-ms 80 --canned "$work/canned.json" >"$work/mock.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/mock.port" ] && break; sleep 0.1; done
mock=$(cat "$work/mock.port")

store="$work/panel.sqlite"
editor=$(.build/debug/panel tokens create --role editor --name browser --store "$store" 2>/dev/null)
.build/debug/panel serve --listen 127.0.0.1:0 --ready-file "$work/serve.port" --store "$store" --requests-per-minute 1000000 \
  --base-url "http://127.0.0.1:$mock/v1" --model mock-model --backend-name mock >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/serve.port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/serve.port")"
echo "serve-check: panel serve at $url (mock provider on :$mock)"

if [ -n "${SCREENSHOT:-}" ]; then
  "$PYTHON" scripts/serve-browser-test.py --url "$url" --token "$editor" --hostile-name "$name" --screenshot "$SCREENSHOT"
  exit 0
fi

"$PYTHON" scripts/serve-browser-test.py --url "$url" --token "$editor" --hostile-name "$name"

echo "serve-check: publishing — structured data (extruct), the feed (feedparser), the sitemap, the static export"
"$PYTHON" scripts/publish-check.py --url "$url" --token "$editor" --store "$store"

echo "serve-check: accessibility — axe-core on every page a person sees, and the editor's whole flow by keyboard alone"
.build/debug/panel render fixtures/documents/comparison-2.json --format html -o "$work/document.html"
.build/debug/panel stats fixtures/documents/*.json --format html -o "$work/stats.html"
# A document whose paragraphs hold claims the listing contradicts and does not back: marked, with tooltips.
"$PYTHON" -c 'import json, sys; print(json.dumps({"name": sys.argv[1], "description": "A tool.", "pricing": "$10 per month"}))' \
  "$name" >"$work/claims.json"
.build/debug/panel review "$work/claims.json" --base-url "http://127.0.0.1:$mock/v1" --model mock-model --no-cache --quiet \
  --format html -o "$work/claims.html"
grep -q 'mark class="claim claim-contradicted"' "$work/claims.html" || { echo "serve-check: the claims document marks no claim"; exit 1; }
# A public page with its readers' vote forms (published by publish-check.py).
curl -s "$url/p/published-tool" >"$work/public.html"
grep -q 'class="vote"' "$work/public.html" || { echo "serve-check: the public page has no vote form"; exit 1; }
"$PYTHON" scripts/a11y-test.py --url "$url" --token "$editor" "$work/document.html" "$work/stats.html" "$work/claims.html" "$work/public.html"

echo "serve-check: schemathesis against $url/openapi.yaml with an editor token"
st=$(dirname "$PYTHON")/st
"$st" run "$url/openapi.yaml" --url "$url" -H "Authorization: Bearer $editor" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --seed 1 --no-color 2>&1 | tee "$work/schemathesis.log"
cases=$(grep -A1 "^Test cases:" "$work/schemathesis.log" | tail -1 | sed 's/^ *//')
echo "serve-check: schemathesis: $cases"
if grep -q "token" "$work/serve.log" && grep -q "$editor" "$work/serve.log"; then echo "serve-check: the token appeared in the server's log"; exit 1; fi
echo "serve-check: ok"
