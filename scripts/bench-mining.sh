#!/usr/bin/env bash
# Template-mining throughput, side by side on the same machine and the same input lines:
#   Drain3 (PyPI `drain3`, TemplateMiner with its default config, add_log_message per line)
#   aetherveil bench mining (the Rust miner's insert path, one thread, release build)
#
# Usage: scripts/bench-mining.sh [DATA_DIR]   (default ../shared/datasets/loghub-2k)
# Drain3 is installed into a venv under $HOME/.cache/aetherveil-bench/venv when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${1:-$ROOT/../shared/datasets/loghub-2k}"
VENV="$HOME/.cache/aetherveil-bench/venv"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetherveil-target}"
BIN="$CARGO_TARGET_DIR/release/aetherveil"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import drain3' 2>/dev/null; then
    echo "installing drain3 into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check drain3
fi

(cd "$ROOT" && cargo build --release --quiet -p aetherveil)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
INPUT="$WORK/lines.txt"
"$BIN" bench mining --data "$DATA" --write-input "$INPUT"

# Drain3: one TemplateMiner with its default configuration over every line, timed around the loop
# only (imports and reading the file excluded), repeated until at least one second is measured.
DRAIN_JSON="$("$VENV/bin/python" - "$INPUT" <<'PY'
import json, logging, sys, time
logging.disable(logging.CRITICAL)
from drain3 import TemplateMiner
from importlib.metadata import version

with open(sys.argv[1], encoding="utf-8") as f:
    lines = f.read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
seconds, passes, clusters = 0.0, 0, 0
while seconds < 1.0:
    miner = TemplateMiner()
    start = time.perf_counter()
    for line in lines:
        miner.add_log_message(line)
    seconds += time.perf_counter() - start
    passes += 1
    clusters = len(miner.drain.clusters)
print(json.dumps({"version": version("drain3"), "lines": len(lines), "passes": passes,
                  "seconds": seconds, "clusters": clusters, "lines_per_s": len(lines) * passes / seconds}))
PY
)"
OURS_JSON="$("$BIN" bench mining --input "$INPUT" --json)"

python3 - "$DRAIN_JSON" "$OURS_JSON" <<'PY'
import json, sys
drain, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = ours["lines_per_s"] / drain["lines_per_s"]
print(f"input: {ours['lines']:,} lines (Loghub-2k Content, 8 systems), same file for both")
print(f"{'':<28}{'lines/s':>14}{'passes':>8}{'templates':>11}")
print(f"{'drain3 ' + drain['version'] + ' (Python)':<28}{drain['lines_per_s']:>14,.0f}{drain['passes']:>8}{drain['clusters']:>11}")
print(f"{'aetherveil (Rust, 1 thread)':<28}{ours['lines_per_s']:>14,.0f}{ours['passes']:>8}{ours['templates']:>11}")
rss = ours.get("peak_rss_kb")
if rss:
    print(f"aetherveil peak RSS: {rss / 1024:.1f} MB")
print(f"ratio: {ratio:.1f}x Drain3 (target >= 20x: {'pass' if ratio >= 20 else 'FAIL'}); "
      f">= 1,000,000 lines/s: {'pass' if ours['lines_per_s'] >= 1e6 else 'FAIL'}")
PY
