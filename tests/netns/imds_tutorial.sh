#!/usr/bin/env bash
# Azure's Linux VM tutorial (shared/seeds/004), exactly as written, against keyhold: inside a network
# namespace this script creates (never on the host's interfaces), a `keyhold agent` listens on
# 169.254.169.254:80; then the tutorial's two curl commands get a vault token from IMDS and read a
# secret with it. The server listens on the namespace's own loopback. Needs root and iproute2.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${KEYHOLD_BIN:-target/debug/keyhold}"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
ns="khtest-$$"
work="$(mktemp -d)"
tag="# keyhold-netns-$$"
passed=0
failed=0

cleanup() {
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  sleep 0.2
  ip netns del "$ns" 2>/dev/null || true
  sed -i "\|$tag|d" /etc/hosts 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

check() { # check NAME CONDITION-COMMAND...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
in_ns() { ip netns exec "$ns" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

ip netns add "$ns"
in_ns ip link set lo up
in_ns ip addr add 169.254.169.254/32 dev lo

# The server, on the namespace's loopback.
in_ns "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0 --mi-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
for _ in $(seq 100); do [ -f "$work/data/state.json" ] && [ -f "$work/data/mi.json" ] && break; sleep 0.1; done
eval "$("$bin" env --data-dir "$work/data" --service-principal)"
port="${KEYHOLD_URL##*:}"

# Set-up as an admin would: a vault with a secret, access for the VM's identity, a join token.
mgmt=$(in_ns curl -sf "$KEYHOLD_URL/$KEYHOLD_TENANT_ID/oauth2/v2.0/token" -d grant_type=client_credentials \
  -d client_id="$AZURE_CLIENT_ID" --data-urlencode client_secret="$AZURE_CLIENT_SECRET" --data-urlencode scope="$KEYHOLD_URL/.default" | json 'd["access_token"]')
vault_token=$(in_ns curl -sf "$KEYHOLD_URL/$KEYHOLD_TENANT_ID/oauth2/token" -d grant_type=client_credentials \
  -d client_id="$AZURE_CLIENT_ID" --data-urlencode client_secret="$AZURE_CLIENT_SECRET" --data-urlencode resource=https://vault.azure.net | json 'd["access_token"]')
in_ns curl -sf -X PUT "$KEYHOLD_URL/keyhold/v1/vaults/tutorialkv" -H "Authorization: Bearer $mgmt" -H 'content-type: application/json' -d '{}' >/dev/null
echo "127.0.0.1 tutorialkv.vault.localhost $tag" >>/etc/hosts
in_ns curl -sf -X PUT "https://tutorialkv.vault.localhost:$port/secrets/tutorial-secret?api-version=7.4" \
  -H "Authorization: Bearer $vault_token" -H 'content-type: application/json' -d '{"value":"hello from keyhold"}' >/dev/null
vm=$(json 'd["resource_id"]' <"$work/data/mi.json")
vm_oid=$(json 'd["object_id"]' <"$work/data/mi.json")
sub=$(in_ns curl -sf "$KEYHOLD_URL/subscriptions?api-version=2022-12-01" -H "Authorization: Bearer $mgmt" | json 'd["value"][0]["subscriptionId"]')
in_ns curl -sf -X PUT "$KEYHOLD_URL/subscriptions/$sub/resourceGroups/keyhold/providers/Microsoft.KeyVault/vaults/tutorialkv/accessPolicies/add?api-version=2023-07-01" \
  -H "Authorization: Bearer $mgmt" -H 'content-type: application/json' \
  -d "{\"properties\":{\"accessPolicies\":[{\"tenantId\":\"$KEYHOLD_TENANT_ID\",\"objectId\":\"$vm_oid\",\"permissions\":{\"secrets\":[\"get\"]}}]}}" >/dev/null
join=$(in_ns "$bin" agent join-token create --data-dir "$work/data" --resource-id "$vm" | json 'd["token"]')

# The agent, on 169.254.169.254:80 inside the namespace.
in_ns "$bin" agent --server "$KEYHOLD_URL" --join-token "$join" --state-dir "$work/agent" --ca-file "$work/data/ca.pem" \
  --listen 127.0.0.1:18481 --imds-listen 169.254.169.254:80 >"$work/agent.log" 2>&1 &
for _ in $(seq 100); do in_ns curl -s -o /dev/null http://169.254.169.254/ && break; sleep 0.1; done

# The tutorial, verbatim: step 1, a token from IMDS.
response=$(in_ns curl 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net' -H Metadata:true 2>/dev/null)
access_token=$(echo "$response" | json 'd["access_token"]')
check "IMDS answers with strings like Azure" test "$(echo "$response" | json 'type(d["expires_in"]).__name__')" = str
check "the token is the VM's identity" test "$(echo "$access_token" | cut -d. -f2 | python3 -c 'import sys,base64,json; p=sys.stdin.read().strip(); print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["oid"])')" = "$vm_oid"
# Step 2: the secret, with that token.
secret=$(in_ns curl "https://tutorialkv.vault.localhost:$port/secrets/tutorial-secret?api-version=2016-10-01" -H "Authorization: Bearer $access_token" 2>/dev/null)
check "the secret reads with the IMDS token" test "$(echo "$secret" | json 'd["value"]')" = "hello from keyhold"
# And IMDS still guards itself: no Metadata header, no token.
status=$(in_ns curl -s -o /dev/null -w '%{http_code}' 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net')
check "IMDS without Metadata: true is a 400" test "$status" = 400
# The address exists only inside the namespace: the host's interfaces never carry it (checked by
# inspection; no traffic is sent outside the namespace).
check "169.254.169.254 is only inside the namespace" bash -c "! ip -o addr show | grep -q '169\.254\.169\.254'"

echo "netns: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
