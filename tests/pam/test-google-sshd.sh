#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Google's device login through a real OpenSSH server (keyboard-interactive)
# with pam_stitch provider=oauth2-google, against the stand-in Google: sshd
# holds PAM_TEXT_INFO until the next prompt, so the URL, the code and the
# QR code must arrive with (before) the prompt that asks to press Enter:
# the client's askpass sees them in that prompt, the test approves the code
# it read there, and the login (as root: the stitch user an admin gave the
# Unix name root, with the Google identity linked by stitchctl) succeeds.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd
sshd_need
. "$top_srcdir/tests/http/google-lib.sh"
trap 'google_stop; sshd_cleanup' EXIT
google_up --interval 1

{
        google_conf </dev/null
        printf '[Provider.local-userpass]\nEnabled=no\n'
} | stitch_config
stitch_start
sctl user add --unix-name root --name "Root by Google" >/dev/null || fail "could not create the root user"
TOKEN=$(gctl "mint?sub=133333333333333333333&email=admin@example.com&aud=$WEB_CLIENT" | jq -r .id_token)
printf '%s\n' "$TOKEN" | sctl user link root --provider oauth2-google >/dev/null \
        || fail "could not link the Google identity onto the root user"
ok "an admin links a Google identity onto the user with Unix name root (stitchctl user link)"

pam_service_file sshd <<X
auth     required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=60 provider=oauth2-google
account  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
session  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
password required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
X
sshd_start

# The askpass: records each prompt it is given (one file each) and answers
# Enter; the test approves the code it finds in the Enter prompt.
mkdir -p "$T/prompts"
cat >"$T/askpass" <<X
#!/bin/sh
n=\$(ls "$T/prompts" | wc -l)
printf '%s' "\$1" >"$T/prompts/\$n"
echo
X
chmod 0700 "$T/askpass"

SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY= \
timeout 60 ssh -F /dev/null -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 \
        -o BatchMode=no root@127.0.0.1 'echo session=$STITCH_SESSION' </dev/null >"$T/ssh.out" 2>"$T/ssh.err" &
SSH_JOB=$!

deadline=$(( $(date +%s) + 30 ))
until [ -s "$T/prompts/0" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "ssh asked nothing: $(cat "$T/ssh.err"; tail -n 20 "$SSHD_LOG")"
        sleep 0.2
done
PROMPT=$(cat "$T/prompts/0")
printf '%s\n' "$PROMPT" | sed 's/^/    | /'
CODE=$(printf '%s\n' "$PROMPT" | sed -n 's/.*enter the code \([A-Z-]*\).*/\1/p')
[ -n "$CODE" ] || fail "the prompt that waits for Enter does not carry the code"
printf '%s\n' "$PROMPT" | grep -q "$(printf '\xe2\x96\x88')" || fail "no QR code in the prompt"
printf '%s\n' "$PROMPT" | tail -n 1 | grep -q "Press Enter once you have approved" \
        || fail "the prompt does not end with the question"
ok "over sshd the URL, code and QR code arrive with the prompt that asks for Enter"

gctl "approve?user_code=$CODE&sub=133333333333333333333&email=admin@example.com" >/dev/null
wait "$SSH_JOB" || fail "the ssh login failed: $(cat "$T/ssh.err"; tail -n 20 "$SSHD_LOG")"
grep -q '^session=[A-Za-z0-9]' "$T/ssh.out" || fail "no STITCH_SESSION in the ssh session: $(cat "$T/ssh.out")"
ok "approved on the phone, the ssh login succeeds with a stitch session"
