#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# oauth2-google's device login through libpam (pam_stitch, provider=
# oauth2-google) and a real stitchd, against a stand-in Google
# (tests/helpers/fake-google.py over HTTPS): the URL and the code shown once
# with the prompt, a QR code drawn (not with noqr); Enter, a few pending
# polls, a slow_down that stretches the interval by 5 s, approval on the
# "phone" and the login succeeds (CreateUsers=yes, UnixNameFrom=
# email-local-part gives the user the account); denied and expired say so;
# "new" gives a new code; "cancel" ends without polling; a user with a
# password chooses it at the first prompt and no code is asked for; a
# Google account is never root by its email; a Google that is down is
# said at the prompt while passwords still work; no secret in the log.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
. "$top_srcdir/tests/http/google-lib.sh"
trap 'google_stop; stitch_cleanup' EXIT
google_up --interval 1

# The account the approved Google user gets: no local account may have it.
GUSER=gada$$
getent passwd "$GUSER" >/dev/null && skip "a local account $GUSER exists"

{
        cat <<X
[Pam]
Services=google google-noqr
[Limits]
# Each cancelled, denied or expired device login counts as a failed login.
MaxFailures=100
X
        google_conf <<X
CreateUsers=yes
UnixNameFrom=email-local-part
X
} | stitch_config
stitch_start
stitch_user bob@example.com bob 'battery staple'
ARGS="socket=$STITCH_SOCKET timeout=30 provider=oauth2-google"
pam_service google "$ARGS"
pam_service google-noqr "$ARGS noqr"

