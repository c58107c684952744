#!/usr/bin/env bash
# Wire conformance against the providers' official Python SDKs, pinned below and installed from PyPI
# into .build/sdk-venv (nothing vendored). Two halves (scripts/sdk_conformance.py):
#  (a) each SDK makes plain, streamed and structured-output calls, and meets 401 and 429, against panel's
#      strict mock: every answer parses and every error raises the SDK's own exception class;
#  (b) panel's own request bodies — every kind × plain/stream × structured-output mode, captured by the
#      mock — are validated with the SDKs' typed request models, extra fields forbidden.
#   scripts/sdk-conformance.sh            (PANEL_BIN / MOCK_BIN to use other builds)
set -euo pipefail
cd "$(dirname "$0")/.."
SDKS=(openai==3.57.0 anthropic==2.14.0 google-genai==3.6.1 ollama==0.6.3)
VENV=${PANEL_SDK_VENV:-.build/sdk-venv}
if ! "$VENV/bin/python" -c 'import openai, anthropic, google.genai, ollama' 2>/dev/null \
   || ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qx "openai==3.57.0"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${SDKS[@]}"
fi
BIN=$(swift build --show-bin-path)
PANEL=${PANEL_BIN:-$BIN/panel}; MOCK=${MOCK_BIN:-$BIN/panel-mock-provider}
T=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
export PANEL_CONFORMANCE_KEY="sk-conformance-$(date +%s)"
start() {  # start NAME ARGS...: a mock on a free port; its URL in $T/NAME.url
  local name=$1; shift
  "$MOCK" --port 0 --ready-file "$T/$name.port" --require-key-env PANEL_CONFORMANCE_KEY "$@" >"$T/$name.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
  [ -s "$T/$name.port" ] || { cat "$T/$name.log"; echo "sdk-conformance: the mock did not start"; exit 1; }
  echo "http://127.0.0.1:$(cat "$T/$name.port")" > "$T/$name.url"
}
start ok
start capture --capture "$T/capture.jsonl"   # panel's requests alone
start faulty --fault-rate 1 --faults 429 --max-faults 100
OK=$(cat "$T/ok.url"); FAULTY=$(cat "$T/faulty.url"); CAPTURE=$(cat "$T/capture.url")

echo "(a) the SDKs against the strict mock"
"$VENV/bin/python" scripts/sdk_conformance.py sdk "$OK/v1" "$FAULTY" "$PANEL_CONFORMANCE_KEY"

echo "(b) panel's requests, every kind × plain/stream × structured-output mode"
backend() {  # backend NAME KIND MODE [extra]
  printf '  - {name: %s, kind: %s, base_url: "%s", model: %s, api_key_env: PANEL_CONFORMANCE_KEY, structured_output: %s%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "${6:-}"
}
{
  echo "backends:"
  backend oa-schema openai "$CAPTURE/v1" gpt-4.1-mini auto
  backend oa-object openai "$CAPTURE/v1" gpt-4.1-mini json_object
  backend oa-none openai "$CAPTURE/v1" gpt-4.1-mini none
  backend az azure "$CAPTURE" gpt-4.1-mini auto ", deployment: panel-gpt"
  backend az-object azure "$CAPTURE" gpt-4.1-mini json_object ", deployment: panel-gpt"
  backend an-tool anthropic "$CAPTURE" claude-haiku-4-5 auto
  backend an-none anthropic "$CAPTURE" claude-haiku-4-5 none
  backend ge-schema gemini "$CAPTURE" gemini-2.5-flash auto
  backend ge-none gemini "$CAPTURE" gemini-2.5-flash none
  backend ol-schema ollama "$CAPTURE" llama3.2 auto
  backend ol-none ollama "$CAPTURE" llama3.2 none
} > "$T/backends.yaml"
listing=fixtures/listings/mistral-3-small.yaml
run() {  # run B1 B2 B3 B4: one review with the four personas on these backends, plain and streamed
  { cat "$T/backends.yaml"
    printf 'panel:\n  backend: %s\n  personas:\n    builder: {backend: %s}\n    skeptic: {backend: %s}\n    founder: {backend: %s}\n    futurist: {backend: %s}\n' "$1" "$1" "$2" "$3" "$4"
  } > "$T/panel.yaml"
  for stream in "" --stream; do
    "$PANEL" review "$listing" --config "$T/panel.yaml" --no-cache --format json -o "$T/doc.json" --quiet $stream \
      || { echo "sdk-conformance: panel review on $* $stream exited $?"; exit 1; }
  done
}
run oa-schema oa-object oa-none az
run an-tool an-none ge-schema ge-none
run ol-schema ol-none az-object an-tool
"$VENV/bin/python" scripts/sdk_conformance.py requests "$T/capture.jsonl"
grep -q "$PANEL_CONFORMANCE_KEY" "$T/capture.jsonl" && { echo "sdk-conformance: a key reached a request body"; exit 1; }
echo "sdk-conformance: ok"
