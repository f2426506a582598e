#!/usr/bin/env bash
# Service principals (create-for-rbac, list, show, credential reset, delete), RBAC through the CLI,
# the vault lifecycle, the secret commands and the output formats.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

step "az ad sp create-for-rbac --name app1 --role Reader --scopes <group>"
az group create -n rg -l eastus > /dev/null
SUB="$(az account show --query id -o tsv)"
out="$(az ad sp create-for-rbac --name app1 --role Reader --scopes "/subscriptions/$SUB/resourceGroups/rg")"
jcheck "$out" 'keys == ["appId","displayName","password","tenant"] and .displayName == "app1"' "az's shape"
APP="$(jq -r .appId <<< "$out")"; PW="$(jq -r .password <<< "$out")"; TENANT="$(jq -r .tenant <<< "$out")"
ok '[ "$(stat -c %a "$KEYHOLD_DATA_DIR/principals/app1.json")" = 600 ]' "credentials saved to principals/app1.json, 0600"
ok 'keyhold env --service-principal app1 | grep -q "AZURE_CLIENT_ID=.$APP"' "keyhold env --service-principal app1 reads them"
out="$(az role assignment list --assignee "$APP" --scope "/subscriptions/$SUB/resourceGroups/rg")"
jcheck "$out" 'length == 1 and (.[0].properties.roleDefinitionId | endswith("acdd72a7-3385-48ef-bd42-f606fba81ae7"))' "the Reader assignment exists"

step "az ad sp list / show"
out="$(az ad sp list --query "[?appId=='$APP'].displayName" -o tsv)"
ok '[ "$out" = app1 ]' "listed"
OID="$(az ad sp show --id "$APP" --query id -o tsv)"
jcheck "$(az ad sp show --id "$OID")" ".appId == \"$APP\"" "show by object id"

step "login as the principal; Reader can read the group, not write it"
out="$(az login --service-principal -u "$APP" -p "$PW" --tenant "$TENANT")"
jcheck "$out" ".[0].user.name == \"$APP\" and .[0].user.type == \"servicePrincipal\"" "login --service-principal"
jcheck "$(az group show -n rg)" '.name == "rg"' "Reader reads"
fails "AuthorizationFailed" az group create -n rg -l eastus
az login > /dev/null

step "az ad sp credential reset: the old secret stops working"
out="$(az ad sp credential reset --id "$APP")"
jcheck "$out" ".appId == \"$APP\" and (.password | length) > 20 and .password != \"$PW\"" "new password"
NEWPW="$(jq -r .password <<< "$out")"
fails "invalid_client|secret" az login --service-principal -u "$APP" -p "$PW" --tenant "$TENANT"
az login --service-principal -u "$APP" -p "$NEWPW" --tenant "$TENANT" > /dev/null
ok '[ "$(az account show --query user.name -o tsv)" = "$APP" ]' "the new one works"
az login > /dev/null

step "role assignment delete, role definition list"
az role assignment delete --assignee "$APP" --role Reader --scope "/subscriptions/$SUB/resourceGroups/rg"
jcheck "$(az role assignment list --assignee "$APP" --scope "/subscriptions/$SUB/resourceGroups/rg")" 'length == 0' "deleted"
jcheck "$(az role definition list --name "Key Vault Secrets User")" 'length == 1 and .[0].properties.roleName == "Key Vault Secrets User"' "role definition list --name"

step "RBAC vault: Key Vault Secrets Officer for the app by app id"
out="$(az keyvault create -n rbacvault -g rg --enable-rbac-authorization true --retention-days 7)"
jcheck "$out" '.properties.enableRbacAuthorization == true and .properties.accessPolicies == [] and .properties.softDeleteRetentionInDays == 7' "rbac vault"
VID="$(jq -r .id <<< "$out")"
az role assignment create --assignee "$APP" --role "Key Vault Secrets Officer" --scope "$VID" > /dev/null
az login --service-principal -u "$APP" -p "$NEWPW" --tenant "$TENANT" > /dev/null
jcheck "$(az keyvault secret set --vault-name rbacvault -n s1 --value one --content-type text/plain --tags env=test)" '.value == "one" and .contentType == "text/plain" and .tags.env == "test"' "the app writes a secret"
az login > /dev/null

step "access-policy vault: set-policy --spn, delete-policy"
az keyvault create -n apvault -g rg > /dev/null
out="$(az keyvault set-policy -n apvault --spn "$APP" --secret-permissions get)"
jcheck "$out" ".properties.accessPolicies | map(select(.objectId == \"$OID\")) | length == 1" "--spn resolved to the object id"
out="$(az keyvault delete-policy -n apvault --spn "$APP")"
jcheck "$out" ".properties.accessPolicies | map(select(.objectId == \"$OID\")) | length == 0" "policy removed"
fails "does not exist" az keyvault set-policy -n apvault --upn someone@example.com --secret-permissions get

