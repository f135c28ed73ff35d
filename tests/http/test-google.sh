#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# oauth2-google over the HTTP API against a stand-in Google
# (tests/helpers/fake-google.py, real HTTPS with a test CA): {id_token}
# verified against the JWK Set (good; another audience; another issuer;
# expired; an unverified email; outside RestrictedDomains=; a kid the set
# does not have, then the rotated set), {authCode} exchanged at the token
# endpoint with the client secret (and a code Google refuses), the
# metadata Stitch gives (name, first_name, last_name, picture, email),
# CreateUsers=no refusing an unknown identity, ?link=true, a Google that
# is down refusing only its own logins; no token or secret in the log.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
. "$top_srcdir/tests/http/google-lib.sh"
cd "$T"
trap 'google_stop; stitch_cleanup' EXIT
google_up

LOGIN=$APP/auth/providers/oauth2-google/login
login_body() {
        http POST "$LOGIN${2:-}" "${3:-}" "$1"
        AT= UID_=
        if [ "$STATUS" = 200 ]; then
                AT=$(jq -r .access_token <<<"$BODY"); UID_=$(jq -r .user_id <<<"$BODY")
        fi
}
login() { login_body "$(jq -cn --arg t "$1" '{id_token: $t, options: {device: {}}}')"; }
mint() { gctl "mint?$1" | jq -r .id_token; }
jqok() { jq -e "$@" <<<"$BODY" >/dev/null; }
is_error() { [ "$STATUS" = "$1" ] && jq -e --arg c "$2" '.error_code == $c' <<<"$BODY" >/dev/null; }

# The stand-in is as strict as Google: what stitchd sends must pass it.
gpost() { curl -s --cacert "$T/gca.pem" -o "$T/gbody" -w '%{http_code}' "$@"; }
gerr() { jq -r .error "$T/gbody"; }
st=$(gpost -d "client_id=$WEB_CLIENT&scope=openid" "$GOOGLE/device/code")
check "fixture: a web client asking for a device code: 401 invalid_client" test "$st $(gerr)" = "401 invalid_client"
st=$(gpost -d "client_id=$TV_CLIENT&client_secret=wrong&device_code=x&grant_type=urn:ietf:params:oauth:grant-type:device_code" "$GOOGLE/token")
check "fixture: a wrong client secret: 401 invalid_client" test "$st $(gerr)" = "401 invalid_client"
st=$(gpost -H 'Content-Type: application/json' -d "{\"client_id\":\"$TV_CLIENT\"}" "$GOOGLE/token")
check "fixture: a JSON body: 400 invalid_request" test "$st $(gerr)" = "400 invalid_request"
st=$(gpost -d "client_id=$TV_CLIENT&client_secret=$TV_SECRET&grant_type=password" "$GOOGLE/token")
check "fixture: an unknown grant type: 400 unsupported_grant_type" test "$st $(gerr)" = "400 unsupported_grant_type"

# daemon [KEY=VALUE lines on stdin]: restarts stitchd with the provider pointed at the fake Google.
daemon() {
        google_conf >"$T/google.conf"
        stitch_stop
        http_start <"$T/google.conf"
}
same_user() { [ "$STATUS" = 200 ] && [ -n "$FIRST" ] && [ "$UID_" = "$FIRST" ]; }

daemon <<X
CreateUsers=yes
X

T1=$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT")
[ -n "$T1" ] && [ "$T1" != null ] || fail "the fake Google minted no token"
login "$T1"
check "a Google id_token logs in (200) and creates the user (CreateUsers=yes)" test "$STATUS" = 200
FIRST=$UID_ AT1=$AT
http GET "$BASE/auth/profile" "$AT1"
check "the identity is oauth2-google with Google's sub as its id" \
        jqok '.identities | length == 1 and .[0].provider_type == "oauth2-google" and .[0].id == "109876543210987654321"'
check "the metadata is Stitch's Google fields" \
        jqok '.data.email == "ada@example.com" and .data.name == "Ada Lovelace" and .data.first_name == "Ada"
              and .data.last_name == "Lovelace" and (.data.picture | startswith("https://"))'
login "$T1"
check "the same identity logs in as the same user" same_user
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=other-web-client.apps.googleusercontent.com")"
check "an id_token for another configured client ID logs in as the same user" same_user
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$TV_CLIENT")"
check "an id_token for the device client logs in too (its aud is the TV client)" same_user
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT&iss=accounts.google.com")"
check "the legacy issuer accounts.google.com is accepted" same_user

