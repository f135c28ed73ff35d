#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Second review, R1 (high): every root PAM program (sshd, su, sudo, login)
# reaches stitchd as uid 0. A login left at its "Password: " prompt kept one
# of uid 0's 32 conversation places for five minutes, even after its program
# had gone, and a full share refused every new login before it asked: 32
# silent SSH clients, or 32 su prompts left with Ctrl-C, locked everyone out.
# Now a login's rounds share one connection, what was asked ends when that
# connection closes, and a new login is never refused for waiting ones (the
# longest-waiting of the same caller, or at a connection cap of the caller
# with the most waiting, makes room).
. "$top_srcdir/tests/pam/pam-lib.sh"
need_stitchd
command -v jq >/dev/null || skip "jq is not installed"

# A low connection cap for uid 0, so that held connections reach it too.
stitch_config <<'X'
[Limits]
MaxConnectionsPerUser=16
X
stitch_start
PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
stitch_user dos-root@example.com root "$PW"
pam_service login "$PAM_ARGS"

# Prompts nobody answers read from a pipe nobody writes to.
mkfifo "$T/never" || fail "mkfifo"
exec {HOLD}<>"$T/never"
HOLDERS=()
cleanup_holders() {
        local p
        for p in "${HOLDERS[@]}"; do kill -KILL "$p" 2>/dev/null; done
        HOLDERS=()
}
waiting() { sctl status --json | jq -r .logins_waiting; }
# until_waiting N: the daemon holds N questions (a bounded wait on a condition)
until_waiting() {
        local i
        for i in $(seq 1 500); do
                [ "$(waiting)" = "$1" ] && return 0
                sleep 0.02   # polling the daemon's count, not waiting for readiness
        done
        fail "the daemon still holds $(waiting) unanswered logins, expected $1"
}
# wait_prompt FILE PID WHAT: until the login writing FILE shows its prompt
# (fails if it ends first, or after a minute: sanitizer builds are slow)
wait_prompt() {
        local end=$((SECONDS + 60))
        until grep -qs '^prompt: ' "$1"; do
                kill -0 "$2" 2>/dev/null || grep -qs '^prompt: ' "$1" \
                        || fail "$3 was refused before its prompt: $(cat "$1")"
                [ "$SECONDS" -lt "$end" ] || fail "$3 never got its prompt (process: $(ps -o stat=,wchan= -p "$2"); daemon: $(sctl status --json | jq -c '{connections, logins_waiting}'))"
                sleep 0.01   # polling for the prompt
        done
}
# hold N RHOST: N PAM logins (real libpam) that reach their prompt and never answer
hold() {
        local i out pid
        for i in $(seq 1 "$1"); do
                out=$T/holder.$2.$i
                # (SIGINT as at a terminal: a background job of a script ignores it otherwise)
                env --default-signal=INT "$PAM_TEST" --confdir "$PAM_DIR" --service login --user root --rhost "$2" auth \
                        <"$T/never" >"$out" 2>&1 &
                pid=$!
                HOLDERS+=("$pid")
                disown
                wait_prompt "$out" "$pid" "login $i from $2"
        done
}

# 1. Ctrl-C at 40 prompts: the questions go with the programs.
hold 40 198.51.100.1
ok "40 unanswered PAM logins from one host were all asked (none refused)"
for p in "${HOLDERS[@]}"; do kill -INT "$p" 2>/dev/null; done
for p in "${HOLDERS[@]}"; do
        for k in $(seq 1 500); do kill -0 "$p" 2>/dev/null || break; sleep 0.01; done   # until it is gone
        ! kill -0 "$p" 2>/dev/null || fail "a login did not end on SIGINT"
done
HOLDERS=()
until_waiting 0
pam_run --service login --user root --rhost 192.0.2.7 auth <<<"$PW"
expect_out "auth: PAM_SUCCESS"
ok "logins interrupted at their prompt end at once; the next login succeeds"

# 2. A person typing while 40 logins from another host wait at their
#    prompts: asked, and still answered, at both caps (share and connections).
mkfifo "$T/person"
"$PAM_TEST" --confdir "$PAM_DIR" --service login --user root --rhost 192.0.2.7 auth <"$T/person" >"$T/person.out" 2>&1 &
PERSON=$!
exec {TYPE}>"$T/person"
wait_prompt "$T/person.out" "$PERSON" "the person's login"
hold 40 198.51.100.1
[ "$(waiting)" -le 16 ] || fail "$(waiting) logins wait with MaxConnectionsPerUser=16"
printf '%s\n' "$PW" >&"$TYPE"
exec {TYPE}>&-
wait "$PERSON"
grep -q '^auth: PAM_SUCCESS' "$T/person.out" || fail "the person's login failed: $(cat "$T/person.out")"
grep -q "Connection limit reached: closing the unanswered login" "$STITCHD_LOG" || fail "no eviction was logged"
ok "a person's login survives 40 unanswered ones from another host (connection cap and share)"
cleanup_holders
until_waiting 0

# 3. A real sshd with 40 keyboard-interactive clients that never answer.
sshd_need
trap 'cleanup_holders; sshd_cleanup' EXIT
pam_service_file sshd <<X
auth     required @PAM_STITCH@ $PAM_ARGS
account  required @PAM_STITCH@ $PAM_ARGS
session  required @PAM_STITCH@ $PAM_ARGS
X
# sshd's own limit on unauthenticated connections (10:30:100 by default)
# would drop some at random: this test is about stitchd's.
SSHD_EXTRA_CONFIG="MaxStartups 200"
sshd_start
printf '#!/bin/sh\n: > %s/asked.$$\nexec cat %s/never\n' "$T" "$T" > "$T/askpass-never"
chmod 0700 "$T/askpass-never"
# One at a time, each until its askpass was asked (a burst over
# MaxConnectionsPerUser= of logins not yet asked anything is refused, as a
# connection cap should; this is about the ones that wait).
SSH_PIDS=()
for i in $(seq 1 40); do
        SSH_ASKPASS=$T/askpass-never SSH_ASKPASS_REQUIRE=force DISPLAY= \
        ssh -F /dev/null -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o LogLevel=ERROR -o PreferredAuthentications=keyboard-interactive \
                -o NumberOfPasswordPrompts=1 -o BatchMode=no root@127.0.0.1 true </dev/null >/dev/null 2>&1 &
        pid=$!
        disown   # killed at the end: no job report
        SSH_PIDS+=("$pid")
        HOLDERS+=("$pid")
        end=$((SECONDS + 60))
        until [ "$(find "$T" -maxdepth 1 -name 'asked.*' | wc -l)" -ge "$i" ]; do
                kill -0 "$pid" 2>/dev/null || fail "ssh client $i gave up before it was asked: $(tail -n 5 "$SSHD_LOG")"
                [ "$SECONDS" -lt "$end" ] || fail "ssh client $i was never asked"
                sleep 0.02   # polling for this client's prompt
        done
done
out=$(ssh_login "$PW" root "echo in" 2>&1) || fail "ssh login failed beside 40 silent clients: $out"
expect_eq "ssh login beside 40 silent clients" in "$out"
ok "an ssh login succeeds beside 40 keyboard-interactive clients that never answer"
for p in "${SSH_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
until_waiting 0
ok "when the silent clients go, sshd's PAM processes go and their questions with them"
