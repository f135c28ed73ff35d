#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A login that completes elsewhere (a device grant's "pending: poll again"),
# end to end through libpam and a real stitchd built with the test-only
# provider test-poll (tests/helpers/provider-test-poll.c: pending twice,
# then the user): the module shows the message once, asks nothing, waits
# the interval between polls, is not stopped by the cap on rounds of
# questions, and gives up at once when the daemon goes away. The installed
# daemon does not know test-poll.
. "$(dirname "$0")/pam-lib.sh"
need_stitchd

INSTALLED_STITCHD=$STITCHD
STITCHD=$top_builddir/tests/helpers/stitchd-test
[ -x "$STITCHD" ] || fail "the test daemon is not built: $STITCHD"

stitch_config <<'X'
[Pam]
Services=login
[Limits]
MaxFailures=1
X
stitch_start
stitch_user ada@example.com ada 'correct horse'
pam_service login "$PAM_ARGS provider=test-poll"

# The network pool's threads, by name.
network_threads() {
        cat /proc/"$STITCHD_PID"/task/*/comm 2>/dev/null | grep -c '^stitchd-network$'
}
expect_eq "no network pool before a network provider's first round" 0 "$(network_threads)"

start=$(date +%s%N)
pam_run --service login --user ada auth open env close </dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$PAM_RC" = 0 ] || fail "the pending login did not complete"
expect_out "info: To sign in, visit https://device.example.test and enter ABCD-EFGH"
expect_no_out "prompt:"
n=$(printf '%s\n' "$PAM_OUT" | grep -c '^info: To sign in')
expect_eq "the message is shown once" 1 "$n"
[ -n "$(pam_session_id)" ] || fail "no STITCH_SESSION after the pending login"
# begin, then two pending polls a second apart, then the session: >= 2 s
[ "$elapsed_ms" -ge 2000 ] || fail "the module did not wait between polls (${elapsed_ms} ms)"
ok "pending twice then a session: message once, no prompt, the interval kept (${elapsed_ms} ms)"

# test-poll declares network I/O: its rounds ran on the network pool, never
# on the loop or the workers that hash passwords.
grep -q 'test-poll: begin on thread stitchd-network\.' "$STITCHD_LOG" || fail "begin did not run on the network pool"
grep -q 'test-poll: step on thread stitchd-network\.' "$STITCHD_LOG" || fail "step did not run on the network pool"
if grep 'test-poll: ' "$STITCHD_LOG" | grep -v 'on thread stitchd-network\.'; then
        fail "a round of test-poll ran elsewhere than on the network pool"
fi
expect_eq "the network pool's threads" 3 "$(network_threads)"
ok "the provider's rounds ran on the network pool, started by the first of them"

# The failed-login limit does not see polls: pending logins (each several
# rounds), then the right password still works with MaxFailures=1.
for i in 1 2; do
        pam_run --service login --user ada auth </dev/null
        [ "$PAM_RC" = 0 ] || fail "pending login $i failed"
done
pam_service login "$PAM_ARGS"
pam_run --service login --user ada auth <<<"correct horse"
[ "$PAM_RC" = 0 ] || fail "a password login after pending ones was refused"
ok "pending logins are not counted as failed attempts"

# stitchctl login waits and polls the same way.
out=$(sctl login --user ada --provider test-poll --service login --json </dev/null 2>"$T/ctl-err") \
        || fail "stitchctl login of a pending login failed: $(cat "$T/ctl-err")"
grep -q '^To sign in, visit https://device.example.test' "$T/ctl-err" || fail "stitchctl did not show the message"
expect_eq "stitchctl shows the message once" 1 "$(grep -c '^To sign in' "$T/ctl-err")"
printf '%s' "$out" | grep -q '"session_id"' || fail "stitchctl login printed no session: $out"
ok "stitchctl login: message once, polls, then the session"

# The daemon goes away while the module waits: it stops at once.
pam_service login "$PAM_ARGS provider=test-poll"
( sleep 0.3; kill -TERM "$STITCHD_PID" ) &
start=$(date +%s%N)
pam_run --service login --user ada auth </dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait
expect_out "auth: PAM_AUTHINFO_UNAVAIL"
[ "$elapsed_ms" -lt 3000 ] || fail "the module kept waiting for a daemon that stopped (${elapsed_ms} ms)"
ok "a daemon that stops ends the wait (${elapsed_ms} ms)"
STITCHD_PID=

# The installed daemon has no test provider.
STITCHD=$INSTALLED_STITCHD
stitch_start
pam_run --service login --user ada auth </dev/null
expect_out "auth: PAM_SERVICE_ERR"
pam_service login "$PAM_ARGS"
pam_run --service login --user ada auth <<<"correct horse"
[ "$PAM_RC" = 0 ] || fail "a password login on the installed stitchd failed"
expect_eq "no network pool without a network provider" 0 "$(network_threads)"
ok "the installed stitchd does not know test-poll, and starts no network pool"

# ---- against fake-stitchd: what the module does with pending replies it
# cannot trust. A daemon that stays pending (every reply: 100 ms, expiring
# in 1.5 s) is polled past the cap of 8 rounds of questions, with the same
# conversation and no answers, and given up on at the first expiry: later
# replies cannot push it back.
PENDING='{"parameters":{"conversation":"conv_fake-1","prompts":[],"messages":[{"text":"Visit https://device.example.test","error":false}],"pending":{"interval_ms":100,"expires_in_ms":1500}}}'
FAKE_SOCK=$T/fake.sock
FAKE_LOG=$T/fake.log
: > "$FAKE_LOG"
fake_start "$FAKE_SOCK" "$FAKE_LOG" --reply "$PENDING" --ask "$PENDING"
pam_service fake "socket=$FAKE_SOCK timeout=3"
start=$(date +%s%N)
pam_run --service fake --user ada auth </dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_out "auth: PAM_AUTH_ERR"
expect_out "error: The login was not completed in time."
expect_no_out "prompt:"
polls=$(tr '\0' '\n' < "$FAKE_LOG" | grep -c '"conversation":"conv_fake-1"')
[ "$polls" -ge 9 ] || fail "the module polled $polls times in 1.5 s at 100 ms (the cap of 8 rounds must not apply)"
[ "$elapsed_ms" -ge 1300 ] && [ "$elapsed_ms" -lt 3000 ] || fail "the wait did not end at the expiry (${elapsed_ms} ms)"
if tr '\0' '\n' < "$FAKE_LOG" | grep '"conversation"' | grep -q '"answers"'; then
        fail "a poll carried answers"
fi
# the message is shown as often as the daemon sends it (here: every reply; stitchd sends it once)
ok "a daemon that stays pending: $polls polls without answers, ended at the expiry (${elapsed_ms} ms)"

# Malformed pending replies fail closed: an interval over a minute, a prompt
# in a pending reply, a pending that is not an object.
for bad in \
        '{"parameters":{"conversation":"conv_fake-1","prompts":[],"pending":{"interval_ms":3600000,"expires_in_ms":1500}}}' \
        '{"parameters":{"conversation":"conv_fake-1","prompts":[{"id":"secret","text":"Password: ","echo":false}],"pending":{"interval_ms":200,"expires_in_ms":1500}}}' \
        '{"parameters":{"conversation":"conv_fake-1","prompts":[],"pending":5}}'; do
        N=${N:-0}; N=$((N + 1))
        : > "$T/fake-$N.log"
        fake_start "$T/fake-$N.sock" "$T/fake-$N.log" --reply "$bad" --ask "$bad"
        pam_service fake "socket=$T/fake-$N.sock timeout=3"
        pam_run --service fake --user ada auth </dev/null
        expect_out "auth: PAM_AUTHINFO_UNAVAIL"
        expect_no_out "prompt:"
done
ok "malformed pending replies fail closed"
