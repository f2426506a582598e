#!/usr/bin/env bash
# Runs every test of the repository on a fresh machine, in this order:
#   setup-python  .cache/venv with tests/sdk/python/requirements.txt (skipped when its hash matches)
#   setup-js      npm ci in tests/sdk/js (skipped when package-lock.json's hash matches)
#   setup-console Debian's chromium and libnss3-tools via apt-get when missing (needs root), and npm ci
#                 in tests/console (playwright-core, pinned; skipped when its package-lock.json's hash
#                 matches; no browser is downloaded)
#   cargo-build   cargo build --workspace
#   postgres      tools/pg-test-cluster.sh start (if present; KEYHOLD_TEST_POSTGRES_URL for the store
#                 and e2e tests, which require it when CI is set); stopped again at exit if started here
#   cargo-test    cargo test --workspace
#   pytest        the official Python SDKs against a real `keyhold serve` (tests/sdk/python)
#   node-test     the official JS SDKs against a real `keyhold serve` (tests/sdk/js)
#   rust-sdk      builds tests/sdk/rust (the official Rust azure_identity + keyvault secrets and keys
#                 crates, its own cargo project with its own Cargo.lock, target dir .cache/rust-sdk-target)
#                 and runs its pytest driver against a real `keyhold serve`
#   cli           the az-shaped CLI (tests/cli/test_*.sh, `az` symlinked to keyhold), each script
#                 against its own `keyhold serve` on port 0 in a temp dir
#   az            Microsoft's own az (azure-cli pinned in tests/az/requirements.txt, installed into
#                 .cache/az-venv when its hash changes) against its own `keyhold serve` per script
#                 (tests/az/test_*.sh): cloud registration, sign-in, Graph, ARM, secrets, keys, certificates
#   console       the web console and the browser sign-in in real chromium (tests/console/run.sh:
#                 node --test *.test.mjs, each against its own `keyhold serve`, the seed-004 tutorial
#                 inside a network namespace; then the InteractiveBrowserCredential test in .cache/venv);
#                 screenshots in .cache/test-logs/console-screenshots/
# Every stage runs even if an earlier one failed (the SDK stages are reported as
# failed, not skipped, when there is no freshly built binary); exits non-zero if
# any stage failed, after printing a summary. Logs: .cache/test-logs/<stage>.log.
#
# Environment: KEYHOLD_BIN (default target/debug/keyhold, relative to the repo),
# PYTHON (default python3), PYTEST_ARGS / NODE_TEST_ARGS / RUST_SDK_PYTEST_ARGS (extra arguments),
# SKIP_CARGO=1 (SDK suites only, against an existing binary; for local iteration).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export KEYHOLD_BIN="${KEYHOLD_BIN:-target/debug/keyhold}"
case "$KEYHOLD_BIN" in
  /*) BIN_PATH="$KEYHOLD_BIN" ;;
  *) BIN_PATH="$ROOT/$KEYHOLD_BIN" ;;
esac
PYTHON="${PYTHON:-python3}"
CACHE="$ROOT/.cache"
VENV="$CACHE/venv"
PY_DIR="tests/sdk/python"
JS_DIR="tests/sdk/js"
CONSOLE_DIR="tests/console"
RS_DIR="tests/sdk/rust"
LOG_DIR="$CACHE/test-logs"
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/*.log "$LOG_DIR"/*.summary  # counts below must come from this run only

STAGES=()
RESULTS=()
TIMES=()
declare -A STATUS=()

# run_stage NAME FUNCTION: runs FUNCTION under `set -e` in a subshell (started in
# the background and waited for, so errexit stays in force inside it), teeing its
# output to the stage log, and records PASS/FAIL.
run_stage() {
  local name="$1" fn="$2" start rc
  start=$(date +%s)
  printf '\n===== [%s] start %s =====\n' "$name" "$(date -u +%H:%M:%S)"
  { ( set -euo pipefail; "$fn" ) 2>&1 | tee "$LOG_DIR/$name.log"; } &
  if wait $!; then rc=0; else rc=$?; fi
  STAGES+=("$name")
  TIMES+=("$(( $(date +%s) - start ))")
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("PASS"); STATUS[$name]=PASS
  else
    RESULTS+=("FAIL (exit $rc)"); STATUS[$name]=FAIL
  fi
  printf '===== [%s] %s =====\n' "$name" "${RESULTS[-1]}"
}

# not_run NAME REASON: records a stage that could not run as failed.
not_run() {
  STAGES+=("$1"); TIMES+=("0"); RESULTS+=("FAIL (not run: $2)"); STATUS[$1]=FAIL
  printf '\n===== [%s] FAIL (not run: %s) =====\n' "$1" "$2"
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

stage_setup_python() {
  local want have=""
  want="$(hash_of "$PY_DIR/requirements.txt")-$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  [ -f "$VENV/.requirements.sha256" ] && have="$(cat "$VENV/.requirements.sha256")"
  if [ "$want" = "$have" ] && "$VENV/bin/python" -c 'import azure.keyvault.secrets, azure.identity, jwt, pytest' 2>/dev/null; then
    echo "venv up to date ($VENV)"
    return 0
  fi
  echo "creating $VENV with $("$PYTHON" --version)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PY_DIR/requirements.txt"
  "$VENV/bin/python" -m pip check
  echo "$want" > "$VENV/.requirements.sha256"
}

stage_setup_js() {
  local want have="" marker="$JS_DIR/node_modules/.keyhold-install.sha256"
  command -v node >/dev/null || { echo "node not found"; return 1; }
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || { echo "node >= 20 required, have $(node --version)"; return 1; }
  want="$(hash_of "$JS_DIR/package.json" "$JS_DIR/package-lock.json")-$(node --version)"
  [ -f "$marker" ] && have="$(cat "$marker")"
  if [ "$want" = "$have" ]; then
    echo "node_modules up to date ($JS_DIR/node_modules)"
    return 0
  fi
  (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$marker"
}

stage_setup_console() {
  local missing=() want have="" marker="$CONSOLE_DIR/node_modules/.keyhold-install.sha256"
  command -v node >/dev/null || { echo "node not found"; return 1; }
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v certutil >/dev/null || missing+=(libnss3-tools)
  if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "missing ${missing[*]}, and apt-get needs root"; return 1; }
    echo "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  /usr/bin/chromium --version 2>/dev/null
  want="$(hash_of "$CONSOLE_DIR/package.json" "$CONSOLE_DIR/package-lock.json")-$(node --version)"
  [ -f "$marker" ] && have="$(cat "$marker")"
  if [ "$want" = "$have" ]; then
    echo "node_modules up to date ($CONSOLE_DIR/node_modules)"
    return 0
  fi
  # playwright-core never downloads a browser: the tests launch /usr/bin/chromium.
  (cd "$CONSOLE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$marker"
}

stage_cargo_build() { cargo build --workspace; }

stage_postgres() {
  tools/pg-test-cluster.sh start > "$CACHE/pg-url"
  echo "KEYHOLD_TEST_POSTGRES_URL=$(tail -n 1 "$CACHE/pg-url")"
}

stage_cargo_test() { cargo test --workspace; }

stage_pytest() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  # shellcheck disable=SC2086
  timeout --kill-after=30 2400 "$VENV/bin/python" -m pytest "$PY_DIR" -p no:cacheprovider ${PYTEST_ARGS:-}
}

stage_netns() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  timeout --kill-after=10 300 bash tests/netns/imds_tutorial.sh
}

stage_node_test() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  cd "$JS_DIR"
  # shellcheck disable=SC2086
  timeout --kill-after=30 1500 node --test --test-reporter=spec --test-timeout=600000 ${NODE_TEST_ARGS:-} ./*.test.mjs
}

stage_rust_sdk() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  # Its own target dir: never the workspace's (whatever CARGO_TARGET_DIR says).
  CARGO_TARGET_DIR="$CACHE/rust-sdk-target" cargo build --locked --manifest-path "$RS_DIR/Cargo.toml"
  export RUST_SDK_BIN="$CACHE/rust-sdk-target/debug/keyhold-rust-sdk-tests"
  # shellcheck disable=SC2086
  timeout --kill-after=30 900 "$VENV/bin/python" -m pytest "$RS_DIR" -p no:cacheprovider ${RUST_SDK_PYTEST_ARGS:-}
}

stage_cli() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  command -v jq >/dev/null || { echo "jq not found (the CLI tests check outputs with it)"; return 1; }
  KEYHOLD_BIN="$BIN_PATH" timeout --kill-after=30 1200 tests/cli/run.sh
}

stage_az() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  command -v jq >/dev/null || { echo "jq not found (the az tests check outputs with it)"; return 1; }
  KEYHOLD_BIN="$BIN_PATH" timeout --kill-after=30 1200 tests/az/run.sh
}

stage_console() {
  [ -x "$BIN_PATH" ] || { echo "keyhold binary missing: $BIN_PATH"; return 1; }
  KEYHOLD_BIN="$BIN_PATH" VENV="$VENV" timeout --kill-after=30 600 tests/console/run.sh
}

if [ ! -w /etc/hosts ]; then
  echo "warning: /etc/hosts is not writable; the SDK suites pin <vault>.vault.localhost there and will fail" >&2
fi

run_stage setup-python stage_setup_python
run_stage setup-js stage_setup_js
run_stage setup-console stage_setup_console
if [ "${SKIP_CARGO:-0}" = "1" ]; then
  echo "SKIP_CARGO=1: cargo stages not run (they are not counted)"
  BUILD_OK=1
else
  run_stage cargo-build stage_cargo_build
  if [ -z "${KEYHOLD_TEST_POSTGRES_URL:-}" ] && [ -x tools/pg-test-cluster.sh ]; then
    PG_WAS_RUNNING=0
    tools/pg-test-cluster.sh url >/dev/null 2>&1 && PG_WAS_RUNNING=1
    run_stage postgres stage_postgres
    if [ "${STATUS[postgres]}" = PASS ]; then
      KEYHOLD_TEST_POSTGRES_URL="$(tail -n 1 "$CACHE/pg-url")"
      export KEYHOLD_TEST_POSTGRES_URL
      if [ "$PG_WAS_RUNNING" = 0 ]; then
        PG_STARTED_HERE=1
        trap 'tools/pg-test-cluster.sh stop >/dev/null 2>&1 || true' EXIT
      fi
    fi
  fi
  run_stage cargo-test stage_cargo_test
  BUILD_OK=0; [ "${STATUS[cargo-build]:-}" = PASS ] && BUILD_OK=1
fi

if [ "${STATUS[setup-python]:-}" != PASS ]; then
  not_run pytest "setup-python failed"
elif [ "$BUILD_OK" != 1 ]; then
  not_run pytest "cargo build failed"
else
  run_stage pytest stage_pytest
fi

if [ "${STATUS[setup-js]:-}" != PASS ]; then
  not_run node-test "setup-js failed"
elif [ "$BUILD_OK" != 1 ]; then
  not_run node-test "cargo build failed"
else
  run_stage node-test stage_node_test
fi

if [ "${STATUS[setup-python]:-}" != PASS ]; then
  not_run rust-sdk "setup-python failed"
elif [ "$BUILD_OK" != 1 ]; then
  not_run rust-sdk "cargo build failed"
else
  run_stage rust-sdk stage_rust_sdk
fi

if [ "$BUILD_OK" != 1 ]; then
  not_run netns "cargo build failed"
else
  run_stage netns stage_netns
fi

if [ "$BUILD_OK" != 1 ]; then
  not_run cli "cargo build failed"
else
  run_stage cli stage_cli
  run_stage az stage_az
fi

if [ "${STATUS[setup-console]:-}" != PASS ]; then
  not_run console "setup-console failed"
elif [ "$BUILD_OK" != 1 ]; then
  not_run console "cargo build failed"
else
  run_stage console stage_console
fi

if [ "${PG_STARTED_HERE:-0}" = 1 ]; then
  tools/pg-test-cluster.sh stop >/dev/null 2>&1 || echo "warning: could not stop the PostgreSQL test cluster" >&2
  trap - EXIT
fi

# ---- test counts, read from the stage logs (never fails: a missing count is 0)
# total REGEX FILE: the sum of the numbers matched by REGEX (grep -oP, use \K / lookahead).
total() {
  local t=0 n
  [ -f "$2" ] || { echo 0; return 0; }
  while read -r n; do [ -n "$n" ] && t=$((t + n)); done < <(grep -oP "$1" "$2" 2>/dev/null || true)
  echo "$t"
}
PASSED=0
FAILED=0
if [ -n "${STATUS[cargo-test]:-}" ]; then
  PASSED=$((PASSED + $(total '^test result: \w+\. \K\d+(?= passed)' "$LOG_DIR/cargo-test.log")))
  FAILED=$((FAILED + $(total '^test result: .*; \K\d+(?= failed)' "$LOG_DIR/cargo-test.log")))
fi
if [ -n "${STATUS[pytest]:-}" ] && [ -f "$LOG_DIR/pytest.log" ]; then
  # pytest's closing line, e.g. "===== 3 failed, 79 passed, 1 error in 50.1s ====="
  grep -E '^=+ .* in [0-9.]+s' "$LOG_DIR/pytest.log" | tail -1 > "$LOG_DIR/pytest.summary" || true
  PASSED=$((PASSED + $(total '\d+(?= passed)' "$LOG_DIR/pytest.summary")))
  FAILED=$((FAILED + $(total '\d+(?= failed)' "$LOG_DIR/pytest.summary") + $(total '\d+(?= errors?)' "$LOG_DIR/pytest.summary")))
fi
if [ -n "${STATUS[rust-sdk]:-}" ] && [ -f "$LOG_DIR/rust-sdk.log" ]; then
  grep -E '^=+ .* in [0-9.]+s' "$LOG_DIR/rust-sdk.log" | tail -1 > "$LOG_DIR/rust-sdk.summary" || true
  PASSED=$((PASSED + $(total '\d+(?= passed)' "$LOG_DIR/rust-sdk.summary")))
  FAILED=$((FAILED + $(total '\d+(?= failed)' "$LOG_DIR/rust-sdk.summary") + $(total '\d+(?= errors?)' "$LOG_DIR/rust-sdk.summary")))
fi
if [ -n "${STATUS[node-test]:-}" ] && [ -f "$LOG_DIR/node-test.log" ]; then
  PASSED=$((PASSED + $(total '^(ℹ|#) pass \K\d+' "$LOG_DIR/node-test.log")))
  FAILED=$((FAILED + $(total '^(ℹ|#) fail \K\d+' "$LOG_DIR/node-test.log")))
fi
if [ -n "${STATUS[netns]:-}" ] && [ -f "$LOG_DIR/netns.log" ]; then
  PASSED=$((PASSED + $(total '^netns: \K\d+(?= passed)' "$LOG_DIR/netns.log")))
  FAILED=$((FAILED + $(total '^netns: \d+ passed, \K\d+(?= failed)' "$LOG_DIR/netns.log")))
fi

if [ -n "${STATUS[cli]:-}" ] && [ -f "$LOG_DIR/cli.log" ]; then
  PASSED=$((PASSED + $(total '^cli scripts: \K\d+(?= passed)' "$LOG_DIR/cli.log")))
  FAILED=$((FAILED + $(total '^cli scripts: \d+ passed, \K\d+(?= failed)' "$LOG_DIR/cli.log")))
fi
if [ -n "${STATUS[az]:-}" ] && [ -f "$LOG_DIR/az.log" ]; then
  PASSED=$((PASSED + $(total '^az scripts: \K\d+(?= passed)' "$LOG_DIR/az.log")))
  FAILED=$((FAILED + $(total '^az scripts: \d+ passed, \K\d+(?= failed)' "$LOG_DIR/az.log")))
fi
if [ -n "${STATUS[console]:-}" ] && [ -f "$LOG_DIR/console.log" ]; then
  PASSED=$((PASSED + $(total '^console: \K\d+(?= passed)' "$LOG_DIR/console.log")))
  FAILED=$((FAILED + $(total '^console: \d+ passed, \K\d+(?= failed)' "$LOG_DIR/console.log")))
fi

echo
echo "================ test-all summary ================"
for i in "${!STAGES[@]}"; do
  printf '  %-14s %-40s %5ss\n' "${STAGES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
done
echo "  logs: $LOG_DIR/"
FAILED_STAGES=0
for r in "${RESULTS[@]}"; do [ "$r" = PASS ] || FAILED_STAGES=$((FAILED_STAGES + 1)); done
echo "  stages failed: $FAILED_STAGES of ${#STAGES[@]}"
echo "tests: $PASSED passed, $FAILED failed"
[ "$FAILED_STAGES" -eq 0 ]
