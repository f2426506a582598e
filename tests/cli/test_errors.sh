#!/usr/bin/env bash
# Failures: each a clear `ERROR:` on stderr, nothing on stdout, and az's exit codes (2 usage, 3 not
# found, 1 otherwise).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

step "unknown command"
fails "unrecognized subcommand 'frobnicate'" az frobnicate
ok '[ "$LAST_RC" = 2 ]' "exit 2"
fails "unrecognized subcommand 'shwo'" az keyvault secret shwo --vault-name v --name n
step "missing required flag"
fails "required arguments were not provided.*--vault-name" az keyvault secret set --name n --value v
ok '[ "$LAST_RC" = 2 ]' "exit 2"
fails "required arguments were not provided.*--location" az group create --name myRG
step "bad output format, bad query"
fails "invalid value 'xml'" az group list -o xml
fails "jmespath" az group list --query '[*'

step "no login: no profile and no readable data dir"
fails "Please run 'keyhold login' to setup account" env KEYHOLD_DATA_DIR="$WORK/nowhere" KEYHOLD_URL="$(jq -r .url "$KEYHOLD_DATA_DIR/state.json")" az group list
ok '[ "$LAST_RC" = 1 ]' "exit 1"
step "after logout, no automatic admin login either"
az logout
fails "Please run 'keyhold login'" az group list
az login > /dev/null

step "unknown vault, unknown secret, unknown group"
fails "VaultNotFound|not found|was not found" az keyvault secret show --vault-name nosuchvault --name x
ok '[ "$LAST_RC" != 0 ]' "non-zero"
az group create -n rg1 -l westus > /dev/null
az keyvault create -n errvault -g rg1 > /dev/null
fails "SecretNotFound" az keyvault secret show --vault-name errvault --name missing
ok '[ "$LAST_RC" = 3 ]' "not found exits 3"
fails "ResourceGroupNotFound" az group show --name nosuchgroup
ok '[ "$LAST_RC" = 3 ]' "exit 3"
fails "ResourceNotFound|was not found" az keyvault show --name nosuchvault

step "403 from the server: a principal without access"
sp="$(az ad sp create-for-rbac --name outsider)"
APP="$(jq -r .appId <<< "$sp")"; PW="$(jq -r .password <<< "$sp")"; TENANT="$(jq -r .tenant <<< "$sp")"
az login --service-principal -u "$APP" -p "$PW" --tenant "$TENANT" > /dev/null
fails "Forbidden|not authorized|does not have|AuthorizationFailed" az keyvault secret show --vault-name errvault --name missing
ok '[ "$LAST_RC" = 1 ]' "exit 1"
fails "No subscriptions found for $APP" az keyvault create -n other -g rg1
step "bad credentials"
fails "invalid_client|secret" az login --service-principal -u "$APP" -p wrong --tenant "$TENANT"

step "help on every group, with examples"
for g in "group" "keyvault" "keyvault secret" "vm" "vm identity" "identity" "resource" "role assignment" "ad sp" "storage account" "storage account keys" "account"; do
  # shellcheck disable=SC2086
  ok "az $g --help | grep -q Commands: && az $g --help | grep -q ^Example" "az $g --help lists commands and examples"
done
ok 'az keyvault secret set --help | grep -q "Examples:"' "commands carry examples"
ok 'az completion bash | grep -q "_keyhold"' "bash completion"
ok 'az completion zsh | grep -q "#compdef keyhold"' "zsh completion"
ok 'az completion fish | grep -q "complete -c keyhold"' "fish completion"

finish
