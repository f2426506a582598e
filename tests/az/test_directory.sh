#!/usr/bin/env bash
# Microsoft's az against keyhold: cloud discovery, service-principal and managed-identity sign-in, and
# everything az does through Microsoft Graph (principal lookups, create-for-rbac, credential reset,
# role assignments shown with names, access policies by --spn), with the refusals Entra gives a
# principal that is not a directory administrator.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_az
PORT="${URL##*:}"

step "az cloud register discovers every endpoint from /metadata/endpoints"
cloud="$(az cloud show -n keyhold -o json)"
jcheck "$cloud" ".endpoints.activeDirectory == \"$URL\"" "the authority is keyhold's origin"
jcheck "$cloud" ".endpoints.resourceManager == \"$URL/\" and .endpoints.management == \"$URL/\"" "ARM and its audience"
jcheck "$cloud" ".endpoints.microsoftGraphResourceId == \"$URL/graph/\"" "the Graph resource"
jcheck "$cloud" ".suffixes.keyvaultDns == \".vault.localhost:$PORT\"" "the Key Vault DNS suffix"

step "service-principal sign-in"
acct="$(az account show -o json)"
jcheck "$acct" ".tenantId == \"$TENANT\" and .user.type == \"servicePrincipal\" and .user.name == \"$ADMIN_APP\"" "signed in as the admin"

step "Graph: the signed-in principal, looked up as az looks it up"
az_fails "/me request is only valid with delegated authentication flow" ad signed-in-user show
sp="$(az ad sp show --id "$ADMIN_APP" -o json)"
jcheck "$sp" ".id == \"$ADMIN_OID\" and .appId == \"$ADMIN_APP\" and .servicePrincipalType == \"Application\"" "ad sp show --id <appId>"
jcheck "$(az ad sp list --display-name keyhold-adm -o json)" "length == 1 and .[0].id == \"$ADMIN_OID\"" "ad sp list --display-name (startswith)"
jcheck "$(az ad sp list --spn "$ADMIN_APP" -o json)" "length == 1" "ad sp list --spn"
jcheck "$(az ad sp list --all -o json)" "[.[] | .servicePrincipalType] | index(\"ManagedIdentity\") != null" "managed identities are service principals too"

step "a vault with access policies grants the creator, found through Graph"
az group create -n rg1 -l westus -o none
kv="$(az keyvault create -n kvazap -g rg1 --enable-rbac-authorization false -o json)"
jcheck "$kv" "[.properties.accessPolicies[].objectId] == [\"$ADMIN_OID\"]" "the creator's policy names its object id"

step "ad sp create-for-rbac: an application, its service principal, a password and a role assignment"
rbac="$(az ad sp create-for-rbac -n azapp1 --role Contributor --scopes "/subscriptions/$SUB/resourceGroups/rg1" -o json)"
APP="$(jq -r .appId <<< "$rbac")"; PASS="$(jq -r .password <<< "$rbac")"
jcheck "$rbac" ".tenant == \"$TENANT\" and .displayName == \"azapp1\" and (.password | length) >= 32" "appId, password, tenant"
APP_OID="$(az ad sp show --id "$APP" --query id -o tsv)"
ok "[ -n \"$APP_OID\" ] && [ \"$APP_OID\" != \"$APP\" ]" "the service principal has an object id of its own"
ra="$(az role assignment list -g rg1 -o json)"
jcheck "$ra" "any(.[]; .principalId == \"$APP_OID\" and .roleDefinitionName == \"Contributor\" and .principalName == \"$APP\")" "role assignment list names the principal (getByIds)"
again="$(az ad sp create-for-rbac -n azapp1 -o json)"
jcheck "$again" ".appId == \"$APP\"" "create-for-rbac with the same name reuses the application"
PASS="$(jq -r .password <<< "$again")"

