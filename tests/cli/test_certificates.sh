#!/usr/bin/env bash
# `keyhold keyvault certificate ...` with az's names and flags: get-default-policy, create (waits for
# the operation), show/list/list-versions, download checked by openssl, import of a PFX made by
# openssl, keyhold's CA issuer, an Unknown-issuer request signed by openssl and merged, contacts,
# set-attributes, backup/delete/recover/purge/restore, and Azure's errors for bad input.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

az group create -n rgc -l westus > /dev/null
az keyvault create -n certvault -g rgc > /dev/null

step "default policy, create, show, download"
az keyvault certificate get-default-policy > "$WORK/policy.json"
jcheck "$(cat "$WORK/policy.json")" '.issuer.name == "Self" and .x509_props.subject == "CN=CLIGetDefaultPolicy"' "Azure's default policy"
c="$(az keyvault certificate create --vault-name certvault --name web --policy "@$WORK/policy.json")"
jcheck "$c" '(.id | test("/certificates/web/[0-9a-f]{32}$")) and (.kid | test("/keys/web/")) and (.x5t | length > 20)' "created and waited for"
jcheck "$(az keyvault certificate show --vault-name certvault --name web)" '.policy.issuer.name == "Self"' "shown with its policy"
az keyvault certificate create --vault-name certvault --name web > /dev/null
jcheck "$(az keyvault certificate list-versions --vault-name certvault --name web)" 'length == 2' "two versions"
jcheck "$(az keyvault certificate list --vault-name certvault)" 'length == 1' "one certificate"
az keyvault certificate download --vault-name certvault --name web --file "$WORK/web.pem" > /dev/null
ok 'openssl verify -CAfile "$WORK/web.pem" "$WORK/web.pem" | grep -q OK' "openssl verifies the self-signed download"
az keyvault certificate download --vault-name certvault --name web --file "$WORK/web.der" --encoding DER > /dev/null
ok 'openssl x509 -inform DER -in "$WORK/web.der" -noout -subject | grep -q CLIGetDefaultPolicy' "DER download"
jcheck "$(az keyvault certificate set-attributes --vault-name certvault --name web --enabled false --tags a=b)" '.attributes.enabled == false and .tags.a == "b"' "attributes set"

step "import a PFX made by openssl"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/k.pem" -out "$WORK/c.pem" -days 5 -subj /CN=imported 2> /dev/null
openssl pkcs12 -export -inkey "$WORK/k.pem" -in "$WORK/c.pem" -passout pass:pw -out "$WORK/c.pfx"
jcheck "$(az keyvault certificate import --vault-name certvault --name imp --file "$WORK/c.pfx" --password pw)" '.policy.issuer.name == "Unknown" and .policy.x509_props.subject == "CN=imported"' "imported"
fails "BadParameter" az keyvault certificate import --vault-name certvault --name imp2 --file "$WORK/c.pfx" --password wrong

step "keyhold's CA and an Unknown-issuer request merged"
jcheck "$(az keyvault certificate issuer create --vault-name certvault --issuer-name internal --provider-name KeyholdCA)" '.provider == "KeyholdCA"' "issuer created"
jcheck "$(az keyvault certificate issuer list --vault-name certvault)" 'length == 1' "issuer listed"
cat > "$WORK/ca-policy.json" <<'JSON'
{"issuer": {"name": "internal"}, "x509_props": {"subject": "CN=svc.internal", "sans": {"dns_names": ["svc.internal"]}}}
JSON
jcheck "$(az keyvault certificate create --vault-name certvault --name svc --policy "@$WORK/ca-policy.json")" '.policy.issuer.name == "internal"' "issued by keyhold's CA"
cat > "$WORK/ext-policy.json" <<'JSON'
{"issuer": {"name": "Unknown"}, "x509_props": {"subject": "CN=ext.internal"}}
JSON
jcheck "$(az keyvault certificate create --vault-name certvault --name ext --policy "@$WORK/ext-policy.json")" '.status == "inProgress"' "pending"
az keyvault certificate pending show --vault-name certvault --name ext --query csr -o tsv | base64 -d > "$WORK/ext.csr"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 5 -subj "/CN=Outside CA" 2> /dev/null
openssl x509 -req -in "$WORK/ext.csr" -inform DER -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 3 -out "$WORK/ext.pem" 2> /dev/null
cat "$WORK/ext.pem" "$WORK/ca.pem" > "$WORK/chain.pem"
jcheck "$(az keyvault certificate pending merge --vault-name certvault --name ext --file "$WORK/chain.pem")" '.policy.issuer.name == "Unknown"' "merged"
jcheck "$(az keyvault certificate pending show --vault-name certvault --name ext)" '.status == "completed"' "completed"

step "contacts"
az keyvault certificate contact add --vault-name certvault --email ops@example.test --name Ops > /dev/null
jcheck "$(az keyvault certificate contact add --vault-name certvault --email sec@example.test)" '.contacts | length == 2' "two contacts"
jcheck "$(az keyvault certificate contact delete --vault-name certvault --email ops@example.test)" '.contacts | length == 1' "one left"
jcheck "$(az keyvault certificate contact list --vault-name certvault)" '.contacts[0].email == "sec@example.test"' "listed"

step "backup, delete, recover, purge, restore"
az keyvault certificate backup --vault-name certvault --name svc --file "$WORK/svc.bak" > /dev/null
az keyvault certificate delete --vault-name certvault --name svc > /dev/null
jcheck "$(az keyvault certificate list-deleted --vault-name certvault)" 'length == 1' "deleted listed"
jcheck "$(az keyvault certificate show-deleted --vault-name certvault --name svc)" '.recoveryId | test("/deletedcertificates/svc$")' "deleted shown"
az keyvault certificate recover --vault-name certvault --name svc > /dev/null
az keyvault certificate delete --vault-name certvault --name svc > /dev/null
az keyvault certificate purge --vault-name certvault --name svc > /dev/null
jcheck "$(az keyvault certificate restore --vault-name certvault --file "$WORK/svc.bak")" '.policy.issuer.name == "internal"' "restored"

step "bad input"
fails "BadParameter" az keyvault certificate create --vault-name certvault --name bad --policy '{"key_props": {"kty": "RSA", "key_size": 1024}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}'
fails "CertificateNotFound" az keyvault certificate show --vault-name certvault --name bad
ok '[ "$LAST_RC" = 3 ]' "not found exits 3"

finish
