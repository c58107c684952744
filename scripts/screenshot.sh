#!/usr/bin/env bash
# Renders the two-tool comparison from the bundled fixtures as HTML and takes a screenshot of it in
# headless Chromium (Debian's `chromium`). Usage: scripts/screenshot.sh [out.png] [width]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-comparison.png}; width=${2:-1280}
swift build --product panel >/dev/null
BIN="$(swift build --show-bin-path)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$BIN/panel" review fixtures/listings/azure-ai-foundry-realtime-voice.yaml fixtures/listings/mistral-3-small.yaml \
  --replay fixtures/recordings --format html -o "$tmp/comparison.html" --quiet || true
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,3000" \
  --screenshot="$(realpath -m "$out")" "file://$tmp/comparison.html" 2>/dev/null
echo "wrote $out"