QR_BLOCK=$(printf '\xe2\x96\x88')
n_codes() { gctl codes | jq '.codes | length'; }
last_code() { gctl codes | jq -r '.codes[-1]'; }
polls() { gctl "polls?user_code=$1" | jq .polls; }
# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds
wait_for() {
        local what=$1 deadline=$(( $(date +%s) + $2 )); shift 2
        until "$@"; do
                [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
                sleep 0.2
        done
}
# bg_login SERVICE USER ANSWERS...: the PAM login in the background, answers one a line
bg_login() {
        local service=$1 user=$2; shift 2
        printf '%s\n' "$@" >"$T/answers"
        "$PAM_TEST" --confdir "$PAM_DIR" --service "$service" --user "$user" auth <"$T/answers" >"$T/out" 2>&1 &
        LOGIN_PID=$!
        CODES_BEFORE=${CODES_BEFORE:-0}
}
bg_wait() {
        wait "$LOGIN_PID"
        PAM_RC=$?
        PAM_OUT=$(grep -v '^time: ' "$T/out")
        sed 's/^/    | /' "$T/out"
}
new_code() { [ "$(n_codes)" -gt "$CODES_BEFORE" ]; }
polled() { [ "$(polls "$1")" -ge "$2" ]; }

# ---- approve after a few polls, with a slow_down ----------------------------------
CODES_BEFORE=$(n_codes)
bg_login google "$GUSER" "" ""
wait_for "a device code" 20 new_code
CODE=$(last_code)
wait_for "two polls" 20 polled "$CODE" 2
gctl "slow_down?user_code=$CODE&n=1" >/dev/null
wait_for "the slow_down poll and one after it" 30 polled "$CODE" 4
gctl "approve?user_code=$CODE&sub=111111111111111111111&email=$GUSER@example.com" >/dev/null
bg_wait
expect_out "prompt-echo: Press Enter to sign in with Google, or type p for your password: "
expect_out "info: To sign in with Google, open www.google.com/device on a phone or computer and enter the code $CODE"
expect_out "prompt-echo: Press Enter once you have approved, or type new or cancel: "
expect_out "auth: PAM_SUCCESS"
n=$(printf '%s\n' "$PAM_OUT" | grep -c "enter the code $CODE")
expect_eq "the URL and code are shown once" 1 "$n"
printf '%s\n' "$PAM_OUT" | grep -q "$QR_BLOCK" || fail "no QR code drawn"
# The QR code and the URL come before the prompt that waits for Enter
# (what sshd's keyboard-interactive needs to show them at all).
first_qr=$(printf '%s\n' "$PAM_OUT" | grep -n "$QR_BLOCK" | head -n 1 | cut -d: -f1)
enter=$(printf '%s\n' "$PAM_OUT" | grep -n "^prompt-echo: Press Enter once" | cut -d: -f1)
[ "$first_qr" -lt "$enter" ] || fail "the QR code comes after the prompt"
ok "approved after a few polls: URL and code once, a QR code, then the login succeeds"

# The interval: ~1 s between polls, 1 + 5 s after the slow_down.
times=$(gctl "polls?user_code=$CODE" | jq -c '[.times as $t | range(1; $t | length) | $t[.] - $t[. - 1]]')
echo "# gaps between polls (s): $times"
jq -e '.[0] >= 0.9 and .[0] < 4' <<<"$times" >/dev/null || fail "the first interval is not the 1 s Google gave: $times"
jq -e '.[2] >= 5.9' <<<"$times" >/dev/null || fail "the interval after slow_down is not 5 s longer: $times"
ok "the interval is Google's, and slow_down adds 5 s"

sctl user show "$GUSER" --json | jq -e --arg u "$GUSER" \
        '.user.unix_name == $u and .user.identities[0].provider_type == "oauth2-google"
         and .user.identities[0].id == "111111111111111111111"' >/dev/null \
        || fail "the user was not created with the account: $(sctl user show "$GUSER" --json)"
ok "CreateUsers=yes with UnixNameFrom=email-local-part: the user gets the account"

# ---- noqr: the text only -------------------------------------------------------------
CODES_BEFORE=$(n_codes)
bg_login google-noqr "$GUSER" "" "" 
wait_for "a device code" 20 new_code
CODE=$(last_code)
gctl "approve?user_code=$CODE&sub=111111111111111111111&email=$GUSER@example.com" >/dev/null
bg_wait
expect_out "info: To sign in with Google, open www.google.com/device on a phone or computer and enter the code $CODE"
expect_out "auth: PAM_SUCCESS"
expect_no_out "$QR_BLOCK"
ok "noqr: the URL and code without a QR code; the known user logs in again"

# ---- denied, expired: said, then cancel ----------------------------------------------
for how in deny expire; do
        CODES_BEFORE=$(n_codes)
        bg_login google "$GUSER" "" "" cancel
        wait_for "a device code" 20 new_code
        CODE=$(last_code)
        wait_for "a poll" 20 polled "$CODE" 1
        gctl "$how?user_code=$CODE" >/dev/null
        bg_wait
        expect_out "auth: PAM_AUTH_ERR"
        if [ $how = deny ]; then
                expect_out "error: The sign-in was denied."
        else
                expect_out "error: The code expired before the sign-in was approved."
        fi
        expect_out "prompt-echo: Press Enter for a new code, or type cancel: "
done
ok "a denied and an expired sign-in fail with a clear message"

# ---- new, cancel ----------------------------------------------------------------------
CODES_BEFORE=$(n_codes)
pam_run --service google --user "$GUSER" auth <<<"$(printf '\nnew\ncancel\n')"
expect_out "auth: PAM_AUTH_ERR"
expect_eq "new asked Google for a second code" $((CODES_BEFORE + 2)) "$(n_codes)"
C1=$(gctl codes | jq -r '.codes[-2]') C2=$(last_code)
expect_out "info: To sign in with Google, open www.google.com/device on a phone or computer and enter the code $C1"
expect_out "info: To sign in with Google, open www.google.com/device on a phone or computer and enter the code $C2"
expect_eq "cancel polled nothing" 0 "$(polls "$C2")"
ok "\"new\" shows a new code, \"cancel\" ends the login without polling"

# ---- the conversation ends at the prompt (Ctrl-C, a closed terminal) ------------------
CODES_BEFORE=$(n_codes)
pam_run --service google --user "$GUSER" auth <<<""
expect_out "prompt-echo: Press Enter once you have approved, or type new or cancel: "
expect_no_out "auth: PAM_SUCCESS"
printf '%s\n' "$PAM_OUT" | grep -qE '^auth: PAM_(CONV_ERR|AUTH_ERR)$' || fail "no clean failure: $PAM_OUT"
expect_eq "nothing was polled" 0 "$(polls "$(last_code)")"
ok "a conversation that ends at the prompt ends the login cleanly"

# ---- the password instead ------------------------------------------------------------
CODES_BEFORE=$(n_codes)
pam_run --service google --user bob auth <<<"$(printf 'p\nbattery staple\n')"
expect_out "prompt: Password: "
expect_out "auth: PAM_SUCCESS"
expect_eq "no device code was asked for" "$CODES_BEFORE" "$(n_codes)"
grep -q "Login of bob (user [0-9a-f]*) via google with local-userpass\." "$STITCHD_LOG" \
        || fail "the password login was not recorded as local-userpass's"
pam_run --service google --user bob auth <<<"$(printf 'p\nwrong password\n')"
expect_out "auth: PAM_AUTH_ERR"
ok "a user with a password chooses it at the first prompt (and the session is the password's)"

# ---- never root, never another account ----------------------------------------------
CODES_BEFORE=$(n_codes)
bg_login google root "" ""
wait_for "a device code" 20 new_code
CODE=$(last_code)
gctl "approve?user_code=$CODE&sub=122222222222222222222&email=root@example.com" >/dev/null
bg_wait
expect_out "auth: PAM_AUTH_ERR"
grep -q 'a local account or group has that name' "$STITCHD_LOG" || fail "the log does not say why root was refused"
sctl user list --json | jq -e '[.users[] | select(.unix_name == "root")] | length == 0' >/dev/null \
        || fail "a user with Unix name root was made"
CODES_BEFORE=$(n_codes)
bg_login google bob "" ""
wait_for "a device code" 20 new_code
CODE=$(last_code)
gctl "approve?user_code=$CODE&sub=111111111111111111111&email=$GUSER@example.com" >/dev/null
bg_wait
expect_out "auth: PAM_AUTH_ERR"
ok "a Google account never becomes root by its email, nor another user's account"

# ---- stitchctl login renders the same ------------------------------------------------
CODES_BEFORE=$(n_codes)
printf '\n\n' | sctl login --user "$GUSER" --provider oauth2-google --service google >"$T/ctl.out" 2>"$T/ctl.err" &
CTL_PID=$!
wait_for "a device code" 20 new_code
CODE=$(last_code)
gctl "approve?user_code=$CODE&sub=111111111111111111111&email=$GUSER@example.com" >/dev/null
wait "$CTL_PID" || fail "stitchctl login failed: $(cat "$T/ctl.err")"
grep -qF "enter the code $CODE" "$T/ctl.err" || fail "stitchctl did not show the code: $(cat "$T/ctl.err")"
! grep -qx "https://www.google.com/device" "$T/ctl.err" || fail "stitchctl printed the QR message's bare URL"
ok "stitchctl login shows the URL and code and logs in once approved"

# ---- Google down: said, and only this login waits -------------------------------------
GOOGLE_JOB_WAS=$GOOGLE_JOB
google_stop
wait "$GOOGLE_JOB_WAS" 2>/dev/null
pam_run --service google --user "$GUSER" auth <<<"$(printf '\ncancel\n')"
expect_out "error: Google cannot be reached right now."
expect_out "prompt-echo: Press Enter to try again, or type cancel: "
expect_out "auth: PAM_AUTH_ERR"
grep -q 'oauth2-google: cannot reach Google at 127.0.0.1: ' "$STITCHD_LOG" || fail "the log does not say why"
pam_run --service google --user bob auth <<<"$(printf 'p\nbattery staple\n')"
expect_out "auth: PAM_SUCCESS"
ok "with Google down the device login says so; the password still works"

for s in "$TV_SECRET" "$WEB_SECRET"; do
        ! grep -qF -- "$s" "$STITCHD_LOG" || fail "a client secret is in the daemon log"
done
! grep -q 'AH-1Ng' "$STITCHD_LOG" || fail "a device code is in the daemon log"
ok "no client secret or device code in the daemon log"
