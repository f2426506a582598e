#!/usr/bin/env bash
# Runs every CLI test script (tests/cli/test_*.sh); each starts and stops its own server.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
failed=0; passed=0
for t in test_*.sh; do
  echo "===== $t"
  if bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "cli scripts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
