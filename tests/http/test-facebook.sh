#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# oauth2-facebook app logins over HTTP ({accessToken}) against a real
# stitchd and a stand-in Graph API over HTTPS (tests/helpers/fake-facebook.py,
# a test CA, [Network] CAFile=; /me requires appsecret_proof, as with the
# app's "Require App Secret"): a good token makes the user (CreateUsers=yes)
# with Facebook's metadata, the next login finds it; CreateUsers=no refuses
# an unknown identity; a token of another app, a page token, an invalid or
# expired one, and a wrong app secret are refused (401 AuthError); the Graph
# API down, slow or rate-limiting gives 503 and holds up no password login;
# ?link=true links a Facebook identity (with CreateUsers=no too); no token
# or secret in the daemon's log; the config's errors have their line.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
. "$top_srcdir/tests/http/facebook-lib.sh"
cd "$T"
trap 'fb_stop; stitch_cleanup' EXIT

LOGIN=$APP/auth/providers/oauth2-facebook/login
# login TOKEN [?QUERY BEARER]: sets STATUS, BODY, and on 200 AT UID_
login() {
        AT= UID_=
        http POST "$LOGIN${2:-}" "${3:-}" "$(jq -cn --arg t "$1" '{accessToken: $t, options: {device: {}}}')"
        if [ "$STATUS" = 200 ]; then
                AT=$(jq -r .access_token <<<"$BODY"); UID_=$(jq -r '.user_id // empty' <<<"$BODY")
        fi
}
jqok() { jq -e "$@" <<<"$BODY" >/dev/null; }
is_error() { [ "$STATUS" = "$1" ] && jq -e --arg c "$2" '.error_code == $c' <<<"$BODY" >/dev/null; }
logged() { grep -qF -- "$1" "$STITCHD_LOG"; }
daemon() {
        stitch_stop
        http_start < <(fb_config)
}

fb_token EAAgood1 10001 ada@example.com
fb_token EAAgood2 10002 ""
fb_token EAAother 10003 x@example.com 999999999
fb_token EAApage 10004 p@example.com "$FB_APP_ID" PAGE
fb_token EAArevoked 10005 r@example.com "$FB_APP_ID" USER false
fb_token EAAexpired 10006 e@example.com "$FB_APP_ID" USER true $(( $(date +%s) - 60 ))
fb_token EAAlink 10007 link@example.com
fb_up

# ---- configuration -------------------------------------------------------------
stitch_config <<X
[Provider.oauth2-facebook]
Enabled=yes
ClientID=not-a-number
ClientSecretFile=$T/fb-secret
X
out=$("$STITCHD" --check-config --config "$STITCHD_CONF" 2>&1) && bad "ClientID=not-a-number passed the config check"
check "a ClientID= that is not an app id is a config error with its line" grep -q "stitchd.conf:[0-9]*:.*ClientID" <<<"$out"
stitch_config <<X
[Provider.oauth2-facebook]
Enabled=yes
ClientID=$FB_APP_ID
ClientSecretFile=$T/fb-secret
GraphURL=http://127.0.0.1:$FB_PORT/v19.0
X
out=$("$STITCHD" --check-config --config "$STITCHD_CONF" 2>&1) && bad "a plain http GraphURL= passed the config check"
check "plain http:// GraphURL= without AllowInsecureLoopback=yes is a config error" grep -q "AllowInsecureLoopback=yes" <<<"$out"
chmod 0644 fb-secret
stitch_config < <(fb_config)
"$STITCHD" --foreground --config "$STITCHD_CONF" >"$T/start.out" 2>&1 </dev/null &
wait $! && bad "stitchd started with a world-readable app secret file"
check "a world-readable ClientSecretFile= stops the daemon, saying why" grep -q "refusing app secret file" "$T/start.out"
chmod 0600 fb-secret

# ---- CreateUsers=no: an unknown identity is refused -------------------------------
daemon
login EAAgood1
check "CreateUsers=no: an unknown Facebook user is refused (401 AuthError)" is_error 401 AuthError
check "... logged as such" logged "no user has identity"
check "... after asking debug_token and /me" test "$(fb_requests 'GET /v19.0/debug_token')" = 1 -a "$(fb_requests 'GET /v19.0/me')" = 1

# ---- CreateUsers=yes -------------------------------------------------------------
stitch_stop
http_start < <(fb_config <<<"CreateUsers=yes")
login EAAgood1
[ "$STATUS" = 200 ] || fail "a good token did not log in: $STATUS $BODY"
FIRST=$UID_
check "the first login made a user" test -n "$FIRST"
http GET "$BASE/auth/profile" "$AT"
check "the profile has the oauth2-facebook identity with Facebook's metadata" jqok '.identities | length == 1
        and .[0].provider_type == "oauth2-facebook" and .[0].provider_data.id == "10001"
        and .[0].provider_data.name == "Test User 10001" and .[0].provider_data.email == "ada@example.com"
        and .[0].provider_data.first_name == "Test" and .[0].provider_data.last_name == "User 10001"
        and (.[0].provider_data.picture | startswith("https://"))'
check "the user's data has the metadata too" jqok '.data.name == "Test User 10001" and .data.email == "ada@example.com"'
login EAAgood1
check "the next login finds the same user" test "$STATUS" = 200 -a "$UID_" = "$FIRST"
login EAAgood2
check "a user without an email logs in too (email is optional)" test "$STATUS" = 200
http GET "$BASE/auth/profile" "$AT"
check "... without an email in its metadata" jqok '.identities[0].provider_data | has("email") | not'

