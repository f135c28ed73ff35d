#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# stitchd under valgrind (memcheck): a representative flow (users, logins
# good and bad, tokens, refresh, API keys, sessions, revocation, disable,
# delete, key rotation, hostile input), then SIGTERM. Fails on any memcheck
# error and on any definitely lost block at exit (--errors-for-leak-kinds=
# definite --error-exitcode=1), and if the daemon does not exit 0.
# Needs a build without sanitizers (valgrind and ASan do not mix).
# STITCH_RELIABILITY_LONG=1 repeats the flow 5 times on one daemon.
. "$top_srcdir/tests/reliability/rel-lib.sh"
command -v valgrind >/dev/null || skip "valgrind is not installed"
if ldd "$STITCHD" 2>/dev/null | grep -q 'libasan\|libubsan' || nm "$STITCHD" 2>/dev/null | grep -q '__asan_init'; then
        skip "stitchd is built with sanitizers; valgrind needs a plain build"
fi
ROUNDS=1; [ -n "$REL_LONG" ] && ROUNDS=5

stitch_config <<'X'
[Limits]
MaxFailures=1000
X
REL_SPAWN_TIMEOUT=300 rel_spawn "${STITCH_MEMCHECK[@]}" "$STITCHD" --foreground --config "$STITCHD_CONF" \
        || fail "stitchd did not become ready under valgrind"

call() { rel_call "$@"; }
must() { # must WHAT REPLY: an acknowledged reply
        [ -n "$2" ] && [ -z "$(rel_err "$2")" ] || fail "$1: $2"
}
refuse() { # refuse WHAT REPLY EXPECTED_ERROR
        expect_eq "$1" "$3" "$(rel_err "$2")"
}

