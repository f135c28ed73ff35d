#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# No daemon, a silent one, one that hangs up or answers garbage: every hook
# fails closed with PAM_AUTHINFO_UNAVAIL (or the hook's own failure code)
# within timeout= seconds, never with success.
. "$(dirname "$0")/pam-lib.sh"

TIMEOUT=1
LIMIT_MS=$(( (TIMEOUT + 1) * 1000 ))

# unavailable NAME SOCKET: every hook fails, fast enough.
unavailable() {
        local name=$1 sock=$2
        pam_service "$name" "socket=$sock timeout=$TIMEOUT"
        pam_run --service "$name" --user ada auth <<<"hunter22"
        expect_out "auth: PAM_AUTHINFO_UNAVAIL"
        expect_within $LIMIT_MS
        pam_run --service "$name" --user ada auth <<<"stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        expect_out "auth: PAM_AUTHINFO_UNAVAIL"
        expect_within $LIMIT_MS
        pam_run --service "$name" --user ada acct
        expect_out "acct: PAM_AUTHINFO_UNAVAIL"
        expect_within $LIMIT_MS
        pam_run --service "$name" --user ada --env STITCH_SESSION=sess_1 --env STITCH_SESSION_BINDING=stb_1 open
        expect_out "open: PAM_SESSION_ERR"
        expect_within $LIMIT_MS
        pam_run --service "$name" --user ada --env STITCH_SESSION=sess_1 --env STITCH_SESSION_BINDING=stb_1 close
        expect_out "close: PAM_SESSION_ERR"
        expect_within $LIMIT_MS
        pam_run --service "$name" --user ada chauthtok <<<"old-secret"
        expect_out "chauthtok: PAM_AUTHINFO_UNAVAIL"
        expect_within $LIMIT_MS
}

unavailable missing "$T/no-such-socket"
ok "socket missing: AUTHINFO_UNAVAIL"

mkdir "$T/dir"
unavailable directory "$T/dir"
ok "socket path is a directory: AUTHINFO_UNAVAIL"

# A socket file nobody listens on any more: ECONNREFUSED.
fake_start "$T/stale.sock" "$T/stale.log"
kill_and_wait "$FAKE_PID"
[ -S "$T/stale.sock" ] || fail "no stale socket left behind"
unavailable stale "$T/stale.sock"
ok "stale socket (connection refused): AUTHINFO_UNAVAIL"

fake_start "$T/silent.sock" "$T/silent.log" --mode silent
unavailable silent "$T/silent.sock"
# It waited for the answer until the deadline, not less.
pam_run --service silent --user ada acct
[ "$PAM_MS" -ge $((TIMEOUT * 1000 - 50)) ] || fail "gave up after $PAM_MS ms, before the timeout"
ok "silent daemon: AUTHINFO_UNAVAIL after timeout=$TIMEOUT"

fake_start "$T/close.sock" "$T/close.log" --mode close
unavailable close "$T/close.sock"
ok "daemon hangs up: AUTHINFO_UNAVAIL"

fake_start "$T/garbage.sock" "$T/garbage.log" --mode garbage
unavailable garbage "$T/garbage.sock"
ok "garbage replies: AUTHINFO_UNAVAIL"

fake_start "$T/nojson.sock" "$T/nojson.log" --reply '[1,2,3]'
unavailable nojson "$T/nojson.sock"
fake_start "$T/nonul.sock" "$T/nonul.log" --reply '{"parameters":{"allowed":true}} {"x":1}'
unavailable nonul "$T/nonul.sock"
ok "replies that are not one JSON object: AUTHINFO_UNAVAIL"

# A silent daemon with the default timeout is given 5 s, not forever.
pam_service default-timeout "socket=$T/silent.sock"
pam_run --service default-timeout --user ada acct
expect_out "acct: PAM_AUTHINFO_UNAVAIL"
[ "$PAM_MS" -ge 4900 ] && [ "$PAM_MS" -lt 6000 ] || fail "default timeout took $PAM_MS ms"
ok "default timeout is 5 s"