step "the new service principal signs in with its password and has its role"
as_other app1; register_cloud
az login --service-principal -u "$APP" --password="$PASS" --tenant "$TENANT" -o none
jcheck "$(az group list -o json)" "[.[].name] == [\"rg1\"]" "Contributor on rg1 sees rg1"
step "a principal that is not a directory administrator is refused by Graph"
az_fails "Insufficient privileges to complete the operation" ad sp list --all
az_fails "Insufficient privileges to complete the operation" ad sp create-for-rbac -n intruder
as_admin

step "set-policy --spn and role assignments by app id"
az keyvault set-policy -n kvazap --spn "$APP" --secret-permissions get list -o none
jcheck "$(az keyvault show -n kvazap -o json)" "any(.properties.accessPolicies[]; .objectId == \"$APP_OID\" and (.permissions.secrets | sort) == [\"get\",\"list\"])" "the policy is for the app's object id"
VAULT_ID="$(az keyvault create -n kvazrbac -g rg1 --enable-rbac-authorization true --query id -o tsv)"
az role assignment create --assignee "$APP" --role "Key Vault Secrets User" --scope "$VAULT_ID" -o none
jcheck "$(az role assignment list --scope "$VAULT_ID" -o json)" "any(.[]; .principalName == \"$APP\" and .roleDefinitionName == \"Key Vault Secrets User\")" "--assignee <appId> resolved and listed by name"

step "users: ad user create|list|show|update|delete, set-policy --upn, role assignment --assignee <upn>"
alice="$(az ad user create --display-name "Alice Liddell" --user-principal-name alice@contoso.example --password 'Wonder-Land-2031!' -o json)"
jcheck "$alice" ".userPrincipalName == \"alice@contoso.example\" and .accountEnabled == true and (tostring | contains(\"Wonder-Land\") | not)" "ad user create (the password is not echoed)"
ALICE="$(jq -r .id <<< "$alice")"
jcheck "$(az ad user list -o json)" "[.[].userPrincipalName] == [\"alice@contoso.example\"]" "ad user list"
jcheck "$(az ad user show --id alice@contoso.example -o json)" ".id == \"$ALICE\"" "ad user show --id <upn>"
az keyvault set-policy -n kvazap --upn alice@contoso.example --secret-permissions get -o none
jcheck "$(az keyvault show -n kvazap -o json)" "any(.properties.accessPolicies[]; .objectId == \"$ALICE\")" "set-policy --upn"
az role assignment create --assignee alice@contoso.example --role Reader --scope "/subscriptions/$SUB/resourceGroups/rg1" -o none
jcheck "$(az role assignment list -g rg1 -o json)" "any(.[]; .principalId == \"$ALICE\" and .principalName == \"alice@contoso.example\" and .principalType == \"User\")" "a user's role assignment, listed by name"
step "a person signs in: az login --use-device-code, the code entered on keyhold's sign-in page"
pin_host kvazap.vault.localhost
az keyvault secret set --vault-name kvazap -n for-alice --value "hello alice" -o none
as_other alice; register_cloud
( az login --use-device-code --tenant "$TENANT" --allow-no-subscriptions -o none > "$WORK/login.out" 2> "$WORK/login.err" ) &
LOGIN_PID=$!
for _ in $(seq 1 100); do grep -q "enter the code" "$WORK/login.err" 2>/dev/null && break; sleep 0.2; done
CODE="$(grep -o 'enter the code [A-Z0-9-]*' "$WORK/login.err" | awk '{print $4}')"
ok "[ -n \"$CODE\" ] && grep -q \"$URL/devicelogin\" \"$WORK/login.err\"" "az prints keyhold's sign-in page and a code"
page_status="$(curl -s --cacert "$KEYHOLD_DATA_DIR/ca.pem" -o /dev/null -w '%{http_code}' -d "code=$CODE" \
  --data-urlencode "username=alice@contoso.example" --data-urlencode 'password=Wonder-Land-2031!' "$URL/devicelogin")"
