#!/usr/bin/env bash
# Microsoft's az against keyhold's management and data planes: vaults (list, delete, list-deleted,
# purge), a VM's system- and user-assigned identities, storage accounts with their name check and
# keys, and secrets and keys through `az keyvault secret|key`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_az
PORT="${URL##*:}"
az group create -n rg1 -l westus -o none

step "vaults: list (with Managed HSM pools, of which there are none), delete, list-deleted, purge"
az keyvault create -n kvazres -g rg1 --enable-rbac-authorization false -o none
jcheck "$(az keyvault list -o json)" "[.[].name] == [\"kvazres\"]" "keyvault list"
jcheck "$(az keyvault list -g rg1 -o json)" "[.[].name] == [\"kvazres\"]" "keyvault list -g"

step "secrets and keys through az keyvault"
pin_host kvazres.vault.localhost
az keyvault secret set --vault-name kvazres -n s1 --value az-canary-value -o none
jcheck "$(az keyvault secret show --vault-name kvazres -n s1 -o json)" ".value == \"az-canary-value\" and (.id | startswith(\"https://kvazres.vault.localhost:$PORT/secrets/s1/\"))" "secret set and show"
key="$(az keyvault key create --vault-name kvazres -n k1 --kty RSA --size 2048 -o json)"
jcheck "$key" ".key.kty == \"RSA\" and (.key.n | length) > 300" "key create"
KID="$(jq -r .key.kid <<< "$key")"
DIGEST="$(printf 'az' | openssl dgst -sha256 -binary | base64 -w0)"
sig="$(az keyvault key sign --id "$KID" -a RS256 --digest "$DIGEST" -o json)"
jcheck "$sig" "(.signature | length) > 300" "key sign"
jcheck "$(az keyvault key verify --id "$KID" -a RS256 --digest "$DIGEST" --signature "$(jq -r .signature <<< "$sig")" -o json)" ".isValid == true" "key verify"
jcheck "$(az keyvault key list --vault-name kvazres -o json)" "[.[].name] == [\"k1\"]" "key list"

az keyvault delete -n kvazres -o none
jcheck "$(az keyvault list -o json)" "length == 0" "deleted vaults are not listed"
jcheck "$(az keyvault list-deleted -o json)" "[.[].name] == [\"kvazres\"]" "keyvault list-deleted"
az keyvault purge -n kvazres -o none
jcheck "$(az keyvault list-deleted -o json)" "length == 0" "purged"

step "storage accounts: the name check, create, keys"
az_fails "AccountNameInvalid|not a valid storage account name" storage account create -n Bad_Name -g rg1 -l westus
jcheck "$(az storage account check-name -n sa1kh -o json)" ".nameAvailable == true" "a free name"
az storage account create -n sa1kh -g rg1 -l westus -o none
jcheck "$(az storage account check-name -n sa1kh -o json)" ".nameAvailable == false and .reason == \"AlreadyExists\"" "a taken name"
jcheck "$(az storage account keys list -n sa1kh -g rg1 -o json)" "[.[].keyName] == [\"key1\",\"key2\"] and all(.[]; (.value | length) > 40)" "storage account keys list"

step "a VM's identities: system-assigned, a user-assigned one added and removed, then none"
az resource create -g rg1 -n vm1 --resource-type Microsoft.Compute/virtualMachines --location westus --properties '{}' -o none
sys="$(az vm identity assign -g rg1 -n vm1 -o json)"
jcheck "$sys" "(.systemAssignedIdentity | length) == 36" "vm identity assign (system)"
jcheck "$(az vm identity show -g rg1 -n vm1 -o json)" ".type == \"SystemAssigned\"" "vm identity show"
UAMI_ID="$(az identity create -n id1 -g rg1 --query id -o tsv)"
both="$(az vm identity assign -g rg1 -n vm1 --identities "$UAMI_ID" -o json)"
jcheck "$both" "(.userAssignedIdentities | keys) == [\"$UAMI_ID\"] and .systemAssignedIdentity != null" "vm identity assign --identities"
jcheck "$(az vm identity show -g rg1 -n vm1 -o json)" ".type == \"SystemAssigned, UserAssigned\"" "both kinds"
az vm identity remove -g rg1 -n vm1 --identities "$UAMI_ID" -o none
jcheck "$(az vm identity show -g rg1 -n vm1 -o json)" ".type == \"SystemAssigned\" and (.userAssignedIdentities == null or .userAssignedIdentities == {})" "vm identity remove --identities (userAssignedIdentities: null)"
az vm identity remove -g rg1 -n vm1 -o none
jcheck "$(az vm identity show -g rg1 -n vm1 -o json 2>/dev/null || echo null)" ". == null or .type == \"None\"" "vm identity remove (system)"
finish
