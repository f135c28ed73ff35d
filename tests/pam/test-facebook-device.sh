#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# oauth2-facebook through PAM with Facebook Login for Devices, end to end:
# real libpam (tests/pam/pam-session-test), pam_stitch.so, a real stitchd
# and the stand-in Graph API over HTTPS (tests/helpers/fake-facebook.py),
# through the shared device login (providers/device-login.h). The URL and
# the code are shown once with a QR code; the daemon polls
# device/login_status at Facebook's interval, 5 s longer after a "slow
# down"; approved after some polls, the login succeeds as the account an
# admin linked the Facebook identity to; declined or expired, it fails and
# says so; a Facebook user linked to nobody, or to another account, does
# not log in; with UnixNameFrom=email-local-part a new user gets its
# email's local part as account, never root; without ClientTokenFile= no
# code is asked for; the Graph API down is said, with a retry offered; no
# token or secret in the daemon's log.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
. "$top_srcdir/tests/http/facebook-lib.sh"
cd "$T"
trap 'fb_stop; pam_cleanup' EXIT

# The account the new Facebook user gets: no local account may have it.
CUSER=fcarol$$
getent passwd "$CUSER" >/dev/null && skip "a local account $CUSER exists"

fb_token EAAada 20001 ada@example.com
fb_token EAAeve 20002 eve@example.com
fb_token EAAcarol 20003 "$CUSER@example.com"
fb_token EAAroot 20004 root@example.com
fb_up --interval 1 --expires-in 60

daemon() {
        stitch_stop
        stitch_config < <(printf '%s\n' "$@" | fb_config; printf '[Pam]\nServices=stitch-test\n')
        stitch_start
}
daemon CreateUsers=no
pam_service stitch-test "$PAM_ARGS timeout=30 provider=oauth2-facebook"
sctl user add --unix-name ada --name Ada >/dev/null || fail "could not create ada"
printf 'EAAada\n' | sctl user link ada --provider oauth2-facebook >/dev/null || fail "could not link ada's Facebook identity"
sctl user show ada --json | jq -e '[.user.identities[].provider_type] == ["oauth2-facebook"]' >/dev/null \
        || fail "ada has no oauth2-facebook identity after the link"
ok "an admin links a Facebook identity onto ada (stitchctl user link with an access token; CreateUsers=no)"

QR_BLOCK=$(printf '\xe2\x96\x88')
LAST=
# start USER ANSWERS...: a PAM auth in the background (answers one a line); waits for its device code (UC)
start() {
        local user=$1 i uc
        shift
        printf '%s\n' "$@" >"$T/answers"
        "$PAM_TEST" --confdir "$PAM_DIR" --service stitch-test --user "$user" auth <"$T/answers" >"$T/pam.out" 2>&1 &
        PAM_JOB=$!
        for i in $(seq 1 400); do
                uc=$(fb_control last "" GET | jq -r '.user_code // empty')
                [ -n "$uc" ] && [ "$uc" != "$LAST" ] && break
                kill -0 "$PAM_JOB" 2>/dev/null || break
                sleep 0.05
        done
        [ -n "$uc" ] && [ "$uc" != "$LAST" ] || fail "no device code was asked for: $(cat "$T/pam.out")"
        UC=$uc LAST=$uc
}
polls() { fb_control polls "user_code=$UC" GET | jq -r '.polls // 0'; }
# wait_polls N: until the daemon has polled N times (30 s at most)
wait_polls() {
        local i
        for i in $(seq 1 600); do
                [ "$(polls)" -ge "$1" ] && return 0
                kill -0 "$PAM_JOB" 2>/dev/null || fail "the login ended before $1 polls: $(cat "$T/pam.out")"
                sleep 0.05
        done
        kill "$PAM_JOB" 2>/dev/null
        fail "the daemon did not poll $1 times: $(head -c 2000 "$T/pam.out")"
}
finish() {
        wait "$PAM_JOB"
        PAM_OUT=$(grep -v '^time: ' "$T/pam.out")
        sed 's/^/    | /' "$T/pam.out"
}
INSTRUCTIONS="info: To sign in with Facebook, open www.facebook.com/device on a phone or computer and enter the code"

# ---- approved after some polls, with a slow down -------------------------------------------
start ada "" ""
wait_polls 2
expect_eq "the device code asks for public_profile,email" public_profile,email \
        "$(fb_control polls "user_code=$UC" GET | jq -r .scope)"