ok "[ \"$page_status\" = 200 ]" "the code is entered with the user's password"
wait "$LOGIN_PID" && ok true "az login --use-device-code completes"
jcheck "$(az account show -o json)" ".user.name == \"alice@contoso.example\" and .user.type == \"user\"" "signed in as the user"
jcheck "$(az ad signed-in-user show -o json)" ".id == \"$ALICE\"" "ad signed-in-user show (/me)"
jcheck "$(az keyvault secret show --vault-name kvazap -n for-alice -o json)" ".value == \"hello alice\"" "the user's access policy lets her read the secret"
az_fails "does not have secrets set permission" keyvault secret set --vault-name kvazap -n nope --value x
az_fails "Insufficient privileges" ad user create --display-name Mallory --user-principal-name mallory@contoso.example --password 'Mallory-Plans-2031!'
as_admin

step "a person signs in in the browser: az login (the code flow with PKCE), \$BROWSER played by tests/az/browser.sh"
as_other alice-browser; register_cloud
BROWSER="$(dirname "${BASH_SOURCE[0]}")/browser.sh" SIGNIN_CA="$KEYHOLD_DATA_DIR/ca.pem" SIGNIN_LOG="$WORK/browser.log" \
  SIGNIN_USER=alice@contoso.example SIGNIN_PASSWORD='Wonder-Land-2031!' \
  timeout 120 "$AZ" login --tenant "$TENANT" --allow-no-subscriptions -o none
ok "grep -qE '^(redirected|posted) to http://localhost:' \"$WORK/browser.log\"" "the sign-in page sent the browser back to az's loopback server"
jcheck "$(az account show -o json)" ".user.name == \"alice@contoso.example\" and .user.type == \"user\"" "az login (browser) as the user"
jcheck "$(az keyvault secret show --vault-name kvazap -n for-alice -o json)" ".value == \"hello alice\"" "and her policy applies"
as_admin

az ad user update --id alice@contoso.example --account-enabled false
jcheck "$(az ad user show --id "$ALICE" -o json)" ".accountEnabled == false" "ad user update --account-enabled false"
az_fails "password complexity" ad user create --display-name Bob --user-principal-name bob@contoso.example --password weakpassword
as_other app1
az_fails "Insufficient privileges" ad user create --display-name Eve --user-principal-name eve@contoso.example --password 'Eve-Dropper-2031!'
as_admin
az ad user delete --id "$ALICE"
jcheck "$(az ad user list -o json)" "length == 0" "ad user delete"

step "ad app credential reset: the old password stops working, the new one works"
reset="$(az ad app credential reset --id "$APP" -o json)"
NEWPASS="$(jq -r .password <<< "$reset")"
ok "[ -n \"$NEWPASS\" ] && [ \"$NEWPASS\" != \"$PASS\" ]" "a new password"
as_other app1-old; register_cloud
az_fails "AADSTS7000215|[Ii]nvalid client secret" login --service-principal -u "$APP" --password="$PASS" --tenant "$TENANT"
as_other app1-new; register_cloud
az login --service-principal -u "$APP" --password="$NEWPASS" --tenant "$TENANT" -o none && ok true "the new password signs in"
as_admin

step "a managed identity signs in with --identity (App Service protocol) and gets no directory access"
as_other mi; register_cloud
IDENTITY_ENDPOINT="$(jq -r .identity_endpoint "$KEYHOLD_DATA_DIR/mi.json")" \
IDENTITY_HEADER="$(jq -r .identity_header "$KEYHOLD_DATA_DIR/mi.json")" \
  az login --identity --allow-no-subscriptions -o none
mi_acct="$(az account show -o json 2>/dev/null || echo '{}')"
jcheck "$mi_acct" ".tenantId == \"$TENANT\" and .user.type == \"servicePrincipal\"" "az login --identity"
IDENTITY_ENDPOINT="$(jq -r .identity_endpoint "$KEYHOLD_DATA_DIR/mi.json")" \
IDENTITY_HEADER="$(jq -r .identity_header "$KEYHOLD_DATA_DIR/mi.json")" \
  az_fails "Insufficient privileges to complete the operation" ad sp list --all
as_admin

step "ad sp delete removes the principal and its sign-in"
az ad sp delete --id "$APP_OID"
az_fails "does not exist|not found|NotFound" ad sp show --id "$APP_OID"
finish
