#!/usr/bin/env bash
# A stand-in for the person at the browser (az opens $BROWSER with the sign-in URL): opens keyhold's
# sign-in page, posts the name and password in $SIGNIN_USER / $SIGNIN_PASSWORD with the page's hidden
# fields, and sends the answer back to az's local server as a browser would: it follows a redirect,
# or posts the form of a `response_mode=form_post` page (which az asks for). It returns at once and
# does the rest in the background, as a browser does: az waits for the browser command before it
# starts serving the redirect. Its log is $SIGNIN_LOG.
set -euo pipefail
url="$1"
echo "opened ${url%%\?*}" >> "$SIGNIN_LOG"

# form_fields HTML: curl --data-urlencode arguments for the page's hidden fields.
form_fields() {
  local field name value
  while IFS= read -r field; do
    name="$(sed 's/.*name="\([^"]*\)".*/\1/' <<< "$field")"
    value="$(sed 's/.*value="\([^"]*\)".*/\1/; s/&quot;/"/g; s/&#39;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g' <<< "$field")"
    printf '%s\0%s\0' --data-urlencode "$name=$value"
  done < <(grep -o '<input type="hidden" name="[^"]*" value="[^"]*">' <<< "$1")
}
form_action() { grep -o '<form method="post" action="[^"]*"' <<< "$1" | sed 's/.*action="//; s/"$//; s/&amp;/\&/g'; }

(
  page="$(curl -sS --cacert "$SIGNIN_CA" "$url")"
  origin="$(sed 's#^\(https://[^/]*\).*#\1#' <<< "$url")"
  mapfile -d '' args < <(form_fields "$page")
  answer="$(curl -sS --cacert "$SIGNIN_CA" -D "$SIGNIN_LOG.headers" "${args[@]}" \
    --data-urlencode "username=$SIGNIN_USER" --data-urlencode "password=$SIGNIN_PASSWORD" "$origin$(form_action "$page")")"
  location="$(grep -i '^location:' "$SIGNIN_LOG.headers" | sed 's/^[^:]*: *//; s/\r$//' || true)"
  if [ -n "$location" ]; then
    echo "redirected to ${location%%\?*}" >> "$SIGNIN_LOG"
    curl -sS -o /dev/null "$location"
  else
    action="$(form_action "$answer")"
    echo "posted to $action" >> "$SIGNIN_LOG"
    mapfile -d '' back < <(form_fields "$answer")
    curl -sS -o /dev/null "${back[@]}" "$action"
  fi
) > /dev/null 2>> "$SIGNIN_LOG" &
