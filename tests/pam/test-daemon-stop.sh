#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real stitchd that is stopped (SIGSTOP), killed, or whose socket is gone:
# PAM_AUTHINFO_UNAVAIL within timeout= + 1 s, and back to normal after.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

stitch_config </dev/null
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "socket=$STITCH_SOCKET timeout=1"

pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_SUCCESS"

kill -STOP "$STITCHD_PID"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
expect_within 2000
pam_run --user ada acct
expect_out "acct: PAM_AUTHINFO_UNAVAIL"
expect_within 2000
kill -CONT "$STITCHD_PID"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_SUCCESS"
ok "stopped daemon: AUTHINFO_UNAVAIL within timeout+1 s; fine again after SIGCONT"

stitch_kill9
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
expect_within 2000
ok "killed daemon: AUTHINFO_UNAVAIL"

rm -f "$STITCH_SOCKET"
pam_run --user ada auth <<<"correct horse"
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
expect_within 2000
ok "socket missing: AUTHINFO_UNAVAIL"
