#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Anonymous logins map only to [Provider.anon-user] UnixUser= and only for
# the services listed there.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

stitch_config <<'X'
[Provider.anon-user]
Enabled=yes
UnixUser=guest
Services=login
X
stitch_start
pam_service login "$PAM_ARGS provider=anon-user"
pam_service sshd "$PAM_ARGS provider=anon-user"

pam_run --service login --user guest auth open env close </dev/null
[ "$PAM_RC" = 0 ] || fail "anonymous login refused"
expect_no_out "prompt:"
[ -n "$(pam_session_id)" ] || fail "no STITCH_SESSION for the anonymous session"
ok "anonymous login as the guest account through login, without a prompt"

pam_run --service sshd --user guest auth </dev/null
expect_out "auth: PAM_AUTH_ERR"
ok "anonymous login refused for a service not listed"

pam_run --service login --user ada auth </dev/null
expect_out "auth: PAM_AUTH_ERR"
pam_run --service login --user root auth </dev/null
expect_out "auth: PAM_AUTH_ERR"
ok "anonymous login refused for any other account"
