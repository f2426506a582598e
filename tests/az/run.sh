#!/usr/bin/env bash
# Runs every test of Microsoft's az against keyhold (tests/az/test_*.sh), after installing the pinned
# azure-cli into .cache/az-venv (skipped when requirements.txt's hash matches); each script starts
# and stops its own server.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"
VENV="$ROOT/.cache/az-venv"
want="$(sha256sum requirements.txt | cut -d' ' -f1)-$(python3 -c 'import sys; print(sys.version.split()[0])')"
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ] || ! "$VENV/bin/az" version > /dev/null 2>&1; then
  echo "installing azure-cli into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt \
    || { echo "could not install azure-cli"; exit 1; }
  echo "$want" > "$VENV/.requirements.sha256"
fi
"$VENV/bin/az" version -o tsv --query '"azure-cli"' | sed 's/^/azure-cli /'
failed=0; passed=0
for t in test_*.sh; do
  echo "===== $t"
  if bash "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "az scripts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
