#!/bin/bash
# anon-user: off by default; when on, only for listed services and only as UnixUser.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

anon() { sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg s "$2" '{user:$u, service:$s, provider:"anon-user"}')"; }

stitch_start
out=$(anon guest login) && fail "anonymous login allowed by default"
expect_eq "error" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
ok "anonymous logins are off by default"

stitch_stop
stitch_config <<'X'
[Provider.anon-user]
Enabled=yes
UnixUser=guest
Services=login gdm-autologin
X
stitch_start
out=$(anon guest login) || fail "anonymous login for a listed service: $out"
uid1=$(jq -r .parameters.user_id <<<"$out")
expect_eq provider anon-user "$(jq -r .parameters.provider_type <<<"$out")"
uid2=$(anon guest login | jq -r .parameters.user_id)
[ "$uid1" != "$uid2" ] || fail "each anonymous login must create a new user"
expect_eq "identity" anon-user "$(sctl user show "$uid1" --json | jq -r '.user.identities[0].provider_type')"
ok "each anonymous login creates an anon-user user"

out=$(anon guest sshd) && fail "anonymous sshd login allowed"
out=$(anon guest sudo) && fail "anonymous sudo login allowed"
out=$(anon root login) && fail "anonymous login as another Unix user allowed"
ok "anonymous logins only for the listed services and only as UnixUser"

# Verify and Authorize work for the anonymous session.
L=$(anon guest login)
sctl call io.stitch.Token.Verify "$(jq -cn --arg t "$(jq -r .parameters.access_token <<<"$L")" '{access_token:$t}')" >/dev/null \
        || fail "anonymous token does not verify"
sctl call io.stitch.Auth.Authorize "$(jq -c '{user:"guest", service:"login", session_id:.parameters.session_id, binding:.parameters.binding}' <<<"$L")" >/dev/null \
        || fail "Authorize for the anonymous session"
ok "anonymous sessions verify and pass the account check"

# Idle anonymous users (90 days) are deleted by the periodic job (run at start).
sqlite3 "$T/stitch.db" "UPDATE users SET last_authentication_date = strftime('%s','now') - 91*86400, creation_date = strftime('%s','now') - 91*86400 WHERE id = '$uid1'; UPDATE sessions SET last_used = strftime('%s','now') - 91*86400, revoked = 1 WHERE user_id = '$uid1';" \
        || fail "could not age the user"
stitch_stop; stitch_start
sctl user show "$uid1" >/dev/null 2>&1 && fail "idle anonymous user survived"
sctl user show "$uid2" >/dev/null || fail "recent anonymous user was deleted"
ok "anonymous users idle for 90 days are deleted"
