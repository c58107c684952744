#!/usr/bin/env bash
# Fuzzes panel's parsers with libFuzzer (not part of CI): builds the panel-fuzz harnesses with
# -sanitize=fuzzer,address into .build-fuzz, then runs each target for SECONDS (default 180) with a
# corpus under .build-fuzz/corpus/TARGET seeded from the repository's fixtures. Crashes are written to
# .build-fuzz/crashes/TARGET/; replay one with `swift run panel-fuzz TARGET FILE` and make it a test.
# Usage: scripts/fuzz.sh [seconds=180] [target...]   (targets: parser listing json sse ndjson config template)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(parser listing json sse ndjson config template)
swift build -c release --product panel-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING >/dev/null
bin="$(swift build -c release --product panel-fuzz --scratch-path .build-fuzz --show-bin-path)/panel-fuzz"
seed() {  # seed corpus per target, from fixtures
  local dir=.build-fuzz/corpus/$1; mkdir -p "$dir"
  case $1 in
    parser) python3 -c "
import json, hashlib
for f in ('fixtures/answers/samples.json', 'fixtures/answers/corpus.json'):
    for a in json.load(open(f)):
        t = a.get('text') or a.get('answer') or json.dumps(a)
        open('$dir/' + hashlib.sha1(t.encode()).hexdigest(), 'w').write(t)" 2>/dev/null || true ;;
    listing) cp fixtures/listings/* "$dir/" ;;
    json) cp fixtures/documents/*.json "$dir/" ;;
    sse) printf 'event: message\ndata: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n' > "$dir/openai" ;;
    ndjson) printf '{"message":{"content":"a"},"done":false}\n{"done":true,"eval_count":3}\n' > "$dir/ollama" ;;
    config) cp fixtures/configs/*.yaml "$dir/" ;;
    template) cp templates/*.mustache prompts/*.md "$dir/" ;;
  esac
}
for target in "${targets[@]}"; do
  seed "$target"
  mkdir -p ".build-fuzz/crashes/$target"
  echo "=== $target: ${seconds}s"
  PANEL_FUZZ_TARGET=$target "$bin" ".build-fuzz/corpus/$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -artifact_prefix=".build-fuzz/crashes/$target/" -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss|#[0-9]+ *DONE|==.*ERROR|SUMMARY)" || true
  echo "crashes: $(ls ".build-fuzz/crashes/$target" | wc -l)"
done
