#!/usr/bin/env bash
# Microsoft's az against keyhold's certificates: create with az's default policy (self-signed, a
# long-running operation az waits on), show, list, download and check with openssl, the certificate's
# secret as PKCS#12, import of a PEM made by openssl, delete, list-deleted, purge.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_az
az group create -n rg1 -l westus -o none
az keyvault create -n kvazcert -g rg1 --enable-rbac-authorization false -o none
pin_host kvazcert.vault.localhost

step "az keyvault certificate create with the default policy"
az keyvault certificate get-default-policy > "$WORK/policy.json"
az keyvault certificate create --vault-name kvazcert -n web -p @"$WORK/policy.json" -o none
jcheck "$(az keyvault certificate pending show --vault-name kvazcert -n web -o json)" '.status == "completed" and (.target | contains("/certificates/web"))' "create completes (the pending operation says completed)"
cert="$(az keyvault certificate show --vault-name kvazcert -n web -o json)"
jcheck "$cert" '(.x509ThumbprintHex // .x509Thumbprint // "" | length) > 0 and (.kid | contains("/keys/web/")) and (.sid | contains("/secrets/web/"))' "show: thumbprint, kid and sid"
jcheck "$(az keyvault certificate list --vault-name kvazcert -o json)" '[.[].name] == ["web"]' "list"

step "download, and the secret as PKCS#12"
az keyvault certificate download --vault-name kvazcert -n web -f "$WORK/web.pem"
ok "openssl x509 -in \"$WORK/web.pem\" -noout -subject | grep -q 'CN *= *CLIGetDefaultPolicy'" "downloaded PEM is the certificate"
az keyvault secret download --vault-name kvazcert -n web --encoding base64 -f "$WORK/web.pfx"
ok "openssl pkcs12 -in \"$WORK/web.pfx\" -passin pass: -nokeys 2>/dev/null | grep -q 'BEGIN CERTIFICATE'" "the secret is a PKCS#12 with the certificate"
ok "openssl pkcs12 -in \"$WORK/web.pfx\" -passin pass: -nocerts -nodes 2>/dev/null | grep -q 'PRIVATE KEY'" "and its private key"

step "import a PEM made by openssl"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/imp.key" -out "$WORK/imp.crt" -days 30 -subj "/CN=imported.example" 2> /dev/null
cat "$WORK/imp.key" "$WORK/imp.crt" > "$WORK/imp.pem"
imported="$(az keyvault certificate import --vault-name kvazcert -n imp -f "$WORK/imp.pem" -o json)"
jcheck "$imported" '.policy.x509CertificateProperties.subject == "CN=imported.example"' "import PEM"
az_fails "Certificate|certificate|PEM|key" keyvault certificate import --vault-name kvazcert -n bad -f "$WORK/imp.crt"

step "delete, list-deleted, purge"
az keyvault certificate delete --vault-name kvazcert -n imp -o none
jcheck "$(az keyvault certificate list-deleted --vault-name kvazcert -o json)" '[.[].name] == ["imp"]' "list-deleted"
az keyvault certificate purge --vault-name kvazcert -n imp
jcheck "$(az keyvault certificate list-deleted --vault-name kvazcert -o json)" 'length == 0' "purged"
finish
