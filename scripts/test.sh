#!/usr/bin/env bash
# The project's test command: formatting, lints, then every test of the workspace.
# Usage: scripts/test.sh [extra nextest/cargo-test filter args]
#
# The cloud-shape tests (Firestore store, Pub/Sub bus, Cloud Storage blobs, the multi-process
# run) talk to the local Google Cloud emulators: this script starts the ones that are not running
# (scripts/emulators.sh) and stops what it started when it ends. Without them, those tests say
# what is missing: they skip with the reason, or fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aetherveil-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== emulators"
started=0
if scripts/emulators.sh start; then
  started=1
  eval "$(scripts/emulators.sh env)"
elif [ "${CI:-}" = "true" ]; then
  echo "the Google Cloud emulators did not start (see above); the cloud tests need them under CI" >&2
  scripts/emulators.sh stop || true
  exit 1
else
  echo "the Google Cloud emulators did not start (see above): the cloud tests will skip and say so" >&2
fi
cleanup() { if [ "$started" = 1 ]; then scripts/emulators.sh stop || true; fi; }
trap cleanup EXIT

echo "== tests"
start=$SECONDS
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
echo "== tests took $((SECONDS - start)) s"