step "secrets: versions, attributes, list, backup/restore, delete/recover/purge, files"
az keyvault secret set --vault-name apvault -n s --value v1 > /dev/null
v2="$(az keyvault secret set --vault-name apvault -n s --value v2 --expires 2099-01-01T00:00:00Z)"
jcheck "$v2" '.attributes.exp == 4070908800' "--expires"
VER1="$(az keyvault secret list-versions --vault-name apvault -n s --query "[?attributes.exp==null].id" -o tsv | sed 's|.*/||')"
ok '[ "$(az keyvault secret show --vault-name apvault -n s --version "$VER1" --query value -o tsv)" = v1 ]' "show --version"
ok '[ "$(az keyvault secret show --id "$(jq -r .id <<< "$v2")" --query value -o tsv)" = v2 ]' "show --id"
jcheck "$(az keyvault secret set-attributes --vault-name apvault -n s --version "$VER1" --enabled false)" '.attributes.enabled == false' "set-attributes"
jcheck "$(az keyvault secret list --vault-name apvault)" 'length == 1 and (.[0] | has("value") | not)' "list has no values"
az keyvault secret backup --vault-name apvault -n s --file "$WORK/s.bak"
printf 'file value\n' > "$WORK/in.txt"
jcheck "$(az keyvault secret set --vault-name apvault -n f --file "$WORK/in.txt")" '.value == "file value\n"' "--file"
printf '\x00\x01\xff' > "$WORK/in.bin"
az keyvault secret set --vault-name apvault -n b --file "$WORK/in.bin" --encoding base64 > /dev/null
az keyvault secret download --vault-name apvault -n b --file "$WORK/out.bin" --encoding base64
ok 'cmp -s "$WORK/in.bin" "$WORK/out.bin"' "download --encoding base64 round-trips bytes"
jcheck "$(az keyvault secret delete --vault-name apvault -n s)" '.recoveryId | test("/deletedsecrets/s$")' "delete"
jcheck "$(az keyvault secret list-deleted --vault-name apvault)" 'map(.recoveryId | endswith("/deletedsecrets/s")) | any' "list-deleted"
jcheck "$(az keyvault secret show-deleted --vault-name apvault -n s)" '.recoveryId | endswith("/deletedsecrets/s")' "show-deleted"
jcheck "$(az keyvault secret recover --vault-name apvault -n s)" '.id | test("/secrets/s/")' "recover"
az keyvault secret delete --vault-name apvault -n s > /dev/null
az keyvault secret purge --vault-name apvault -n s
fails "SecretNotFound" az keyvault secret show --vault-name apvault -n s
jcheck "$(az keyvault secret restore --vault-name apvault --file "$WORK/s.bak")" '.id | test("/secrets/s/[0-9a-f]{32}$")' "restore"
ok '[ "$(az keyvault secret show --vault-name apvault -n s --query value -o tsv)" = v2 ]' "restored value"

step "vault lifecycle: update, delete, list-deleted, recover, purge"
jcheck "$(az keyvault update -n apvault --enable-purge-protection true)" '.properties.enablePurgeProtection == true' "update"
az keyvault delete -n rbacvault
ok '[ "$(az keyvault list-deleted --query "[].name" -o tsv)" = rbacvault ]' "list-deleted"
jcheck "$(az keyvault recover -n rbacvault)" '.name == "rbacvault"' "recover"
jcheck "$(az keyvault list -g rg --query "sort([].name)")" '. == ["apvault","rbacvault"]' "list -g"
az keyvault delete -n rbacvault
az keyvault purge -n rbacvault
jcheck "$(az keyvault list-deleted)" 'length == 0' "purged"

