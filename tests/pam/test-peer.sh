#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The module sends nothing, and above all no secret, to a socket whose peer
# is neither root nor daemon_user= (default "stitchd").
. "$(dirname "$0")/pam-lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to run a fake daemon as another user"
nobody_uid=$(id -u nobody 2>/dev/null) || skip "no user 'nobody'"
nobody_gid=$(id -g nobody)

# A directory the unprivileged fake daemon can create its socket in.
mkdir "$T/nobody"
chown "$nobody_uid:$nobody_gid" "$T/nobody"
SOCK=$T/nobody/io.stitch.Auth
LOG=$T/nobody.log
: > "$LOG"
chmod 0666 "$LOG"
REPLY='{"parameters":{"user_id":"u","session_id":"sess_evil","binding":"stb_evil","access_token":"a","refresh_token":"r","allowed":true}}'
fake_start "$SOCK" "$LOG" --uid "$nobody_uid" --gid "$nobody_gid" --reply "$REPLY"
[ "$(stat -c %U "$SOCK")" = nobody ] || fail "the fake socket is not nobody's"

pam_service peer "socket=$SOCK timeout=2"
pam_run --service peer --user ada auth <<<"hunter22-secret"
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
pam_run --service peer --user ada auth <<<"stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
pam_run --service peer --user ada acct
expect_out "acct: PAM_AUTHINFO_UNAVAIL"
pam_run --service peer --user ada chauthtok <<<"old-secret"
expect_out "chauthtok: PAM_AUTHINFO_UNAVAIL"
pam_run --service peer --user ada --env STITCH_SESSION=sess_1 --env STITCH_SESSION_BINDING=stb_1 close
expect_out "close: PAM_SESSION_ERR"
[ ! -s "$LOG" ] || fail "the untrusted peer received: $(tr '\0' '\n' < "$LOG")"
ok "a peer running as nobody gets nothing and the login fails"

# daemon_user=nobody trusts it (so the check is what refused it above).
pam_service peer-trusted "socket=$SOCK timeout=2 daemon_user=nobody"
pam_run --service peer-trusted --user ada auth <<<"hunter22-secret"
expect_out "auth: PAM_SUCCESS"
grep -q 'hunter22-secret' "$LOG" || fail "the trusted peer did not get the login"
ok "daemon_user= names the account the daemon runs as"

# A daemon_user that does not exist trusts only root.
: > "$LOG"
pam_service peer-nouser "socket=$SOCK timeout=2 daemon_user=no-such-user-$$"
pam_run --service peer-nouser --user ada auth <<<"hunter22-secret"
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
[ ! -s "$LOG" ] || fail "sent to an untrusted peer"
ok "an unknown daemon_user trusts only root"