login EAAother; check "a token of another app is refused" is_error 401 AuthError
check "... logged why" logged "token for an app user refused: the token is for another app"
login EAApage; check "a page token is refused" is_error 401 AuthError
check "... logged why" logged "refused: the token is not a user's"
login EAArevoked; check "an invalid token is refused" is_error 401 AuthError
login EAAexpired; check "an expired token is refused" is_error 401 AuthError
login EAAnobody; check "a token Facebook does not know is refused" is_error 401 AuthError
login 'EAA with spaces'; check "a token that is not one is refused" is_error 401 AuthError
http POST "$LOGIN" "" '{"options":{}}'; check "a login body without accessToken is refused (400)" test "$STATUS" = 400

# ---- link=true ---------------------------------------------------------------------
PW='a-password-for-the-facebook-test-0'
stitch_user bob@example.com bob "$PW"
http POST "$APP/auth/providers/local-userpass/login" "" "$(jq -cn --arg p "$PW" '{username: "bob@example.com", password: $p}')"
BOB_AT=$(jq -r .access_token <<<"$BODY")
BOB=$(jq -r .user_id <<<"$BODY")
login EAAlink "?link=true" "$BOB_AT"
check "a Facebook identity links onto a password user (?link=true)" test "$STATUS" = 200
http GET "$BASE/auth/profile" "$BOB_AT"
check "the user has both identities" jqok '[.identities[].provider_type] | sort == ["local-userpass", "oauth2-facebook"]'
login EAAlink
check "the linked Facebook identity logs in as that user" test "$STATUS" = 200 -a "$UID_" = "$BOB"

stitch_stop
http_start < <(fb_config)
fb_token EAAlink2 10008 link2@example.com
login EAAlink2 "?link=true" "$BOB_AT"
check "with CreateUsers=no a new Facebook identity still links (?link=true)" test "$STATUS" = 200
login EAAlink2
check "... and logs in as the user it was linked to" test "$STATUS" = 200 -a "$UID_" = "$BOB"

# ---- a wrong app secret: Graph's error answer ---------------------------------------
printf 'not-the-secret\n' >"$T/fb-secret2" && chmod 0600 "$T/fb-secret2"
stitch_stop
http_start < <(fb_config <<<"CreateUsers=yes" | sed "s|^ClientSecretFile=.*|ClientSecretFile=$T/fb-secret2|")
login EAAgood1
check "with a wrong app secret the Graph API's refusal is a 401" is_error 401 AuthError
check "... logged with the host, the status and Graph's error" \
        logged "the Graph API at 127.0.0.1 refused /debug_token: HTTP status 400, error 190/0 (OAuthException)"

# ---- the Graph API down or slow ------------------------------------------------------
fb_stop
daemon
login EAAgood1
check "the Graph API down: 503 ServiceUnavailable, not a refusal" is_error 503 ServiceUnavailable
check "... logged with the host" logged "cannot reach the Graph API at 127.0.0.1 (/debug_token): cannot connect"
fb_up
echo 4 >fb/delay
stitch_stop
http_start < <(printf 'CreateUsers=yes\n[Network]\nTimeout=2s\n' | fb_config)
before=$(fb_requests debug_token)
curl -s -o "$T/slow.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary '{"accessToken":"EAAgood1"}' "$URL$LOGIN" >"$T/slow.status" &
SLOW=$!
for i in $(seq 1 100); do [ "$(fb_requests debug_token)" -gt "$before" ] && break; sleep 0.05; done
start=$(date +%s%N)
http POST "$APP/auth/providers/local-userpass/login" "" "$(jq -cn --arg p "$PW" '{username: "bob@example.com", password: $p}')"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a password login succeeds while the Graph API is slow" test "$STATUS" = 200
check "... at once (${ms} ms)" test "$ms" -lt 1500
wait $SLOW
check "the slow Facebook login ends with 503 after Timeout=2s" test "$(cat "$T/slow.status")" = 503
check "... logged as timed out" logged "cannot reach the Graph API at 127.0.0.1 (/debug_token): timed out"
rm -f fb/delay
echo '{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4}}' \
        >fb/graph-error
login EAAgood1
check "Graph's rate limit (code 4): 503, not a refusal" is_error 503 ServiceUnavailable
check "... logged with Graph's error" logged "refused /debug_token: HTTP status 400, error 4/0 (OAuthException)"
rm -f fb/graph-error

# ---- nothing secret in the log ----------------------------------------------------------
for t in EAAgood1 EAAgood2 EAAother EAApage EAArevoked EAAexpired EAAnobody EAAlink EAAlink2 "$FB_APP_SECRET" "$FB_CLIENT_TOKEN"; do
        ! grep -qF -- "$t" "$STITCHD_LOG" || bad "$t is in the daemon log"
done
ok "no token or secret in the daemon log"
! grep -qF "/v19.0/" "$STITCHD_LOG" || bad "a Graph URL is in the daemon log"

# ---- disabled: not there -------------------------------------------------------------
stitch_stop
http_start </dev/null
login EAAgood1; check "oauth2-facebook is 404 AuthProviderNotFound while disabled" is_error 404 AuthProviderNotFound

stitch_stop
[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