step "user-assigned identities on a VM"
jcheck "$(az identity create -g rg -n myID)" '(.clientId | length) == 36 and (.principalId | length) == 36 and .resourceGroup == "rg"' "identity create"
az vm create -g rg -n vm1 --image UbuntuLTS --admin-username azureuser --generate-ssh-keys > /dev/null
out="$(az vm identity assign -g rg -n vm1 --identities myID)"
jcheck "$out" '.systemAssignedIdentity == "" and (.userAssignedIdentities | to_entries[0].key | endswith("/userAssignedIdentities/myID"))' "assign a user-assigned identity"
out="$(az vm identity assign -g rg -n vm1 --role Reader --scope "/subscriptions/$SUB/resourceGroups/rg")"
jcheck "$out" '(.systemAssignedIdentity | length) == 36 and (.userAssignedIdentities | length) == 1' "plus the system one"
jcheck "$(az role assignment list --assignee "$(jq -r .systemAssignedIdentity <<< "$out")" --scope "/subscriptions/$SUB/resourceGroups/rg")" 'length == 1' "with --role Reader at --scope"
jcheck "$(az vm identity show -g rg -n vm1)" '.type == "SystemAssigned, UserAssigned"' "identity show"
az vm identity remove -g rg -n vm1 --identities "[system]" > /dev/null
jcheck "$(az vm identity show -g rg -n vm1)" '.type == "UserAssigned"' "identity remove"
jcheck "$(az identity list -g rg)" 'length == 1' "identity list"
jcheck "$(az resource show --ids "$(az vm show -g rg -n vm1 --query id -o tsv)")" '.name == "vm1"' "resource show --ids"
jcheck "$(az resource show -g rg -n myID --resource-type Microsoft.ManagedIdentity/userAssignedIdentities)" '.name == "myID"' "resource show -g -n --resource-type"
jcheck "$(az resource list -g rg --resource-type Microsoft.KeyVault/vaults)" 'map(.name) == ["apvault"]' "resource list --resource-type"
az vm delete -g rg -n vm1 --yes
az identity delete -g rg -n myID
jcheck "$(az vm list -g rg)" 'length == 0' "vm delete"

step "output formats"
ok 'az group list -o table | head -n 1 | grep -q "Name"' "table has headers"
ok 'az group show -n rg -o yaml | grep -q "^name: rg$"' "yaml"
ok '[ "$(az group show -n rg -o tsv | cut -f 2)" = "rg" ] || az group show -n rg -o tsv | grep -q rg' "tsv"
ok 'az group show -n rg --output jsonc | jq -e ".name == \"rg\"" > /dev/null' "jsonc"
ok '[ -z "$(az group show -n rg -o none)" ]' "none"

step "from another machine: --url and --ca-file, no data dir"
cp "$KEYHOLD_DATA_DIR/ca.pem" "$WORK/ca.pem"
URL="$(jq -r .url "$KEYHOLD_DATA_DIR/state.json")"
az keyvault set-policy -n apvault --spn "$APP" --secret-permissions get > /dev/null
remote() { env KEYHOLD_DATA_DIR="$WORK/elsewhere" KEYHOLD_CONFIG_DIR="$WORK/remote-config" "$@"; }
fails "Please run 'keyhold login'" remote az keyvault secret show --vault-name apvault -n s
out="$(remote az login --service-principal -u "$APP" -p "$NEWPW" --tenant "$TENANT" --url "$URL" --ca-file "$WORK/ca.pem")"
jcheck "$out" ".[0].user.name == \"$APP\"" "remote login"
ok '[ "$(remote az keyvault secret show --vault-name apvault -n s --query value -o tsv)" = v2 ]' "the profile keeps the URL and CA"

step "keyhold ad user: people, granted by --upn and --assignee <upn>"
az login > /dev/null
alice="$(az ad user create --display-name "Alice Liddell" --user-principal-name alice@contoso.example --password 'Wonder-Land-2031!')"
jcheck "$alice" '.userPrincipalName == "alice@contoso.example" and (tostring | contains("Wonder-Land") | not)' "ad user create"
ALICE="$(jq -r .id <<< "$alice")"
jcheck "$(az ad user list --upn alice@contoso.example)" "[.[].id] == [\"$ALICE\"]" "ad user list --upn"
az keyvault set-policy -n apvault --upn alice@contoso.example --secret-permissions get > /dev/null
jcheck "$(az keyvault show -n apvault)" "any(.properties.accessPolicies[]; .objectId == \"$ALICE\")" "set-policy --upn"
jcheck "$(az role assignment create --assignee alice@contoso.example --role Reader --scope "$(az group show -n rg --query id -o tsv)")" ".properties.principalId == \"$ALICE\" and .properties.principalType == \"User\"" "role assignment --assignee <upn> (principalType User, from the directory)"
az ad user update --id alice@contoso.example --display-name "Alice L." --account-enabled false > /dev/null
jcheck "$(az ad user show --id "$ALICE")" '.displayName == "Alice L." and .accountEnabled == false' "ad user update"
fails "complexity" az ad user create --display-name Bob --user-principal-name bob@contoso.example --password weak
az ad user delete --id "$ALICE" > /dev/null
fails "does not exist" az ad user show --id "$ALICE"

step "az ad sp delete"
az ad sp delete --id "$APP"
fails "was not found" az ad sp show --id "$APP"
fails "invalid_client|not found" az login --service-principal -u "$APP" -p "$NEWPW" --tenant "$TENANT"

finish
