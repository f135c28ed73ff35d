#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# open_session registers the login and exports STITCH_SESSION; inside the
# session the access token verifies; close_session ends it, and the token
# stops verifying at once.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

stitch_config </dev/null
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "$PAM_ARGS"

pam_run --user ada --tty pts/4 auth acct setcred open env \
        "run:$STITCHCTL token --session \"\$STITCH_SESSION\" > $T/token && $STITCHCTL token verify \"\$(cat $T/token)\" >/dev/null" \
        refresh close env delcred <<<"correct horse"
[ "$PAM_RC" = 0 ] || fail "session failed"
expect_out "run: 0"
expect_out "env: STITCH_SESSION unset"
SID=$(printf '%s\n' "$PAM_OUT" | sed -n 's/^env: STITCH_SESSION=//p' | head -n 1)
[ -n "$SID" ] || fail "STITCH_SESSION was not set"
[ -s "$T/token" ] || fail "no access token inside the session"
if sctl token verify "$(cat "$T/token")" >/dev/null 2>&1; then
        fail "the access token still verifies after close_session"
fi
ok "STITCH_SESSION set, token valid inside the session, dead after close"

# close_session in another process than authenticate and open_session:
# the session id alone (STITCH_SESSION, which the user's own environment
# and ~/.pam_environment can set) is never enough to act on a session; the
# binding from Login is, and open_session took it out of the environment.
# So another process with only the id leaves the session alone. The first
# process stays alive meanwhile (stitchd logs out sessions whose login
# process exits).
cat > "$T/other-process.sh" <<X
set -e
token=\$("$STITCHCTL" token --session "\$STITCH_SESSION")
"$STITCHCTL" token verify "\$token" >/dev/null
[ -z "\${STITCH_SESSION_BINDING:-}" ]
"$PAM_TEST" --confdir "$PAM_DIR" --user ada --env "STITCH_SESSION=\$STITCH_SESSION" close > "$T/close.out" || true
"$STITCHCTL" token verify "\$token" >/dev/null
X
pam_run --user ada auth acct open "run:sh $T/other-process.sh" close <<<"correct horse"
expect_out "run: 0"
expect_out "close: PAM_SUCCESS"
# (pam_stitch ignores it; alone in the stack libpam turns that into PAM_PERM_DENIED)
grep -qxF "close: PAM_SUCCESS" "$T/close.out" && fail "close in the other process: $(cat "$T/close.out")"
ok "the session's environment has no binding; close_session elsewhere with only STITCH_SESSION does nothing"

# A revoked session cannot be refreshed.
pam_run --user ada auth "run:$STITCHCTL user revoke ada >/dev/null" refresh <<<"correct horse"
expect_out "refresh: PAM_CRED_ERR"
ok "setcred(PAM_REFRESH_CRED) fails once the session is revoked"
