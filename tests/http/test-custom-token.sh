#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# custom-token app logins over HTTP (docs/http.md) against a real stitchd:
# tokens signed here (HS256 with python3's hmac, as an issuer would) log in
# with {"token"}; the first login makes the user, the next finds it; the
# profile shows the identity and the MetadataFields= data; tampered,
# expired, unsigned and wrong-audience tokens get 401 AuthError; identity
# linking with ?link=true; no token in the daemon's log; 404 while disabled.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
command -v curl >/dev/null || skip "curl is not installed"

SECRET='custom-token-test-secret-0123456789abcdefABCDEF'
printf '%s\n' "$SECRET" >"$T/jwt.secret"   # the trailing newline is dropped
chmod 0600 "$T/jwt.secret"

# mint SUB [EXTRA CLAIMS JSON] [EXP OFFSET] [AUD JSON] [SECRET] [ALG] (tests/lib.sh)
APP_AUD='"stitch"' NO_CLAIMS='{}'
mint() { stitch_jwt_hs256 "$1" "${2:-$NO_CLAIMS}" "${3:-600}" "${4:-$APP_AUD}" "${5:-$SECRET}" "${6:-HS256}"; }

http_start <<X
[Provider.custom-token]
Enabled=yes
SigningKeyFile=$T/jwt.secret
MetadataFields=name user_data.team=team email!
X

LOGIN=$APP/auth/providers/custom-token/login
# login TOKEN [CURL ARGS]: sets STATUS, BODY, and on 200 AT RT UID_
login() {
        local t=$1
        shift
        AT= RT= UID_=
        http POST "$LOGIN" "" "$(jq -cn --arg t "$t" '{token: $t, provider: "custom-token", options: {device: {}}}')"
        if [ "$STATUS" = 200 ]; then
                AT=$(jq -r .access_token <<<"$BODY"); RT=$(jq -r .refresh_token <<<"$BODY"); UID_=$(jq -r .user_id <<<"$BODY")
        fi
}
jqok() { jq -e "$@" <<<"$BODY" >/dev/null; }
same_user() { [ "$STATUS" = 200 ] && [ "$UID_" = "$FIRST" ]; }
is_error() { [ "$STATUS" = "$1" ] && jq -e --arg c "$2" '.error_code == $c' <<<"$BODY" >/dev/null; }

T1=$(mint 24601 '{"name":"Jean","email":"jv@example.com","user_data":{"team":"blue"}}')
login "$T1"
[ "$STATUS" = 200 ] || fail "a valid token did not log in: $STATUS $BODY"
check "the login reply has both tokens and a user id" \
        jqok '(.access_token | length > 0) and (.refresh_token | length > 0) and (.user_id | test("^[0-9a-f]{24}$"))'
FIRST=$UID_
http GET "$BASE/auth/profile" "$AT"
check "the profile shows the custom-token identity" jqok '.identities | length == 1 and .[0].provider_type == "custom-token"
        and (.[0].id | test("^[0-9a-f]{24}$")) and .[0].provider_data.name == "Jean" and .[0].provider_data.team == "blue"'
check "the profile's data has the metadata" jqok '.data.name == "Jean" and .data.email == "jv@example.com"'
IDENTITY=$(jq -r '.identities[0].id' <<<"$BODY")

T2=$(mint 24601 '{"name":"Valjean","email":"jv@example.com","user_data":{"team":"red"}}')
login "$T2"
check "the second login finds the same user" same_user
http GET "$BASE/auth/profile" "$AT"
check "the metadata is refreshed on each login" jqok --arg i "$IDENTITY" \
        '.identities[0].id == $i and .identities[0].provider_data.name == "Valjean" and .data.team == "red"'

# Refused tokens: one answer, 401 AuthError.
# The signature's first character changed (the last one may carry unused bits).
SIG=${T1##*.}
TAMPERED=${T1%.*}.$( [ "${SIG:0:1}" = A ] && echo B || echo A )${SIG:1}
login "$TAMPERED"; check "a tampered token is refused (401 AuthError)" is_error 401 AuthError
login "$(mint 24601 '{"email":"a@b"}' -3600)"; check "an expired token is refused" is_error 401 AuthError
login "$(mint 24601 '{"email":"a@b"}' 600 '"another-app"')"; check "a token for another audience is refused" is_error 401 AuthError
login "$(mint 24601 '{"email":"a@b"}' 600 '"stitch"' 'a-key-nobody-configured-0123456789abcdef')"
check "a token signed with another key is refused" is_error 401 AuthError
login "$(mint 24601 '{"email":"a@b"}' 600 '"stitch"' "$SECRET" none)"; check "an unsigned token (alg none) is refused" is_error 401 AuthError
login "$(mint 24601 '{"name":"no email"}')"; check "a token without a required field is refused" is_error 401 AuthError
http POST "$LOGIN" "" '{"options":{}}'
check "a login body without token is refused (400)" test "$STATUS" = 400

# Another sub is another user; linking it onto the first (never used: merged).
T3=$(mint javert '{"email":"javert@example.com"}')
login "$T1"; AT1=$AT
http POST "$LOGIN?link=true" "$AT1" "$(jq -cn --arg t "$T3" '{token: $t}')"
check "a new custom-token identity links onto a user (?link=true)" test "$STATUS" = 200
http GET "$BASE/auth/profile" "$AT1"
check "the linked user has both identities" jqok '[.identities[].provider_type] == ["custom-token", "custom-token"]'
login "$T3"
check "the linked identity logs in as that user" same_user

for t in "$T1" "$T2" "$T3" "$TAMPERED" "$SECRET"; do
        ! grep -qF -- "$t" "$STITCHD_LOG" || bad "a token or the secret is in the daemon log"
done
ok "no token or secret in the daemon log"
grep -q 'custom-token: token for an app user refused: signature invalid' "$STITCHD_LOG" \
        || bad "the log does not say why the tampered token was refused"

# Off (the default): the provider is not there.
stitch_stop
http_start </dev/null
login "$T1"; check "custom-token is 404 AuthProviderNotFound while disabled" is_error 404 AuthProviderNotFound

stitch_stop
[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
