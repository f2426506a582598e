# Shared by the CLI tests: starts `keyhold serve` on port 0 in a temp dir, puts a symlink named `az`
# (to the keyhold binary) first on PATH, and gives small checking helpers. Source it, then call
# `start_server`; the server is stopped and the temp dir removed at exit.
# Environment: KEYHOLD_BIN (default target/debug/keyhold, relative to the repository root).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${KEYHOLD_BIN:-target/debug/keyhold}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
[ -x "$BIN" ] || { echo "keyhold binary missing: $BIN" >&2; exit 1; }

# The server reads KEYHOLD_* from its environment, and the CLI trusts REQUESTS_CA_BUNDLE: start clean.
for v in $(env | grep -o '^KEYHOLD_[A-Z_]*' || true); do unset "$v"; done
unset REQUESTS_CA_BUNDLE AZURE_POD_IDENTITY_AUTHORITY_HOST IDENTITY_ENDPOINT MSI_ENDPOINT || true

WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyhold-cli-test.XXXXXX")"
mkdir -p "$WORK/bin"
ln -s "$BIN" "$WORK/bin/az"
ln -s "$BIN" "$WORK/bin/keyhold"
export PATH="$WORK/bin:$PATH"
export KEYHOLD_DATA_DIR="$WORK/data"
export KEYHOLD_CONFIG_DIR="$WORK/config"
SERVER_PID=""
FAILS=0

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

cleanup() {
  stop_server
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start_server() {
  mkdir -p "$KEYHOLD_DATA_DIR"
  "$BIN" serve --data-dir "$KEYHOLD_DATA_DIR" --listen 127.0.0.1:0 --mi-listen 127.0.0.1:0 "$@" \
    > "$WORK/server.log" 2>&1 < /dev/null &
  SERVER_PID=$!
  local i
  for i in $(seq 1 600); do
    if [ -f "$KEYHOLD_DATA_DIR/state.json" ] && [ -f "$KEYHOLD_DATA_DIR/admin.json" ] \
      && [ "$(jq -r .pid "$KEYHOLD_DATA_DIR/state.json" 2>/dev/null)" = "$SERVER_PID" ]; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "server exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}

# step "what": announces a step.
step() { printf -- '--- %s\n' "$*"; }

# ok COND MESSAGE: records a failed check without stopping (the summary fails the script).
ok() {
  if eval "$1"; then printf '  ok: %s\n' "$2"; else printf '  FAIL: %s\n' "$2"; FAILS=$((FAILS + 1)); fi
}

# jcheck JSON JQ_FILTER MESSAGE: the jq filter (run with -e) must be true for JSON.
jcheck() {
  if printf '%s' "$1" | jq -e "$2" > /dev/null 2>&1; then
    printf '  ok: %s\n' "$3"
  else
    printf '  FAIL: %s\n    filter: %s\n    json: %s\n' "$3" "$2" "$(printf '%s' "$1" | head -c 2000)"
    FAILS=$((FAILS + 1))
  fi
}

# fails EXPECTED_STDERR_REGEX CMD...: CMD must exit non-zero with a matching `ERROR:` on stderr and
# nothing on stdout. Sets LAST_RC.
fails() {
  local want="$1"; shift
  local out err
  LAST_RC=0
  out="$("$@" 2> "$WORK/stderr")" || LAST_RC=$?
  err="$(cat "$WORK/stderr")"
  if [ "$LAST_RC" -ne 0 ] && [ -z "$out" ] && grep -qE "^ERROR: " <<< "$err" && grep -zqE -- "$want" <<< "$err"; then
    printf '  ok: fails (exit %s): %s\n' "$LAST_RC" "$(head -n 1 <<< "$err")"
  else
    printf '  FAIL: expected failure matching /%s/ from: %s\n    exit %s, stdout: %s\n    stderr: %s\n' \
      "$want" "$*" "$LAST_RC" "$out" "$err"
    FAILS=$((FAILS + 1))
  fi
}

finish() {
  if [ "$FAILS" -eq 0 ]; then
    echo "PASS: $(basename "$0")"
  else
    echo "FAIL: $(basename "$0"): $FAILS check(s) failed"; tail -n 30 "$WORK/server.log"
    exit 1
  fi
}
