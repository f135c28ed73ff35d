#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# R5 of the second review (docs/security.md): a key minted by an API-key
# session outlived the key. Someone holding a leaked server key logged in
# with it over HTTP and minted user keys of the server user
# (POST auth/api_keys with that session's refresh token); after
# `stitchctl apikey delete` of the leaked key, its session kept refreshing
# and the minted keys kept logging in as the server user.
#
# Through the real path: a real stitchd with [Http], curl, stitchctl and
# the raw varlink wire (stitchctl call). Checks: a session an API key
# opened may not create keys (403 AuthError, nothing created), for a
# server key and for a user key; a user's password session still may;
# deleting or disabling a key ends the sessions it opened at once (refresh
# and access token refused) over stitchctl, the admin wire and the HTTP
# DELETE / disable routes, and no other session; enabling ends nothing.
# Each check reports and the test goes on; it fails if any failed. No
# sleeps, no timing.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
command -v curl >/dev/null || skip "curl is not installed"

http_start <<X
AppId=stitch
X

# key_login KEY AT_VAR RT_VAR: logs in over HTTP with an API key; the
# session's access and refresh tokens go to the variables named
key_login() {
        http POST "$APP/auth/providers/api-key/login" "" "$(jq -cn --arg k "$1" '{key: $k}')"
        [ "$STATUS" = 200 ] || fail "api-key login: $STATUS $BODY"
        printf -v "$2" '%s' "$(jq -r .access_token <<<"$BODY")"
        printf -v "$3" '%s' "$(jq -r .refresh_token <<<"$BODY")"
}
# The session is over: its refresh token and its access token are refused.
ended() {
        http POST "$BASE/auth/session" "$2"
        [ "$STATUS" = 401 ] && [ "$(jq -r .error_code <<<"$BODY")" = InvalidSession ] || return 1
        http GET "$BASE/auth/profile" "$1"
        [ "$STATUS" = 401 ]
}
alive() {
        http POST "$BASE/auth/session" "$2"
        [ "$STATUS" = 201 ] || return 1
        http GET "$BASE/auth/profile" "$1"
        [ "$STATUS" = 200 ]
}
refused_403() { [ "$STATUS" = 403 ] && [ "$(jq -r .error_code <<<"$BODY")" = AuthError ]; }
key_count() { sctl apikey list ${1:+--user "$1"} --json | jq '.api_keys | length'; }

# ---- the attack: a leaked server key mints a key of its own ------------------
SK=$(sctl apikey add --server --name leaked --json | jq -r .key)
SKID=$(sctl apikey list --json | jq -r '.api_keys[] | select(.name == "leaked") | ._id')
[ -n "$SKID" ] || fail "no server key"
key_login "$SK" S_AT S_RT
http POST "$BASE/auth/api_keys" "$S_RT" '{"name":"minted"}'
check "a server key's session may not create a key (403 AuthError)" refused_403
MINTED=$(jq -r '.key // empty' <<<"$BODY")
check "no key was minted" test "$(key_count)" = 1
sctl apikey delete "$SKID" >"$T/out" || fail "stitchctl apikey delete failed"
check "stitchctl apikey delete says the key's session ended" grep -q "1 session it opened ended" "$T/out"
check "the leaked key's session ended with the key" ended "$S_AT" "$S_RT"
if [ -n "$MINTED" ]; then
        http POST "$APP/auth/providers/api-key/login" "" "$(jq -cn --arg k "$MINTED" '{key: $k}')"
        check "a key minted with the leaked key does not log in after its deletion" test "$STATUS" = 401
fi

# ---- user keys -------------------------------------------------------------------
printf 'ada-secret-1' | sctl user add --email ada@example.com --password-stdin >/dev/null || fail "user add"
http POST "$APP/auth/providers/local-userpass/login" "" '{"username":"ada@example.com","password":"ada-secret-1"}'
[ "$STATUS" = 200 ] || fail "password login: $STATUS $BODY"
P_AT=$(jq -r .access_token <<<"$BODY") P_RT=$(jq -r .refresh_token <<<"$BODY")
# mint NAME KEY_VAR ID_VAR: the password session creates key NAME; the key
# and its id go to the variables named
mint() {
        http POST "$BASE/auth/api_keys" "$P_RT" "{\"name\":\"$1\"}"
        [ "$STATUS" = 201 ] || fail "a password session could not create key $1: $STATUS $BODY"
        printf -v "$2" '%s' "$(jq -r .key <<<"$BODY")"
        printf -v "$3" '%s' "$(jq -r ._id <<<"$BODY")"
}
mint one K1 K1ID
key_login "$K1" A1 R1
key_login "$K1" A1b R1b
http POST "$BASE/auth/api_keys" "$R1" '{"name":"child"}'
check "a user key's session may not create a key (403 AuthError)" refused_403
check "no child key" test "$(key_count ada@example.com)" = 1

# varlink admin, raw wire: ApiKeyDisable ends both sessions and names them
stitch_call io.stitch.Admin.ApiKeyDisable "{\"id\":\"$K1ID\"}" --json >"$T/reply" || fail "ApiKeyDisable failed"
check "ApiKeyDisable reports the two sessions it ended" \
        jq -e '(.. | objects | select(has("revoked_sessions")) | .revoked_sessions | length) == 2' "$T/reply"
check "disabling a key ended its first session" ended "$A1" "$R1"
check "disabling a key ended its second session" ended "$A1b" "$R1b"
check "the password session lives on" alive "$P_AT" "$P_RT"
stitch_call io.stitch.Admin.ApiKeyEnable "{\"id\":\"$K1ID\"}" >/dev/null || fail "ApiKeyEnable failed"
key_login "$K1" A1 R1
stitch_call io.stitch.Admin.ApiKeyDelete "{\"id\":\"$K1ID\"}" >/dev/null || fail "ApiKeyDelete failed"
check "ApiKeyDelete ended the key's session" ended "$A1" "$R1"

# HTTP PUT .../disable and DELETE, by the password session
mint two K2 K2ID
mint three K3 K3ID
key_login "$K2" A2 R2
key_login "$K3" A3 R3
http PUT "$BASE/auth/api_keys/$K2ID/disable" "$P_RT"
[ "$STATUS" = 204 ] || fail "PUT disable: $STATUS $BODY"
check "HTTP disable ended the key's session" ended "$A2" "$R2"
check "HTTP disable left another key's session" alive "$A3" "$R3"
http PUT "$BASE/auth/api_keys/$K2ID/enable" "$P_RT"
[ "$STATUS" = 204 ] || fail "PUT enable: $STATUS $BODY"
check "enabling a key ends nothing" alive "$A3" "$R3"
http DELETE "$BASE/auth/api_keys/$K3ID" "$P_RT"
[ "$STATUS" = 204 ] || fail "DELETE: $STATUS $BODY"
check "HTTP DELETE ended the key's session" ended "$A3" "$R3"
check "the password session still lives" alive "$P_AT" "$P_RT"

# The store says why.
check "the ended sessions say \"apikey\"" \
        test "$(sctl session list --user ada@example.com --all --json 2>/dev/null \
                | jq '[.sessions[] | select(.revoked_reason == "apikey")] | length')" = 5

[ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
