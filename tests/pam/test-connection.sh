#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One connection to stitchd per PAM transaction: the hooks reuse the one
# authentication opened (the daemon accepts once, not once per hook), a
# forked child opens its own and leaves its parent's alone, and a daemon
# that restarted between two hooks is reconnected to as before.
. "$(dirname "$0")/pam-lib.sh"

LOGIN_OK='{"parameters":{"user_id":"5f1d00000000000000000001","session_id":"sess_abc-123","binding":"stb_binding-1","access_token":"h.p.s","refresh_token":"rt_not_a_real_secret","device_id":"000000000000000000000000","provider_type":"local-userpass","expires":1790000000,"allowed":true}}'

N=0
# with_fake: a fresh fake daemon answering LOGIN_OK to everything, serving
# each connection on its own and counting them in $CONNS (one line each,
# the connecting pid); service "fake" points at it.
with_fake() {
        N=$((N + 1))
        FAKE_SOCK=$T/fake-$N.sock
        CONNS=$T/fake-$N.connections
        : > "$CONNS"
        fake_start "$FAKE_SOCK" "$T/fake-$N.log" --reply "$LOGIN_OK" --connections "$CONNS"
        pam_service fake "socket=$FAKE_SOCK timeout=3"
}
connections() { wc -l < "$CONNS"; }

with_fake
pam_run --service fake --user ada auth acct setcred <<<"hunter22"
[ "$PAM_RC" = 0 ] || fail "login failed"
expect_eq "connections for auth (two rounds), acct, setcred" 1 "$(connections)"
ok "authenticate's connection serves the account hook: one connection"

with_fake
pam_run --service fake --user ada auth acct open close <<<"hunter22"
[ "$PAM_RC" = 0 ] || fail "login failed"
# open_session lets it go (a session may last for hours); close_session
# connects anew and keeps that one until pam_end.
expect_eq "connections for auth, acct, open, close" 2 "$(connections)"
ok "auth, acct and open share one connection, close_session has its own"

with_fake
pam_run --service fake --user ada auth acct refresh chauthtok close <<<"hunter22
old-secret
new-secret-1
new-secret-1"
[ "$PAM_RC" = 0 ] || fail "transaction failed"
expect_eq "connections for auth, acct, refresh, chauthtok, close" 1 "$(connections)"
ok "setcred's refresh, chauthtok and close_session reuse the connection too"

# A child forked between hooks (sshd's privilege separation) must not write
# to its parent's socket: it connects itself, and its pam_end() closes only
# its copy, so the parent's connection goes on.
with_fake
pam_run --service fake --user ada auth fork:acct acct <<<"hunter22"
[ "$PAM_RC" = 0 ] || fail "transaction failed"
expect_out "fork:acct: PAM_SUCCESS"
expect_out "acct: PAM_SUCCESS"
expect_eq "connections (parent's, child's)" 2 "$(connections)"
parent=$(sed -n 1p "$CONNS")
child=$(sed -n 2p "$CONNS")
[ "$parent" != "$child" ] || fail "the child used a connection opened by pid $parent, its parent's"
ok "a forked child opens its own connection; the parent's stays usable"

# A daemon that went away between hooks: the kept connection is seen to be
# closed and a new one is opened, as if none had been kept.
with_fake
first=$FAKE_PID
cat > "$T/replace-fake.sh" <<X
set -e
kill -KILL $first
while [ -d /proc/$first ] && ! grep -q '^State:.*[ZX]' /proc/$first/status 2>/dev/null; do sleep 0.01; done
"$FAKE_STITCHD" --socket "$FAKE_SOCK" --log "$T/fake-replaced.log" --reply '$LOGIN_OK' --connections "$T/replaced.connections" > "$T/replaced.pid"
X
pam_run --service fake --user ada auth "run:sh $T/replace-fake.sh" acct <<<"hunter22"
FAKE_PIDS="$FAKE_PIDS $(cat "$T/replaced.pid" 2>/dev/null)"
expect_out "run: 0"
expect_out "acct: PAM_SUCCESS"
expect_eq "connections to the new daemon" 1 "$(wc -l < "$T/replaced.connections")"
ok "fake daemon replaced between auth and acct: acct connects to the new one"

# The same with the real daemon, restarted between authenticate and the
# account hook: the session from the first daemon goes on in the second.
need_stitchd
stitch_config </dev/null
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "$PAM_ARGS"
cat > "$T/restart.sh" <<X
set -e
old=\$(cat "$T/stitchd.pid")
kill -TERM "\$old"
while kill -0 "\$old" 2>/dev/null; do sleep 0.05; done
"$STITCH_SPAWN" --timeout 30 -- "$STITCHD" --foreground --config "$STITCHD_CONF" 2>>"$STITCHD_LOG" 3>&- </dev/null > "$T/stitchd.pid"
X
echo "$STITCHD_PID" > "$T/stitchd.pid"
pam_run --user ada auth "run:sh $T/restart.sh" acct open close env <<<"correct horse"
STITCHD_PID=$(cat "$T/stitchd.pid")
[ "$STITCHD_PID" != "" ] || fail "no new daemon"
expect_out "run: 0"
expect_out "acct: PAM_SUCCESS"
expect_out "open: PAM_SUCCESS"
expect_out "close: PAM_SUCCESS"
ok "stitchd restarted between auth and acct: acct, open and close work on a new connection"
