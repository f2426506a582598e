# Shared by the tests of Microsoft's own `az` against keyhold: starts `keyhold serve` (tests/cli/lib.sh),
# then gives `az` (the pinned azure-cli in $AZ_VENV) a config dir of its own in the temp dir, trusts
# the server's CA, registers the server as a cloud and signs in as the admin principal, exactly as
# README's "Using Microsoft's az CLI" says a user does.
# Environment: AZ (default .cache/az-venv/bin/az under the repository root).

# shellcheck source=../cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

AZ="${AZ:-$ROOT/.cache/az-venv/bin/az}"
[ -x "$AZ" ] || { echo "az missing: $AZ (tests/az/run.sh installs it)" >&2; exit 1; }
export AZURE_CONFIG_DIR="$WORK/azure"
export AZURE_CORE_COLLECT_TELEMETRY=0 AZURE_CORE_NO_COLOR=1 AZURE_CORE_ONLY_SHOW_ERRORS=1

# az: Microsoft's CLI, never keyhold's (tests/cli/lib.sh puts a keyhold `az` first on PATH).
az() { "$AZ" "$@"; }

# az_fails EXPECTED_STDERR_REGEX ARGS...: az must exit non-zero with a matching message on stderr.
az_fails() {
  local want="$1"; shift
  local rc=0 err
  "$AZ" "$@" > "$WORK/az.out" 2> "$WORK/az.err" || rc=$?
  err="$(cat "$WORK/az.err")"
  if [ "$rc" -ne 0 ] && grep -zqE -- "$want" <<< "$err"; then
    printf '  ok: az %s fails (exit %s): %s\n' "$1 $2" "$rc" "$(grep -m1 -E 'ERROR|Message' <<< "$err")"
  else
    printf '  FAIL: expected az %s to fail with /%s/\n    exit %s, stdout: %s\n    stderr: %s\n' \
      "$*" "$want" "$rc" "$(head -c 1000 "$WORK/az.out")" "$err"
    FAILS=$((FAILS + 1))
  fi
}

# start_az: starts the server and signs az in as the admin principal.
start_az() {
  start_server "$@"
  URL="$(jq -r .url "$KEYHOLD_DATA_DIR/state.json")"
  TENANT="$(jq -r .tenant "$KEYHOLD_DATA_DIR/admin.json")"
  ADMIN_APP="$(jq -r .appId "$KEYHOLD_DATA_DIR/admin.json")"
  ADMIN_OID="$(jq -r .objectId "$KEYHOLD_DATA_DIR/admin.json")"
  export REQUESTS_CA_BUNDLE="$KEYHOLD_DATA_DIR/ca-bundle.pem"
  register_cloud
  az login --service-principal -u "$ADMIN_APP" --password="$(jq -r .password "$KEYHOLD_DATA_DIR/admin.json")" \
    --tenant "$TENANT" > /dev/null
  SUB="$(az account show --query id -o tsv)"
}

# pin_host NAME: NAME resolves to 127.0.0.1 (an /etc/hosts line tagged like the SDK suites' pins).
pin_host() {
  grep -qE "^127\.0\.0\.1 $1( |$)" /etc/hosts 2>/dev/null && return 0
  { flock 9; grep -qE "^127\.0\.0\.1 $1( |$)" /etc/hosts || echo "127.0.0.1 $1 # keyhold-tests" >> /etc/hosts; } \
    9> /tmp/keyhold-tests-etc-hosts.lock
}

# as_other DIR: az calls made after this use their own config dir (another signed-in principal).
as_other() { export AZURE_CONFIG_DIR="$WORK/$1"; }
as_admin() { export AZURE_CONFIG_DIR="$WORK/azure"; }

# register_cloud: the one registration a new az config dir needs.
register_cloud() {
  az cloud register -n keyhold --endpoint-resource-manager "$URL/" > /dev/null
  az cloud set -n keyhold > /dev/null
  az config set core.instance_discovery=false > /dev/null 2>&1
}
