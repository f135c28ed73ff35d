#!/bin/bash
# Access and refresh tokens: verification, refresh, logout, revocation by
# every route, survival across restarts and SIGKILL, tampering, signing-key
# rotation and JWKS, refresh-token rotation with reuse detection.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_config <<'X'
[Tokens]
RotateRefreshTokens=no
X
stitch_start
stitch_user ada@example.com ada 'ada-password'
stitch_user bob@example.com bob 'bob-password'

login() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u, password:$p, service:"login"}')"; }
verify() { sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$1" '{access_token:$t}')"; }
# Verifies twice with identical replies: the second answer comes from the
# daemon's cache of verified replies, which must not outlive a revocation.
warm() {
        local a b
        a=$(verify "$1") || fail "token does not verify before the test: $a"
        b=$(verify "$1") || fail "token does not verify the second time: $b"
        [ "$a" = "$b" ] || fail "cached Verify reply differs: $a / $b"
}
refresh() { sctl call io.stitch.Token.Refresh "$(jq -cn --arg t "$1" '{refresh_token:$t}')"; }
logout() { sctl call io.stitch.Token.Logout "$(jq -cn --arg t "$1" '{refresh_token:$t}')"; }
field() { jq -r ".parameters.$1" <<<"$2"; }
b64url_json() { # decode a JWT part
        local s=$1; s=${s//-/+}; s=${s//_//}; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
        printf '%s' "$s" | base64 -d 2>/dev/null
}
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

L=$(login ada ada-password) || fail "login"
AT=$(field access_token "$L"); RT=$(field refresh_token "$L"); SID=$(field session_id "$L")

# Claims and header as docs/wire.md and docs/http.md describe them (Stitch's claims).
V=$(verify "$AT") || fail "fresh token does not verify: $V"
for c in sub typ iat exp sid baas_device_id baas_domain_id user_data; do
        jq -e ".parameters.claims | has(\"$c\")" <<<"$V" >/dev/null || fail "claim $c missing"
done
expect_eq "typ" access "$(jq -r .parameters.claims.typ <<<"$V")"
expect_eq "sid" "$SID" "$(jq -r .parameters.claims.sid <<<"$V")"
expect_eq "user" ada "$(jq -r .parameters.user.unix_name <<<"$V")"
hdr=$(b64url_json "${AT%%.*}")
expect_eq "alg" ES256 "$(jq -r .alg <<<"$hdr")"
[ -n "$(jq -r '.kid // empty' <<<"$hdr")" ] || fail "kid missing from header"
exp=$(jq -r .parameters.claims.exp <<<"$V"); iat=$(jq -r .parameters.claims.iat <<<"$V")
expect_eq "access lifetime" 1800 $((exp - iat))
sctl token verify "$AT" >/dev/null || fail "stitchctl token verify"
ok "access token verifies with Stitch's claims, kid and a 30-minute lifetime"

# Tampering: payload, signature, alg=none, HS256 confusion, unknown kid.
IFS=. read -r H P S <<<"$AT"
claims=$(b64url_json "$P")
evil_p=$(jq -c '.sub = "000000000000000000000000"' <<<"$claims" | b64url)
verify "$H.$evil_p.$S" >/dev/null && fail "tampered payload verified"
sig_flip=$(printf '%s' "$S" | sed 's/^./A/;s/^AA/BA/')
[ "$sig_flip" != "$S" ] || sig_flip="B${S:1}"
verify "$H.$P.$sig_flip" >/dev/null && fail "tampered signature verified"
none_h=$(jq -c '.alg = "none"' <<<"$hdr" | b64url)
verify "$none_h.$P." >/dev/null && fail "alg=none verified"
verify "$none_h.$P.$S" >/dev/null && fail "alg=none with a signature verified"
hs_h=$(jq -c '.alg = "HS256"' <<<"$hdr" | b64url)
jwks=$(sctl key jwks --json)
hs_sig=$(printf '%s.%s' "$hs_h" "$P" | openssl dgst -sha256 -mac HMAC -macopt "key:$(jq -r '.keys[0].x' <<<"$jwks")" -binary | b64url)
verify "$hs_h.$P.$hs_sig" >/dev/null && fail "HS256-with-public-key confusion verified"
kid_h=$(jq -c '.kid = "nosuchkey"' <<<"$hdr" | b64url)
verify "$kid_h.$P.$S" >/dev/null && fail "unknown kid verified"
out=$(verify "garbage") && fail "garbage verified"
expect_eq "error" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
ok "tampered, alg=none, algorithm-confused and unknown-kid tokens fail"

# Refresh yields a new, valid access token.
R=$(refresh "$RT") || fail "refresh failed: $R"
AT2=$(field access_token "$R")
verify "$AT2" >/dev/null || fail "refreshed token does not verify"
ok "refresh returns a new access token"

# Logout: refresh token and every access token of the session die at once.
logout "$RT" >/dev/null || fail "logout"
verify "$AT" >/dev/null && fail "access token verifies after logout"
verify "$AT2" >/dev/null && fail "refreshed access token verifies after logout"
out=$(refresh "$RT") && fail "refresh token replayed after logout"
expect_eq "replay error" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
ok "logout kills the refresh token and all access tokens of the session"

# ... and stays dead across a restart and a SIGKILL.
stitch_stop; stitch_start
verify "$AT" >/dev/null && fail "revoked token verifies after restart"
stitch_kill9; stitch_start
verify "$AT2" >/dev/null && fail "revoked token verifies after SIGKILL"
ok "revocations survive restart and SIGKILL"

# CloseSession (the PAM close_session path).
L=$(login ada ada-password); AT=$(field access_token "$L"); SID=$(field session_id "$L")
warm "$AT"
out=$(sctl call io.stitch.Auth.CloseSession "$(jq -cn --arg s "$SID" '{session_id:$s,user:"ada",binding:"stb_wrong"}')") \
        && fail "CloseSession without the session's binding"
expect_eq "CloseSession with a wrong binding" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$out")"
verify "$AT" >/dev/null || fail "a wrong binding ended the session"
sctl call io.stitch.Auth.CloseSession "$(jq -c '{session_id:.parameters.session_id,binding:.parameters.binding,user:"ada"}' <<<"$L")" >/dev/null \
        || fail "CloseSession"
verify "$AT" >/dev/null && fail "token verifies after CloseSession"
ok "CloseSession logs out"

# stitchctl session revoke, user revoke, disable, delete.
L=$(login ada ada-password); AT=$(field access_token "$L"); SID=$(field session_id "$L")
warm "$AT"
sctl session revoke "$SID" >/dev/null || fail "session revoke"
verify "$AT" >/dev/null && fail "token verifies after session revoke"
L1=$(login ada ada-password); L2=$(login ada ada-password)
warm "$(field access_token "$L1")"; warm "$(field access_token "$L2")"
sctl user revoke ada >/dev/null || fail "user revoke"
verify "$(field access_token "$L1")" >/dev/null && fail "token 1 verifies after user revoke"
verify "$(field access_token "$L2")" >/dev/null && fail "token 2 verifies after user revoke"
refresh "$(field refresh_token "$L2")" >/dev/null && fail "refresh after user revoke"
L=$(login ada ada-password); AT=$(field access_token "$L")
warm "$AT"
sctl user disable ada >/dev/null || fail "disable"
verify "$AT" >/dev/null && fail "token verifies after disable"
sctl user enable ada >/dev/null || fail "enable"
verify "$AT" >/dev/null && fail "old token came back after enable"
L=$(login bob bob-password); AT=$(field access_token "$L"); RT=$(field refresh_token "$L")
warm "$AT"
sctl user delete bob >/dev/null || fail "delete"
verify "$AT" >/dev/null && fail "token verifies after delete"
refresh "$RT" >/dev/null && fail "refresh after delete"
stitch_kill9; stitch_start
verify "$AT" >/dev/null && fail "deleted user's token verifies after SIGKILL"
ok "session revoke, user revoke, disable and delete kill tokens at once, durably"

# Signing-key rotation: old tokens keep verifying, new ones use the new kid, JWKS lists both.
L=$(login ada ada-password); AT=$(field access_token "$L"); RT=$(field refresh_token "$L")
old_kid=$(b64url_json "${AT%%.*}" | jq -r .kid)
new_kid=$(sctl key rotate --json | jq -r .kid)
[ -n "$new_kid" ] && [ "$new_kid" != "$old_kid" ] || fail "key rotate did not give a new kid"
verify "$AT" >/dev/null || fail "token signed by the retired key no longer verifies"
AT3=$(field access_token "$(refresh "$RT")")
expect_eq "new kid used" "$new_kid" "$(b64url_json "${AT3%%.*}" | jq -r .kid)"
verify "$AT3" >/dev/null || fail "token signed by the new key does not verify"
jq -e --arg a "$old_kid" --arg b "$new_kid" '[.keys[].kid] | index($a) != null and index($b) != null' \
        <<<"$(sctl key jwks --json)" >/dev/null || fail "JWKS lacks a key"
jq -e '.keys | all(has("d") | not)' <<<"$(sctl key jwks --json)" >/dev/null || fail "JWKS leaks private parts"
ok "key rotation keeps old tokens valid and publishes both public keys"

# Key material on disk: the store is 0600.
expect_eq "store mode" 600 "$(stat -c %a "$T/stitch.db")"
ok "the store holding signing keys is 0600"

# Refresh-token rotation: old refresh tokens die; reusing one revokes the session.
stitch_stop
stitch_config <<'X'
[Tokens]
RotateRefreshTokens=yes
X
stitch_start
L=$(login ada ada-password); RT=$(field refresh_token "$L"); AT=$(field access_token "$L")
R=$(refresh "$RT") || fail "refresh with rotation"
RT2=$(field refresh_token "$R"); AT2=$(field access_token "$R")
[ -n "$RT2" ] && [ "$RT2" != null ] && [ "$RT2" != "$RT" ] || fail "no rotated refresh token"
warm "$AT2"
out=$(refresh "$RT") && fail "old refresh token accepted after rotation"
verify "$AT2" >/dev/null && fail "reuse of an old refresh token must revoke the whole session"
refresh "$RT2" >/dev/null && fail "the rotated token must die with the session"
ok "rotated refresh tokens: reuse of an old one revokes the session"