fb_control slowdown "user_code=$UC&n=1" >/dev/null
wait_polls 4
fb_control approve "user_code=$UC&token=EAAada" >/dev/null
finish
expect_out "auth: PAM_SUCCESS"
expect_out "prompt-echo: Press Enter to sign in with Facebook, or type p for your password: "
expect_out "$INSTRUCTIONS $UC"
expect_eq "the URL and code are shown once" 1 "$(grep -c "enter the code $UC" <<<"$PAM_OUT")"
grep -q "$QR_BLOCK" <<<"$PAM_OUT" || fail "no QR code drawn"
ok "approved after $(polls) polls: ada is logged in; the URL, the code and a QR code shown once"
gaps=$(fb_control polls "user_code=$UC" GET | jq -c '[.times as $t | range(1; $t | length) | $t[.] - $t[. - 1]]')
echo "# gaps between polls (s): $gaps"
jq -e '.[0] >= 0.9 and .[0] < 3' <<<"$gaps" >/dev/null || fail "the first interval is not Facebook's 1 s: $gaps"
jq -e '.[2] >= 5.9' <<<"$gaps" >/dev/null || fail "the interval after a slow down is not 5 s longer: $gaps"
ok "the polls keep Facebook's interval, and a slow down adds 5 s"

# ---- declined, expired ----------------------------------------------------------------------
start ada "" "" cancel
wait_polls 1
fb_control deny "user_code=$UC" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
expect_out "error: The sign-in was denied."
ok "declined on Facebook: the login fails and says so"

start ada "" "" cancel
wait_polls 1
fb_control expire "user_code=$UC" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
expect_out "error: The code expired before the sign-in was approved."
ok "an expired code: the login fails and says so"

# ---- another Facebook user ------------------------------------------------------------------
start ada "" ""
fb_control approve "user_code=$UC&token=EAAeve" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: login as ada refused: no user has identity" "$STITCHD_LOG" \
        || fail "the log does not say eve's Facebook user has no stitch user"
ok "a Facebook user linked to nobody does not log in as ada"

sctl user add --unix-name bob --name Bob >/dev/null || fail "could not create bob"
start bob "" ""
fb_control approve "user_code=$UC&token=EAAada" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: login as bob refused: user .* is not that account." "$STITCHD_LOG" \
        || fail "the log does not say ada's Facebook user is not bob"
ok "ada's Facebook user does not log in as bob"

# ---- UnixNameFrom=email-local-part ------------------------------------------------------------
daemon CreateUsers=yes UnixNameFrom=email-local-part
start "$CUSER" "" ""
fb_control approve "user_code=$UC&token=EAAcarol" >/dev/null
finish
expect_out "auth: PAM_SUCCESS"
expect_eq "the new user has her email's local part" "\"$CUSER\"" "$(sctl user show "$CUSER" --json | jq -c .user.unix_name)"
ok "UnixNameFrom=email-local-part: a new Facebook user logs in as her email's local part"

start root "" ""
fb_control approve "user_code=$UC&token=EAAroot" >/dev/null
finish
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: root is a local account: no user gets it from a Facebook email." "$STITCHD_LOG" \
        || fail "the log does not say root is a local account"
ok "root@... never maps onto root"

# ---- the Graph API down --------------------------------------------------------------------------
fb_stop
pam_run --service stitch-test --user ada auth <<<"$(printf '\ncancel\n')"
expect_out "error: Facebook cannot be reached right now."
expect_out "prompt-echo: Press Enter to try again, or type cancel: "
expect_out "auth: PAM_AUTH_ERR"
grep -q "oauth2-facebook: cannot reach the Graph API at 127.0.0.1 (/device/login): cannot connect." "$STITCHD_LOG" \
        || fail "the log does not say the Graph API could not be reached"
ok "the Graph API down: the module says so and offers a retry, and the log says why"
fb_up --interval 1 --expires-in 60

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
ok "without ClientTokenFile= a PAM login is refused before anything is shown"

for t in EAAada EAAeve EAAcarol EAAroot "$FB_APP_SECRET" "$FB_CLIENT_TOKEN"; do
        grep -qF -- "$t" "$STITCHD_LOG" && fail "$t is in the daemon's log"
done
ok "no token or secret in the daemon's log"
stitch_stop
