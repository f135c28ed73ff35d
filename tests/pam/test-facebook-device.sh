#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# oauth2-facebook through PAM with Facebook Login for Devices, end to end:
# real libpam (tests/pam/pam-session-test), pam_stitch.so, a real stitchd
# and the stand-in Graph API over HTTPS (tests/helpers/fake-facebook.py).
# The module shows the verification URL and the code once; the daemon polls
# device/login_status at the interval while the person has not acted yet;
# approved after some polls, the login succeeds as the account an admin
# linked the Facebook identity to; declined or expired, it fails; a Facebook
# user linked to nobody, or to another account, does not log in; with
# UnixNameFrom=email-local-part a new user gets its email's local part as
# account, but never root; no token or code in the daemon's log.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
. "$top_srcdir/tests/http/facebook-lib.sh"
cd "$T"
trap 'fb_stop; pam_cleanup' EXIT

fb_token EAAada 20001 ada@example.com
fb_token EAAeve 20002 eve@example.com
fb_token EAAcarol 20003 carol@example.com
fb_token EAAroot 20004 root@example.com
fb_up --interval 1 --expires-in 60

daemon() {
        stitch_stop
        stitch_config < <(printf '%s\n' "$@" | fb_config; printf '[Pam]\nServices=stitch-test\n')
        stitch_start
}
daemon CreateUsers=yes
pam_service stitch-test "$PAM_ARGS provider=oauth2-facebook"
sctl user add --unix-name ada --name Ada >/dev/null || fail "could not create ada"
printf 'EAAada\n' | sctl user link ada --provider oauth2-facebook >/dev/null || fail "could not link ada's Facebook identity"
sctl user show ada --json | jq -e '[.user.identities[].provider_type] == ["oauth2-facebook"]' >/dev/null \
        || fail "ada has no oauth2-facebook identity after the link"
ok "an admin links a Facebook identity onto ada (stitchctl user link with an access token)"

LAST=
# start USER: a PAM auth in the background; waits for its device code (UC)
start() {
        "$PAM_TEST" --confdir "$PAM_DIR" --service stitch-test --user "$1" auth </dev/null >"$T/pam.out" 2>&1 &
        PAM_JOB=$!
        local i uc
        for i in $(seq 1 200); do
                uc=$(fb_control last "" GET | jq -r '.user_code // empty')
                [ -n "$uc" ] && [ "$uc" != "$LAST" ] && break
                kill -0 "$PAM_JOB" 2>/dev/null || break
                sleep 0.05
        done
        [ -n "$uc" ] && [ "$uc" != "$LAST" ] || fail "no device code was asked for: $(cat "$T/pam.out")"
        UC=$uc LAST=$uc
}
polls() { fb_control polls "user_code=$UC" GET | jq -r '.polls // 0'; }
# wait_polls N: until the daemon has polled N times (20 s at most)
wait_polls() {
        local i
        for i in $(seq 1 400); do
                [ "$(polls)" -ge "$1" ] && return 0
                kill -0 "$PAM_JOB" 2>/dev/null || fail "the login ended before $1 polls: $(cat "$T/pam.out")"
                sleep 0.05
        done
        kill "$PAM_JOB" 2>/dev/null; fail "the daemon did not poll $1 times: $(head -c 2000 "$T/pam.out")"
}
finish() {
        wait "$PAM_JOB"
        PAM_OUT=$(grep -v '^time: ' "$T/pam.out")
        sed 's/^/    | /' "$T/pam.out"
}

# ---- approved after some polls ---------------------------------------------------------
start ada
wait_polls 2
fb_control approve "user_code=$UC&token=EAAada" >/dev/null
finish
expect_out "auth: PAM_SUCCESS"
expect_out "info: To log in with Facebook, visit https://www.facebook.com/device and enter the code $UC"
expect_eq "the URL and code are shown once" 1 "$(grep -c 'To log in with Facebook' <<<"$PAM_OUT")"
expect_no_out "prompt:"
ok "approved after $(grep -c 'POST /v19.0/device/login_status' fb/requests) polls: ada is logged in, the code shown once"

# ---- declined, expired ----------------------------------------------------------------------
start ada
wait_polls 1
expect_eq "the device code asks for public_profile,email" public_profile,email \
        "$(fb_control polls "user_code=$UC" GET | jq -r .scope)"
fb_control deny "user_code=$UC" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: login as ada failed: the person declined it on Facebook." "$STITCHD_LOG" \
        || fail "the log does not say the login was declined"
ok "declined on Facebook: the login fails, and the log says why"

start ada
wait_polls 1
fb_control expire "user_code=$UC" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: login as ada failed: the Login for Devices code expired" "$STITCHD_LOG" \
        || fail "the log does not say the code expired"
ok "an expired code: the login fails, and the log says why"

# ---- another Facebook user ------------------------------------------------------------------
start ada
wait_polls 1
fb_control approve "user_code=$UC&token=EAAeve" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
ok "a Facebook user linked to nobody does not log in as ada"

sctl user add --unix-name bob --name Bob >/dev/null || fail "could not create bob"
start bob
wait_polls 1
fb_control approve "user_code=$UC&token=EAAada" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: login as bob refused: user .* is not that account." "$STITCHD_LOG" \
        || fail "the log does not say ada's Facebook user is not bob"
ok "ada's Facebook user does not log in as bob"

# ---- UnixNameFrom=email-local-part ------------------------------------------------------------
daemon CreateUsers=yes UnixNameFrom=email-local-part
start carol
fb_control approve "user_code=$UC&token=EAAcarol" >/dev/null
finish
expect_out "auth: PAM_SUCCESS"
expect_eq "carol was made with her email's local part" '"carol"' "$(sctl user show carol --json | jq -c .user.unix_name)"
ok "UnixNameFrom=email-local-part: a new Facebook user logs in as her email's local part"

start root
fb_control approve "user_code=$UC&token=EAAroot" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: root is a local account: no user gets it from a Facebook email." "$STITCHD_LOG" \
        || fail "the log does not say root is a local account"
ok "root@... never maps onto root"

# ---- no ClientTokenFile=: no device logins --------------------------------------------------------
stitch_stop
stitch_config < <(fb_config | grep -v '^ClientTokenFile='; printf '[Pam]\nServices=stitch-test\n')
stitch_start
before=$(fb_requests 'device/login$')
pam_run --service stitch-test --user ada auth </dev/null
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: login as ada refused: PAM logins need Login for Devices (ClientTokenFile=)." "$STITCHD_LOG" \
        || fail "the log does not say ClientTokenFile= is missing"
expect_eq "nothing was asked of Facebook" "$before" "$(fb_requests 'device/login$')"
ok "without ClientTokenFile= a PAM login is not allowed"

for t in EAAada EAAeve EAAcarol EAAroot "$FB_APP_SECRET" "$FB_CLIENT_TOKEN"; do
        grep -qF -- "$t" "$STITCHD_LOG" && fail "$t is in the daemon's log"
done
ok "no token or secret in the daemon's log"
stitch_stop
