#!/usr/bin/env bash
# Azure's Key Vault + managed-identity tutorials, their az command lines verbatim, against keyhold
# (an `az` symlink to the keyhold binary is first on PATH). Every output is checked.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

step "az login (on the server machine: the admin of the data dir)"
out="$(az login)"
jcheck "$out" '.[0].user.type == "servicePrincipal" and (.[0].id | length) > 0 and .[0].isDefault' "login prints the account list"
out="$(az account show)"
ADMIN_APP="$(jq -r .appId "$KEYHOLD_DATA_DIR/admin.json")"
jcheck "$out" '.environmentName == "AzureCloud" and .state == "Enabled" and (.tenantId | length) == 36' "account show has az's shape"
ok '[ "$(az account show --query user.name -o tsv)" = "$ADMIN_APP" ]' "the signed-in user is the admin app"
ok '[ "$(stat -c %a "$KEYHOLD_CONFIG_DIR/profile.json")" = 600 ]' "the profile is mode 0600"

step 'az group create --name "myRG" --location "West US"'
out="$(az group create --name "myRG" --location "West US")"
jcheck "$out" '.name == "myRG" and .location == "westus" and .properties.provisioningState == "Succeeded"' "group created"

step 'az keyvault create --name "<name>" --resource-group "myRG" --location "West US"'
out="$(az keyvault create --name "mytutorialvault" --resource-group "myRG" --location "West US")"
jcheck "$out" '.name == "mytutorialvault" and .type == "Microsoft.KeyVault/vaults" and .properties.enableRbacAuthorization == false' "vault created"
ADMIN_OID="$(jq -r .objectId "$KEYHOLD_DATA_DIR/admin.json")"
jcheck "$out" ".properties.accessPolicies | map(select(.objectId == \"$ADMIN_OID\"))[0].permissions.secrets | index(\"get\") and index(\"purge\")" "the creator got an access policy with every secret permission"
VAULT_URI="$(jq -r .properties.vaultUri <<< "$out")"

step 'az keyvault secret set --vault-name "<name>" --name "AppSecret" --value "MySecret"'
out="$(az keyvault secret set --vault-name "mytutorialvault" --name "AppSecret" --value "MySecret")"
jcheck "$out" '.value == "MySecret" and (.id | test("/secrets/AppSecret/[0-9a-f]{32}$")) and .attributes.enabled == true' "secret set"
ok '[[ "$(jq -r .id <<< "$out")" == "${VAULT_URI%/}/secrets/AppSecret/"* ]]' "the secret id is under the vault URI"

step "az vm create --resource-group myRG --name myVM --image UbuntuLTS --admin-username azureuser --generate-ssh-keys"
out="$(az vm create --resource-group myRG --name myVM --image UbuntuLTS --admin-username azureuser --generate-ssh-keys)"
jcheck "$out" '.resourceGroup == "myRG" and .powerState == "VM running" and (.id | endswith("/providers/Microsoft.Compute/virtualMachines/myVM")) and has("publicIpAddress")' "vm create prints az's summary"

step "az vm identity assign --name myVM --resource-group myRG"
out="$(az vm identity assign --name myVM --resource-group myRG)"
jcheck "$out" '(.systemAssignedIdentity | test("^[0-9a-f-]{36}$")) and .userAssignedIdentities == {}' "prints systemAssignedIdentity and userAssignedIdentities"
VM_OID="$(jq -r .systemAssignedIdentity <<< "$out")"

step "az resource list -n myVM --query [*].identity.principalId --out tsv"
out="$(az resource list -n myVM --query [*].identity.principalId --out tsv)"
ok '[ "$out" = "$VM_OID" ]' "one line: the VM's principal id"

step "az keyvault set-policy --name <name> --object-id <id> --secret-permissions get list"
out="$(az keyvault set-policy --name mytutorialvault --object-id "$VM_OID" --secret-permissions get list)"
jcheck "$out" ".properties.accessPolicies | map(select(.objectId == \"$VM_OID\"))[0].permissions.secrets == [\"get\",\"list\"]" "the VM's identity may get and list"

