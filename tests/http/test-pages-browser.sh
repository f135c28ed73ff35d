#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The built-in confirm and reset pages in a real headless browser (Debian's
# chromium, driven by puppeteer-core from npm, installed into this test's
# temp dir), with a real SMTP server (aiosmtpd) delivering the links: open
# the reset link, type a new password, submit, see success, then log in
# with it through PAM (real libpam, pam_stitch.so); register, open the
# confirmation link, confirm, and log in over HTTP.
. "$(dirname "$0")/../pam/pam-lib.sh"
. "$top_srcdir/tests/http/http-lib.sh"
need_stitchd
command -v curl >/dev/null || skip "curl is not installed"
command -v jq >/dev/null || skip "jq is not installed"
command -v node >/dev/null || skip "node is not installed"
command -v npm >/dev/null || skip "npm is not installed"
CHROMIUM=$(command -v chromium || true)
[ -x "$CHROMIUM" ] || skip "chromium is not installed (Debian: apt-get install chromium)"
mkdir -p "$T/npm"
printf '{"name": "stitch-pages-test", "private": true}\n' >"$T/npm/package.json"
if ! (cd "$T/npm" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 300 npm install --no-audit --no-fund --no-save --loglevel=error \
        puppeteer-core@22.15.0) >"$T/npm.log" 2>&1; then
        cat "$T/npm.log" >&2
        fail "npm install puppeteer-core failed"
fi

smtp_sink_start pam_cleanup
browser() { (cd "$T" && HOME=$T node "$top_srcdir/tests/http/pages-browser.js" "$T/npm/node_modules" "$CHROMIUM" "$@") \
        || fail "the browser run failed"; }

http_start <<X
[Provider.local-userpass]
Registration=yes
[Smtp]
URL=smtp://127.0.0.1:$SINK_PORT
From=noreply@example.com
X

# ---- reset in the browser, then a PAM login with the new password ------------------------
stitch_local_account ACCOUNT
printf '%s' 'old-pw-for-pam' | sctl user add --email "$ACCOUNT@example.org" --unix-name "$ACCOUNT" --password-stdin \
        >/dev/null || fail "could not create the user"
pam_service login $PAM_ARGS
http POST "$APP/auth/providers/local-userpass/reset/send" "" "{\"email\":\"$ACCOUNT@example.org\"}"
[ "$STATUS" = 200 ] || fail "reset/send: $STATUS $BODY"
browser reset "$(link_of "$(mail_n 1)")" 'new-pw-from-the-page'
pam_run --service login --user "$ACCOUNT" auth <<<"old-pw-for-pam"
expect_out "auth: PAM_AUTH_ERR"
pam_run --service login --user "$ACCOUNT" auth <<<"new-pw-from-the-page"
expect_out "auth: PAM_SUCCESS"
ok "after the reset in the browser, PAM takes the new password and not the old one"

# ---- registration confirmed in the browser --------------------------------------------------
http POST "$APP/auth/providers/local-userpass/register" "" '{"email":"dora@example.org","password":"dora-pw-123"}'
[ "$STATUS" = 201 ] || fail "register: $STATUS $BODY"
browser confirm "$(link_of "$(mail_n 2)")"
http POST "$APP/auth/providers/local-userpass/login" "" '{"username":"dora@example.org","password":"dora-pw-123"}'
[ "$STATUS" = 200 ] || fail "the user confirmed in the browser cannot log in: $STATUS $BODY"
ok "a registration confirmed in the browser logs in"
