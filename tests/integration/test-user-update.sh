#!/bin/bash
# io.stitch.Admin.UserUpdate and "stitchctl user update": an admin gives a
# user a Unix name (a user first made by an app login gets a PAM login),
# renames or removes it, sets or clears the display name. The old name no
# longer maps, a taken or invalid name is refused, a change of the Unix
# name ends the user's sessions, and only the admin socket's callers may.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_start

login() { # USER PASSWORD
        sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" \
                '{user:$u, password:$p, service:"login", provider:"local-userpass"}')"
}
# run EXPECTED_STATUS CMD...: stdout in $OUT, stderr in $ERR
OUT=$T/out
ERR=$T/err
run() {
        local want=$1 rc=0
        shift
        "$@" >"$OUT" 2>"$ERR" || rc=$?
        [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$OUT" "$ERR")"
}

printf 'eve-secret' | sctl user add --email eve@example.com --password-stdin >/dev/null || fail "user add"
stitch_user ada@example.com ada 'ada-secret'

# No Unix name: no PAM login by any name.
login eve 'eve-secret' >/dev/null 2>&1 && fail "a user without a unix_name logged in as eve"

# Set one: the login as that name works.
run 0 sctl --json user update eve@example.com --unix-name eve
expect_eq "unix_name" eve "$(jq -r .user.unix_name "$OUT")"
expect_eq "revoked_sessions" 0 "$(jq '.revoked_sessions | length' "$OUT")"
out=$(login eve 'eve-secret') || fail "login as the new unix_name failed: $out"
session=$(jq -r .parameters.session_id <<<"$out")
refresh=$(jq -r .parameters.refresh_token <<<"$out")
grep -q "User [0-9a-f]*: unix name (none) -> eve by uid $(id -u)" "$STITCHD_LOG" || fail "the change was not logged"
ok "a unix_name given to a user without one makes a PAM-like login"

# Rename: the old name no longer maps, the new one does, the session opened
# as the old name ended.
run 0 sctl --json user update eve --unix-name eve2
expect_eq "renamed" eve2 "$(jq -r .user.unix_name "$OUT")"
expect_eq "revoked" "$session" "$(jq -r '.revoked_sessions | join(" ")' "$OUT")"
sctl call io.stitch.Token.Refresh "$(jq -cn --arg t "$refresh" '{refresh_token:$t}')" >/dev/null 2>&1 \
        && fail "a session opened as the old unix_name still refreshes"
login eve 'eve-secret' >/dev/null 2>&1 && fail "the old unix_name still logs in"
login eve2 'eve-secret' >/dev/null || fail "login as the renamed unix_name failed"
sctl user show eve >/dev/null 2>&1 && fail "the old unix_name still names the user"
grep -q "unix name eve -> eve2 by uid $(id -u); 1 session revoked" "$STITCHD_LOG" || fail "rename not logged"
ok "a rename moves the login to the new name and ends the sessions of the old"

# The same name again changes nothing and ends nothing.
login eve2 'eve-secret' >/dev/null || fail "login as eve2"
run 0 sctl --json user update eve2 --unix-name eve2
expect_eq "same name: revoked" 0 "$(jq '.revoked_sessions | length' "$OUT")"
ok "setting the unix_name it has ends no session"

# Another user's name: refused, InvalidParameter on unix_name, as UserCreate.
run 1 sctl user update eve2 --unix-name ada
[ "$(wc -l <"$ERR")" = 1 ] || fail "not one line: $(cat "$ERR")"
reply=$(sctl call io.stitch.Admin.UserUpdate '{"user":"eve2","unix_name":"ada"}' 2>&1) && fail "taken name accepted"
grep -q 'InvalidParameter' <<<"$reply" || fail "taken name: $reply"
grep -q '"parameter": *"unix_name"' <<<"$reply" || fail "taken name names no parameter: $reply"
login ada 'ada-secret' >/dev/null || fail "ada lost her login"
ok "another user's unix_name is refused"

# Invalid names: refused with the name rules' words.
for bad in Eve 'e ve' '-eve' 'eve:x' "$(printf 'a%.0s' $(seq 1 33))" '../x'; do
        reply=$(sctl call io.stitch.Admin.UserUpdate "$(jq -cn --arg n "$bad" '{user:"eve2", unix_name:$n}')" 2>&1) \
                && fail "invalid unix_name '$bad' accepted"
        grep -q '"parameter": *"unix_name"' <<<"$reply" || fail "invalid '$bad': $reply"
done
run 1 sctl user update eve2 --unix-name 'Not Valid'
login eve2 'eve-secret' >/dev/null || fail "a refused change broke the login"
ok "invalid unix_names are refused"

# Unknown user; nothing to change; usage errors.
run 1 sctl user update nobody@example.com --unix-name zed
grep -q 'no such user' "$ERR" || fail "unknown user: $(cat "$ERR")"
run 2 sctl user update eve2
run 2 sctl user update eve2 --unix-name x --no-unix-name
run 2 sctl user update eve2 --name x --no-name
run 2 sctl user update --unix-name x
run 2 sctl user update eve2 --email x@example.com
reply=$(sctl call io.stitch.Admin.UserUpdate '{"user":"eve2"}' 2>&1) && fail "an empty change was accepted"
reply=$(sctl call io.stitch.Admin.UserUpdate '{"user":"eve2","email":"x@example.com"}' 2>&1) \
        && fail "email was accepted"
run 0 sctl user update --help
grep -q -- '--no-unix-name' "$OUT" || fail "--help lacks --no-unix-name"
ok "unknown users, empty changes and usage errors are refused"

# Display name: set, then cleared (user.name and data.name).
run 0 sctl --json user update eve2 --name 'Eve Example'
expect_eq "name" 'Eve Example' "$(jq -r .user.data.name "$OUT")"
expect_eq "email kept" eve@example.com "$(jq -r .user.data.email "$OUT")"
expect_eq "name change ends nothing" 0 "$(jq '.revoked_sessions | length' "$OUT")"
run 0 sctl --json user update eve2 --no-name
expect_eq "name cleared" null "$(jq -c .user.data.name "$OUT")"
expect_eq "email still kept" eve@example.com "$(jq -r .user.data.email "$OUT")"
run 0 sctl user update eve2 --name Eve
grep -q 'Eve' "$OUT" || fail "text output lacks the name"
ok "the display name is set and cleared"

# Removal: no login by name any more; the user stays.
run 0 sctl --json user update eve2 --no-unix-name
expect_eq "removed" null "$(jq -c '.user.unix_name // null' "$OUT")"
live=$(sctl --json session list --user eve@example.com | jq '.sessions | length')
expect_eq "no live session after the removal" 0 "$live"
[ "$(jq '.revoked_sessions | length' "$OUT")" -ge 1 ] || fail "the removal ended no session: $(cat "$OUT")"
login eve2 'eve-secret' >/dev/null 2>&1 && fail "a removed unix_name still logs in"
sctl user show eve@example.com >/dev/null || fail "the user went with its unix_name"
reply=$(sctl call io.stitch.Admin.UserUpdate '{"user":"eve@example.com","unix_name":"eve3"}') || fail "$reply"
reply=$(sctl call io.stitch.Admin.UserUpdate '{"user":"eve3","unix_name":""}') || fail "\"\" removes: $reply"
expect_eq "\"\" removes" null "$(jq -c '.parameters.user.unix_name // null' <<<"$reply")"
ok "--no-unix-name (and \"\" or null) removes the unix_name"

# The admin socket's callers only: a non-root caller is refused.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
        # Past the socket's mode (root's alone), so that the daemon's own check answers.
        chmod o+x "$T" "$(dirname "$STITCH_ADMIN_SOCKET")" && chmod 0666 "$STITCH_ADMIN_SOCKET" || fail "chmod"
        setpriv --reuid=65534 --regid=65534 --clear-groups -- "$STITCHCTL" \
                user update eve@example.com --unix-name mallory >/dev/null 2>&1 \
                && fail "uid 65534 changed a unix_name"
        grep -q "Refused admin call io.stitch.Admin.UserUpdate from uid 65534" "$STITCHD_LOG" \
                || fail "the daemon did not refuse the call itself"
        sctl user show mallory >/dev/null 2>&1 && fail "the non-root change took effect"
        ok "a non-root caller cannot change a unix_name"
else
        echo "# not root: the non-root caller check is skipped"
fi

stitch_stop