step "az keyvault secret show --vault-name <name> --name AppSecret"
out="$(az keyvault secret show --vault-name mytutorialvault --name AppSecret)"
jcheck "$out" '.value == "MySecret" and .attributes.enabled' "the secret's value"
ok '[ "$(az keyvault secret show --vault-name mytutorialvault --name AppSecret --query value -o tsv)" = MySecret ]' "--query value -o tsv"

step "the data-science VM tutorial: az vm assign-identity, set-policy -g, az login --msi"
az vm create --resource-group myRG --name myDSVM --image UbuntuLTS --admin-username azureuser --generate-ssh-keys > /dev/null
out="$(az vm assign-identity -g myRG -n myDSVM)"
jcheck "$out" '.systemAssignedIdentity | test("^[0-9a-f-]{36}$")' "the older vm assign-identity"
ok '[ "$(az resource list -n myDSVM --query [*].identity.principalId --out tsv)" = "$(jq -r .systemAssignedIdentity <<< "$out")" ]' "resource list finds it"

# On a real VM, `keyhold agent` serves the VM's identity at 169.254.169.254 (tests/netns does exactly
# that); here the server takes myVM's place: `--host-resource` makes its managed-identity endpoint serve
# myVM's identities, so `az login --identity` below signs in as myVM.
VM_ID="$(az vm show --resource-group myRG --name myVM --query id -o tsv)"
out="$(az keyvault set-policy --object-id "$VM_OID" --name mytutorialvault -g myRG  --secret-permissions get list set)"
jcheck "$out" ".properties.accessPolicies | map(select(.objectId == \"$VM_OID\"))[0].permissions.secrets == [\"get\",\"list\",\"set\"]" "myVM's identity may get, list and set"
az storage account create -g myRG -n mystorage > /dev/null
SUB="$(az account show --query id -o tsv)"
az role assignment create --assignee "$VM_OID" --role "Storage Account Key Operator Service Role" \
  --scope "/subscriptions/$SUB/resourceGroups/myRG/providers/Microsoft.Storage/storageAccounts/mystorage" > /dev/null
stop_server
start_server --host-resource "$VM_ID"
ok '[ "$(jq -r .object_id "$KEYHOLD_DATA_DIR/mi.json")" = "$VM_OID" ]' "the managed-identity endpoint now serves myVM"

out="$(az login --msi)"
jcheck "$out" '.[0].user.name == "systemAssignedIdentity" and .[0].user.type == "servicePrincipal"' "az login --msi"
out="$(az keyvault secret show --vault-name mytutorialvault --name AppSecret)"
jcheck "$out" '.value == "MySecret"' "the managed identity reads the secret"
out="$(az keyvault secret set --name MySecret --vault-name mytutorialvault --value "Helloworld")"
jcheck "$out" '.value == "Helloworld"' "and sets one"
out="$(az storage account keys list -g myRG -n mystorage)"
jcheck "$out" 'length == 2 and .[0].keyName == "key1" and (.[0].value | length) > 20 and .[0].permissions == "FULL"' "and lists the storage keys"
fails "Forbidden|AuthorizationFailed|not authorized|does not have" az group create --name "other" --location "West US"
ok '[ "$LAST_RC" = 1 ]' "a 403 exits 1"
out="$(az login --identity)"
jcheck "$out" '.[0].user.name == "systemAssignedIdentity"' "az login --identity"

step "back to the admin; the storage keys and clean-up"
az login > /dev/null
out="$(az storage account keys list -g myRG -n mystorage)"
jcheck "$out" 'map(.keyName) == ["key1","key2"]' "az storage account keys list -g myRG -n mystorage"
old="$(jq -r '.[0].value' <<< "$out")"
out="$(az storage account keys renew -g myRG -n mystorage --key primary)"
jcheck "$out" ".[0].value != \"$old\" and (.[0].value | length) > 20" "keys renew changes key1"

step "az group delete --name myRG --yes"
out="$(az group delete --name myRG --yes)"
ok '[ -z "$out" ]' "prints nothing"
ok '[ "$(az group exists --name myRG)" = false ]' "the group is gone"
out="$(az resource list -n myVM)"
jcheck "$out" 'length == 0' "and the VM with it"
out="$(az keyvault list-deleted --query "[?name=='mytutorialvault'].name" -o tsv)"
ok '[ "$out" = mytutorialvault ]' "the vault is soft-deleted"

finish
