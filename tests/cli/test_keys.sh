#!/usr/bin/env bash
# `keyhold keyvault key ...` with az's names and flags: create, show, list, sign/verify checked by
# openssl against the downloaded public key, encrypt/decrypt, rotate, rotation policy, backup/restore,
# delete/recover/purge, random bytes, and Azure's errors for bad input.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

az group create -n rgk -l westus > /dev/null
az keyvault create -n keyvault1 -g rgk > /dev/null

step "create RSA and EC keys"
rsa="$(az keyvault key create --vault-name keyvault1 --name rsa1 --kty RSA --size 2048)"
jcheck "$rsa" '.key.kty == "RSA" and (.key.d == null) and (.key.kid | test("/keys/rsa1/[0-9a-f]{32}$"))' "RSA key, public only"
ec="$(az keyvault key create --vault-name keyvault1 --name ec1 --kty EC --curve P-256)"
jcheck "$ec" '.key.crv == "P-256" and .key.key_ops == ["sign","verify"]' "EC key with default ops"
jcheck "$(az keyvault key list --vault-name keyvault1)" 'length == 2' "two keys listed"

step "sign with keyhold, verify with openssl"
printf 'hello keys' > "$WORK/msg"
digest="$(openssl dgst -sha256 -binary "$WORK/msg" | base64 -w0)"
sig="$(az keyvault key sign --vault-name keyvault1 --name rsa1 --algorithm RS256 --digest "$digest" --query signature -o tsv)"
az keyvault key download --vault-name keyvault1 --name rsa1 --file "$WORK/rsa1.pem" > /dev/null
base64 -d <<< "$sig" > "$WORK/sig"
ok 'openssl dgst -sha256 -verify "$WORK/rsa1.pem" -signature "$WORK/sig" "$WORK/msg" | grep -q "Verified OK"' "openssl verifies the RS256 signature"
jcheck "$(az keyvault key verify --vault-name keyvault1 --name rsa1 --algorithm RS256 --digest "$digest" --signature "$sig")" '.isValid == true' "verify true"

step "encrypt with openssl, decrypt with keyhold"
printf 'plain' > "$WORK/plain"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa1.pem" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/plain" -out "$WORK/ct"
pt="$(az keyvault key decrypt --vault-name keyvault1 --name rsa1 --algorithm RSA-OAEP-256 --value "$(base64 -w0 "$WORK/ct")" --data-type plaintext --query result -o tsv)"
ok '[ "$pt" = plain ]' "decrypted"

step "rotate, policy, backup, delete, recover, purge, restore"
jcheck "$(az keyvault key rotate --vault-name keyvault1 --name ec1)" '.key.crv == "P-256"' "rotated"
jcheck "$(az keyvault key list-versions --vault-name keyvault1 --name ec1)" 'length == 2' "two versions"
jcheck "$(az keyvault key rotation-policy update --vault-name keyvault1 --name ec1 --value '{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}')" '.attributes.expiryTime == "P90D"' "policy set"
jcheck "$(az keyvault key rotation-policy show --vault-name keyvault1 --name ec1)" '.lifetimeActions[0].action.type == "Rotate"' "policy shown"
az keyvault key backup --vault-name keyvault1 --name ec1 --file "$WORK/ec1.bak" > /dev/null
az keyvault key delete --vault-name keyvault1 --name ec1 > /dev/null
jcheck "$(az keyvault key list-deleted --vault-name keyvault1)" 'length == 1' "deleted listed"
az keyvault key recover --vault-name keyvault1 --name ec1 > /dev/null
jcheck "$(az keyvault key show --vault-name keyvault1 --name ec1)" '.key.crv == "P-256"' "recovered"
az keyvault key delete --vault-name keyvault1 --name ec1 > /dev/null
az keyvault key purge --vault-name keyvault1 --name ec1 > /dev/null
jcheck "$(az keyvault key restore --vault-name keyvault1 --file "$WORK/ec1.bak")" '.key.crv == "P-256"' "restored"
rnd="$(az keyvault key random --vault-name keyvault1 --count 16 --query value -o tsv)"
ok '[ "$(base64 -d <<< "$rnd" | wc -c)" = 16 ]' "random bytes"

step "bad input"
fails "BadParameter" az keyvault key create --vault-name keyvault1 --name bad --kty RSA --size 1024
fails "BadParameter" az keyvault key create --vault-name keyvault1 --name bad --kty RSA --protection hsm
fails "KeyNotFound" az keyvault key show --vault-name keyvault1 --name bad
ok '[ "$LAST_RC" = 3 ]' "not found exits 3"
fails "Forbidden" az keyvault key encrypt --vault-name keyvault1 --name ec1 --algorithm RSA-OAEP --value aGk=

finish