# Refused: one answer, 401 AuthError.
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=someone-elses-client")"
check "another audience is refused" is_error 401 AuthError
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT&iss=https://evil.example")"
check "another issuer is refused" is_error 401 AuthError
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT&exp=-3600")"
check "an expired id_token is refused" is_error 401 AuthError
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT&email_verified=false")"
check "an unverified email is refused" is_error 401 AuthError
SIG=${T1##*.}
login "${T1%.*}.$( [ "${SIG:0:1}" = A ] && echo B || echo A )${SIG:1}"
check "a tampered id_token is refused" is_error 401 AuthError

# authCode: exchanged with the client secret.
gctl "auth_code?code=4/0AbCdEf-good&sub=109876543210987654321&email=ada@example.com" >/dev/null
login_body '{"authCode": "4/0AbCdEf-good", "options": {"device": {}}}'
check "an authCode logs in as the same user" same_user
login_body '{"authCode": "4/0AbCdEf-good", "options": {"device": {}}}'
check "an authCode works once (Google refuses it again)" is_error 401 AuthError
grep -q 'oauth2-google: authCode for an app user refused by Google: HTTP 400 invalid_grant' "$STITCHD_LOG" \
        || bad "the log does not give Google's error for a used authCode"
check "the token endpoint got the form POSTs" grep -q '^POST /token$' google/requests
http POST "$LOGIN" "" '{"options":{}}'
check "a login body without id_token or authCode is refused (400)" test "$STATUS" = 400

# ?link=true: another Google identity onto the first user.
T2=$(mint "sub=100000000000000000002&email=ada.work@example.com&aud=$WEB_CLIENT")
login_body "$(jq -cn --arg t "$T2" '{id_token: $t}')" "?link=true" "$AT1"
check "a second Google identity links onto the user (?link=true)" test "$STATUS" = 200
http GET "$BASE/auth/profile" "$AT1"
check "the user has both identities" jqok '[.identities[].id] | sort == ["100000000000000000002", "109876543210987654321"]'
login "$T2"
check "the linked identity logs in as that user" same_user

# Key rotation: the set now has k2 only; a k2 token makes the daemon refetch.
gctl rotate >/dev/null
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT")"
check "after Google rotates its key, the new kid is fetched and logs in" same_user
n=$(grep -c '^GET /certs$' google/requests)
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT&kid=k1")"
check "a kid the set no longer has is refused" is_error 401 AuthError
check "... without another fetch within the minute" test "$(grep -c '^GET /certs$' google/requests)" = "$n"
grep -q 'oauth2-google: ID token for an app user refused: ' "$STITCHD_LOG" || bad "the log does not say why"

# CreateUsers=no, RestrictedDomains=.
daemon <<X
CreateUsers=no
RestrictedDomains=corp.example
X
login "$(mint "sub=100000000000000000003&email=eve@corp.example&aud=$WEB_CLIENT&hd=corp.example")"
check "CreateUsers=no: an unknown identity is refused" is_error 401 AuthError
grep -q 'no user has Google identity 100000000000000000003 and CreateUsers=no' "$STITCHD_LOG" \
        || bad "the log does not say CreateUsers=no refused it"
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT")"
check "RestrictedDomains=: an account without the domain's hd is refused" is_error 401 AuthError
login "$(mint "sub=109876543210987654321&email=ada@corp.example&aud=$WEB_CLIENT&hd=corp.example")"
check "RestrictedDomains=: hd and email of the domain: the known user logs in" same_user
login "$(mint "sub=109876543210987654321&email=ada@example.com&aud=$WEB_CLIENT&hd=corp.example")"
check "RestrictedDomains=: an email of another domain is refused even with the hd" is_error 401 AuthError

# A Google that is down refuses its own logins, and nothing else.
google_stop
GOOGLE_TIMEOUT=2s daemon <<X
CreateUsers=yes
X
login "$T1"
check "with Google down an id_token login is unavailable (503), not refused" is_error 503 ServiceUnavailable
grep -q 'oauth2-google: JWKS fetch from 127.0.0.1 failed: cannot connect' "$STITCHD_LOG" || bad "the log does not say Google is down"
http GET "$APP/location"
check "the daemon still answers other requests" test "$STATUS" = 200

for t in "$T1" "$T2" "$WEB_SECRET" "$TV_SECRET" "4/0AbCdEf-good"; do
        ! grep -qF -- "$t" "$STITCHD_LOG" || bad "a token, code or secret is in the daemon log"
done
ok "no token, code or client secret in the daemon log"

stitch_stop
[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
