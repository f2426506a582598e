#!/usr/bin/env bash
# A person signs in as with az: `login --use-device-code` (the code entered at /devicelogin with
# curl, read from the CLI's stderr) and the browser login ($BROWSER played by tests/az/browser.sh,
# which follows the authorize URL, posts the sign-in form and follows the redirect to the CLI's
# loopback listener). Then the user reads the vault secret they were granted, the refresh token is
# rotated on use and kept out of every output, `logout` (and a login replacing it) revokes it.
# Refused: a wrong password (nothing saved), a spent or revoked refresh token, a forged answer on
# the loopback listener.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_server

AZ_CLIENT=04b07795-8ddb-461a-bbee-02f9e1bf7b46
UPN=pat@contoso.example
PW='Wonder-Land-2031!'
CA="$KEYHOLD_DATA_DIR/ca.pem"
URL="$(jq -r .url "$KEYHOLD_DATA_DIR/state.json")"
TENANT="$(jq -r .tenant_id "$KEYHOLD_DATA_DIR/state.json")"
PROFILE="$KEYHOLD_CONFIG_DIR/profile.json"

# refresh_error TOKEN: the token endpoint's `error` for a refresh with TOKEN (empty if it worked).
refresh_error() {
  curl -sS --cacert "$CA" -d grant_type=refresh_token -d client_id="$AZ_CLIENT" \
    --data-urlencode "refresh_token=$1" --data-urlencode "scope=$URL/.default" \
    "$URL/$TENANT/oauth2/v2.0/token" | jq -r '.error // empty'
}
saved_refresh_token() { jq -r '.login.refreshToken // empty' "$PROFILE"; }
# wait_for FILE REGEX: up to 20 s for FILE to match.
wait_for() {
  local i
  for i in $(seq 1 200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

step "a user, granted get/list on a vault secret (set-policy --upn)"
az ad user create --display-name "Pat Doe" --user-principal-name "$UPN" --password "$PW" > /dev/null
az group create -n rg -l eastus > /dev/null
az keyvault create -n patvault -g rg > /dev/null
az keyvault create -n othervault -g rg > /dev/null
az keyvault secret set --vault-name patvault -n s1 --value for-pat > /dev/null
az keyvault secret set --vault-name othervault -n s2 --value not-for-pat > /dev/null
az keyvault set-policy -n patvault --upn "$UPN" --secret-permissions get list > /dev/null
ok '[ ! -e "$PROFILE" ]' "no saved profile yet (the admin works from admin.json)"

step "keyhold login --use-device-code: Entra's message on stderr, the code entered with curl"
keyhold login --use-device-code > "$WORK/dc.out" 2> "$WORK/dc.err" < /dev/null &
LOGIN_PID=$!
ok 'wait_for "$WORK/dc.err" "enter the code [A-Z0-9]{4}-[A-Z0-9]{4} to authenticate"' "the message is printed"
MSG="$(head -n 1 "$WORK/dc.err")"
ok '[[ "$MSG" == "To sign in, use a web browser to open the page $URL/devicelogin and enter the code "*" to authenticate." ]]' "in Entra's words: $MSG"
CODE="$(grep -oE 'enter the code [A-Z0-9-]+' "$WORK/dc.err" | awk '{print $4}')"
PAGE="$(grep -oE 'open the page [^ ]+' "$WORK/dc.err" | awk '{print $4}')"
status="$(curl -sS --cacert "$CA" -o "$WORK/page.html" -w '%{http_code}' --data-urlencode "code=$CODE" \
  --data-urlencode "username=$UPN" --data-urlencode "password=Not-The-Password-1" "$PAGE")"
ok '[ "$status" = 400 ] && grep -q "invalid username or password" "$WORK/page.html"' "a wrong password is refused on the page"
sleep 6
ok 'kill -0 $LOGIN_PID 2>/dev/null && [ ! -e "$PROFILE" ] && [ ! -s "$WORK/dc.out" ]' "the CLI keeps polling; nothing saved, nothing printed"
status="$(curl -sS --cacert "$CA" -o "$WORK/page.html" -w '%{http_code}' --data-urlencode "code=$CODE" \
  --data-urlencode "username=$UPN" --data-urlencode "password=$PW" "$PAGE")"
ok '[ "$status" = 200 ] && grep -q "signed in on your device" "$WORK/page.html"' "the right password approves the code"
rc=0; wait "$LOGIN_PID" || rc=$?
ok '[ "$rc" = 0 ]' "login exits 0"
out="$(cat "$WORK/dc.out")"
jcheck "$out" "length == 1 and .[0].user == {\"name\": \"$UPN\", \"type\": \"user\"} and .[0].tenantId == \"$TENANT\"" "az's answer for a user login"
ok '[ "$(stat -c %a "$PROFILE")" = 600 ]' "the profile is 0600"
RT0="$(saved_refresh_token)"
ok '[ ${#RT0} -ge 40 ]' "the profile keeps the refresh token"
ok '! grep -qF -- "$RT0" "$WORK/dc.out" "$WORK/dc.err"' "the refresh token is never printed"
jcheck "$(az account show)" ".user == {\"name\": \"$UPN\", \"type\": \"user\"}" "account show: the user"

step "the user's own tokens: the granted secret, nothing more"
ok '[ "$(az keyvault secret show --vault-name patvault -n s1 --query value -o tsv)" = for-pat ]' "reads the secret it was granted"
jcheck "$(az keyvault secret list --vault-name patvault)" 'map(.id) | any(endswith("/secrets/s1"))' "lists the vault"
ok '[ "$(az ad user show --id "$UPN" --query userPrincipalName -o tsv)" = "$UPN" ]' "a Graph token too: the user reads the directory"
fails "Forbidden|does not have secrets get permission" az keyvault secret show --vault-name othervault -n s2
fails "Forbidden|does not have secrets set permission" az keyvault secret set --vault-name patvault -n s1 --value changed
RT1="$(saved_refresh_token)"
ok '[ -n "$RT1" ] && [ "$RT1" != "$RT0" ]' "the refresh token was rotated on use and the new one saved"
ok '[ "$(refresh_error "$RT0")" = invalid_grant ]' "the spent refresh token no longer works"

step "keyhold logout revokes the refresh token"
RT2="$(saved_refresh_token)"
az logout
ok '[ "$(jq -r .login.type "$PROFILE")" = loggedOut ] && ! grep -qF -- "$RT2" "$PROFILE"' "the profile is cleared"
ok '[ "$(refresh_error "$RT2")" = invalid_grant ]' "the last refresh token is revoked at the server"
fails "keyhold login" az keyvault secret show --vault-name patvault -n s1

step "the browser login, from a machine without the server's data dir (tenant 'organizations')"
export SIGNIN_CA="$CA" SIGNIN_USER="$UPN" SIGNIN_LOG="$WORK/browser.log"
export BROWSER="$ROOT/tests/az/browser.sh"
elsewhere=(env KEYHOLD_DATA_DIR="$WORK/no-data-dir" keyhold login --url "$URL" --ca-file "$CA")
SIGNIN_PASSWORD="Not-The-Password-1" "${elsewhere[@]}" > "$WORK/br.out" 2> "$WORK/br.err" < /dev/null &
LOGIN_PID=$!
ok 'wait_for "$SIGNIN_LOG" "posted to|redirected to"' "the browser played the sign-in with a wrong password"
sleep 1
ok 'kill -0 $LOGIN_PID 2>/dev/null && [ "$(jq -r .login.type "$PROFILE")" = loggedOut ] && [ ! -s "$WORK/br.out" ]' "refused: no code came back, nothing saved"
ok 'grep -q "A web browser has been opened at $URL/organizations/oauth2/v2.0/authorize?" "$WORK/br.err"' "the URL is printed too"
AUTH_URL="$(grep -oE "$URL/organizations/oauth2/v2.0/authorize\?[^ ]+" "$WORK/br.err" | head -n 1 | sed 's/\.$//')"
ok '[[ "$AUTH_URL" == *"client_id=$AZ_CLIENT"* && "$AUTH_URL" == *"code_challenge_method=S256"* && "$AUTH_URL" == *"state="* && "$AUTH_URL" == *"redirect_uri=http%3A%2F%2F127.0.0.1%3A"* ]]' "Azure CLI's client, PKCE S256, a state, the loopback redirect"
kill "$LOGIN_PID" 2>/dev/null || true; wait "$LOGIN_PID" 2>/dev/null || true

: > "$SIGNIN_LOG"
rc=0; out="$(SIGNIN_PASSWORD="$PW" "${elsewhere[@]}" 2> "$WORK/br.err" < /dev/null)" || rc=$?
ok '[ "$rc" = 0 ] && grep -q "redirected to http://127.0.0.1:" "$SIGNIN_LOG"' "signed in: the browser was sent back to the loopback listener"
jcheck "$out" ".[0].user == {\"name\": \"$UPN\", \"type\": \"user\"} and .[0].tenantId == \"$TENANT\"" "the user, in keyhold's one tenant"
RT3="$(saved_refresh_token)"
ok '[ -n "$RT3" ] && ! grep -qF -- "$RT3" <<< "$out" && ! grep -qF -- "$RT3" "$WORK/br.err"' "the refresh token saved, not printed"
ok '[ "$(KEYHOLD_DATA_DIR="$WORK/no-data-dir" az keyvault secret show --vault-name patvault -n s1 --query value -o tsv)" = for-pat ]' "reads the granted secret"
RT4="$(saved_refresh_token)"
az login > /dev/null
ok '[ "$(jq -r .login.type "$PROFILE")" = servicePrincipal ]' "plain login on the server machine is the admin's"
ok '[ "$(refresh_error "$RT4")" = invalid_grant ]' "the person's refresh token it replaced is revoked"

step "a forged answer on the loopback listener is refused"
cat > "$WORK/forger.sh" <<'EOF'
#!/usr/bin/env bash
# Sends the CLI's loopback listener a code with another state, as a page of someone else's could.
redirect="$(sed 's/.*redirect_uri=\([^&]*\).*/\1/' <<< "$1" | sed 's/%3A/:/g; s#%2F#/#g')"
(sleep 0.5; curl -sS -o /dev/null "${redirect}?code=stolen&state=forged") > /dev/null 2>&1 &
EOF
chmod +x "$WORK/forger.sh"
BROWSER="$WORK/forger.sh" fails "another state" "${elsewhere[@]}"
ok '[ "$(jq -r .login.type "$PROFILE")" = servicePrincipal ]' "nothing saved: still the admin"

finish
