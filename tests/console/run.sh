#!/usr/bin/env bash
# The console stage: the web console and the browser sign-in in real chromium (Debian's
# /usr/bin/chromium driven by playwright-core, keyhold's CA trusted through an NSS database), each
# tests/console/*.test.mjs against its own `keyhold serve` (node --test), then the Python
# InteractiveBrowserCredential test whose $BROWSER is tests/console/browser.mjs (pytest in .cache/venv).
# Screenshots of every step: .cache/test-logs/console-screenshots/<test>/NN-step.png.
# Needs root (network namespaces, /etc/hosts) and what tools/test-all.sh's setup-console installs.
# Environment: KEYHOLD_BIN, NODE_TEST_ARGS / CONSOLE_PYTEST_ARGS (extra arguments), VENV.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"
VENV="${VENV:-$ROOT/.cache/venv}"
LOGS="$ROOT/.cache/test-logs"
mkdir -p "$LOGS"
rm -rf "$LOGS/console-screenshots"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

[ -d node_modules/playwright-core ] || { echo "node_modules missing: run npm ci in tests/console (setup-console)"; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "chromium missing (setup-console installs it)"; exit 1; }
command -v certutil > /dev/null || { echo "certutil missing (libnss3-tools; setup-console installs it)"; exit 1; }

node_rc=0
# shellcheck disable=SC2086
node --test --test-concurrency=1 --test-reporter=spec --test-timeout=300000 ${NODE_TEST_ARGS:-} ./*.test.mjs 2>&1 \
  | tee "$out/node.log" || node_rc=$?
[ "${PIPESTATUS[0]}" -eq 0 ] || node_rc=1

py_rc=0
if [ -x "$VENV/bin/python" ]; then
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pytest python -p no:cacheprovider ${CONSOLE_PYTEST_ARGS:-} 2>&1 | tee "$out/py.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || py_rc=1
else
  echo "FAIL: $VENV missing (setup-python builds it): the InteractiveBrowserCredential test did not run"
  echo "1 failed" > "$out/py.log"
  py_rc=1
fi

count() { grep -oP "$1" "$2" 2>/dev/null | tail -1 || true; }
np="$(count '^ℹ pass \K\d+' "$out/node.log")"; nf="$(count '^ℹ fail \K\d+' "$out/node.log")"
pp="$(grep -E '^=+ .* in [0-9.]+s' "$out/py.log" | tail -1 | grep -oP '\d+(?= passed)' || true)"
pf=0
for n in $(grep -E '^=+ .* in [0-9.]+s|^[0-9]+ failed$' "$out/py.log" | tail -1 | grep -oP '\d+(?= (failed|errors?))' || true); do
  pf=$((pf + n))
done
passed=$(( ${np:-0} + ${pp:-0} )); failed=$(( ${nf:-0} + ${pf:-0} ))
# A runner that died without a count is a failure too.
if [ "$node_rc" -ne 0 ] && [ "${nf:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
if [ "$py_rc" -ne 0 ] && [ "${pf:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
echo "screenshots: $LOGS/console-screenshots/"
echo "console: $passed passed, $failed failed"
[ "$node_rc" -eq 0 ] && [ "$py_rc" -eq 0 ]