for round in $(seq 1 "$ROUNDS"); do
        u=ada$round
        must "user add" "$(call io.stitch.Admin.UserCreate "{\"email\":\"$u@example.com\",\"unix_name\":\"$u\",\"password\":\"$u-password\",\"name\":\"Ada $round\"}")"
        must "user add 2" "$(call io.stitch.Admin.UserCreate "{\"email\":\"bob$round@example.com\",\"unix_name\":\"bob$round\",\"password\":\"bob-password\"}")"
        refuse "duplicate user" "$(call io.stitch.Admin.UserCreate "{\"email\":\"$u@example.com\",\"password\":\"x-password\"}")" io.stitch.Error.InvalidParameter
        L=$(call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")"); must login "$L"
        AT=$(rel_param "$L" access_token); RT=$(rel_param "$L" refresh_token); SID=$(rel_param "$L" session_id)
        refuse "wrong password" "$(call io.stitch.Auth.Login "$(rel_login_json "$u" wrong-password)")" io.stitch.Error.InvalidCredentials
        refuse "unknown user" "$(call io.stitch.Auth.Login "$(rel_login_json nobody-$round some-password)")" io.stitch.Error.InvalidCredentials
        must verify "$(call io.stitch.Token.Verify "$(jq -cn --arg t "$AT" '{access_token:$t}')")"
        R=$(call io.stitch.Token.Refresh "$(jq -cn --arg t "$RT" '{refresh_token:$t}')"); must refresh "$R"
        must "token get" "$(call io.stitch.Token.Get "$(jq -cn --arg s "$SID" '{session_id:$s}')")"
        must authorize "$(call io.stitch.Auth.Authorize "$(jq -c --arg u "$u" '{user:$u,service:"login",session_id:.parameters.session_id,binding:.parameters.binding}' <<<"$L")")"
        must "open session" "$(call io.stitch.Auth.OpenSession "$(jq -c --arg u "$u" '{session_id:.parameters.session_id,binding:.parameters.binding,user:$u,tty:"pts/1"}' <<<"$L")")"
        must "change password" "$(call io.stitch.Auth.ChangePassword "$(jq -cn --arg u "$u" --arg o "$u-password" '{user:$u,old_password:$o,new_password:"new-password-1",service:"passwd"}')")"
        must "set password" "$(call io.stitch.Admin.UserSetPassword "$(jq -cn --arg u "$u" --arg p "$u-password" '{user:$u,password:$p}')")"
        K=$(call io.stitch.Admin.ApiKeyCreate "{\"user\":\"$u\",\"name\":\"k$round\"}"); must "key create" "$K"
        KEY=$(rel_param "$K" key); KID=$(rel_param "$K" _id)
        must "key login" "$(call io.stitch.Auth.Login "$(jq -cn --arg u "$u" --arg k "$KEY" '{user:$u,key:$k,service:"login"}')")"
        must "key list" "$(call io.stitch.Admin.ApiKeyList "{\"user\":\"$u\"}")"
        must "key disable" "$(call io.stitch.Admin.ApiKeyDisable "$(jq -cn --arg i "$KID" '{id:$i}')")"
        refuse "disabled key" "$(call io.stitch.Auth.Login "$(jq -cn --arg u "$u" --arg k "$KEY" '{user:$u,key:$k,service:"login"}')")" io.stitch.Error.InvalidCredentials
        must "key delete" "$(call io.stitch.Admin.ApiKeyDelete "$(jq -cn --arg i "$KID" '{id:$i}')")"
        must "server key" "$(call io.stitch.Admin.ApiKeyCreate "{\"server\":true,\"name\":\"srv$round\",\"unix_name\":\"svc$round\"}")"
        must "user list" "$(call io.stitch.Admin.UserList '{}')"
        must "user get" "$(call io.stitch.Admin.UserGet "{\"user\":\"$u\"}")"
        must "session list" "$(call io.stitch.Admin.SessionList "{\"user\":\"$u\",\"include_revoked\":true}")"
        must "user revoke" "$(call io.stitch.Admin.UserRevoke "{\"user\":\"$u\"}")"
        refuse "revoked token" "$(call io.stitch.Token.Verify "$(jq -cn --arg t "$AT" '{access_token:$t}')")" io.stitch.Error.SessionInvalid
        refuse "revoked refresh" "$(call io.stitch.Token.Refresh "$(jq -cn --arg t "$RT" '{refresh_token:$t}')")" io.stitch.Error.SessionInvalid
        L=$(call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")"); must "login 2" "$L"
        must "session revoke" "$(call io.stitch.Admin.SessionRevoke "$(jq -cn --arg s "$(rel_param "$L" session_id)" '{session_id:$s}')")"
        L=$(call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")"); must "login 3" "$L"
        must logout "$(call io.stitch.Token.Logout "$(jq -cn --arg t "$(rel_param "$L" refresh_token)" '{refresh_token:$t}')")"
        L=$(call io.stitch.Auth.Login "$(rel_login_json "$u" "$u-password")"); must "login 4" "$L"
        must "close session" "$(call io.stitch.Auth.CloseSession "$(jq -c --arg u "$u" '{session_id:.parameters.session_id,binding:.parameters.binding,user:$u}' <<<"$L")")"
        must disable "$(call io.stitch.Admin.UserDisable "{\"user\":\"bob$round\"}")"
        refuse "disabled login" "$(call io.stitch.Auth.Login "$(rel_login_json "bob$round" bob-password)")" io.stitch.Error.InvalidCredentials
        must enable "$(call io.stitch.Admin.UserEnable "{\"user\":\"bob$round\"}")"
        must delete "$(call io.stitch.Admin.UserDelete "{\"user\":\"bob$round\"}")"
        must "key rotate" "$(call io.stitch.Admin.KeyRotate '{}')"
        must "key list" "$(call io.stitch.Admin.KeyList '{}')"
        must jwks "$(call io.stitch.Token.Jwks '{}')"
        must status "$(call io.stitch.Admin.Status '{}')"
        # Hostile input on the same daemon.
        printf 'not json\0' | "$RAW" "$STITCH_SOCKET" >/dev/null
        printf '{"method":"io.stitch.Auth.Login","parameters":{"user":"x","user":"y"}}\0' | "$RAW" "$STITCH_SOCKET" >/dev/null
        { printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":'; head -c 3000 /dev/zero | tr '\0' '['; printf '}}\0'; } | "$RAW" "$STITCH_SOCKET" >/dev/null
        { printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":"'; head -c 65536 /dev/zero | tr '\0' a; printf '"}}\0'; } | "$RAW" "$STITCH_SOCKET" >/dev/null
        printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":"a.b.c"}}\0{"method":"io.stitch.Auth.Login","para' | "$RAW" "$STITCH_SOCKET" 300 >/dev/null
        printf '{"method":"io.stitch.Token.Verify","parameters":{"access_token":"%s.%s.x"}}\0' "$(printf '{"alg":"none"}' | base64 -w0)" "$(printf '{"sub":"x"}' | base64 -w0)" | "$RAW" "$STITCH_SOCKET" >/dev/null
        echo "# round $round done"
done

status=$(rel_stop)
cat "$T"/valgrind.*.log > "$T/valgrind.all" 2>/dev/null
expect_eq "exit status under valgrind (1 = memcheck errors or definite leaks)" 0 "$status"
if [ -s "$T/valgrind.all" ]; then
        cat "$T/valgrind.all" >&2
        grep -qE 'Invalid|uninitialised|definitely lost|Mismatched|overlap' "$T/valgrind.all" && fail "valgrind reported errors"
fi
ok "$ROUNDS round(s) of the full flow under valgrind: no memcheck error, no definite leak, exit 0"
