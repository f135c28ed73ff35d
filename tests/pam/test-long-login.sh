#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A real PAM login held open for three access-token lifetimes: inside the
# session, `stitchctl token` keeps handing out a token that verifies, and
# it changes before each expiry without re-authenticating. After
# close_session it fails at once.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"

stitch_config <<'X'
[Tokens]
AccessTokenLifetime=10s
RefreshMargin=4s
X
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service stitch-test "$PAM_ARGS"

# Runs inside the open PAM session (STITCH_SESSION set by pam_stitch).
cat > "$T/inside.sh" <<X
set -e
prev=\$("$STITCHCTL" token)
"$STITCHCTL" token verify "\$prev" >/dev/null
start=\$(date +%s); n=0
while [ \$(( \$(date +%s) - start )) -lt 31 ]; do
        next=\$("$STITCHCTL" token --wait-refresh --timeout 15)
        [ "\$next" != "\$prev" ]
        "$STITCHCTL" token verify "\$next" >/dev/null
        "$STITCHCTL" token verify "\$prev" >/dev/null   # the previous one has not expired yet
        prev=\$next; n=\$((n + 1))
done
echo "\$prev" > "$T/last-token"
echo "\$n" > "$T/refreshes"
X
pam_run --user ada --tty pts/7 auth acct open "run:bash $T/inside.sh" close <<<"correct horse"
[ "$PAM_RC" = 0 ] || fail "the held-open login failed"
expect_out "run: 0"
n=$(cat "$T/refreshes")
[ "$n" -ge 4 ] || fail "only $n refreshes over three lifetimes"
if sctl token verify "$(cat "$T/last-token")" >/dev/null 2>&1; then
        fail "the last token still verifies after close_session"
fi
ok "a PAM login held open for 3 lifetimes: $n refreshes, always valid, dead after close"
