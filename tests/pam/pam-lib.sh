# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the PAM-level tests of pam_stitch.so. Source it after nothing
# else:  . "$(dirname "$0")/pam-lib.sh"
# Service files go to a private directory read through pam_start_confdir()
# (tests/pam/pam-session-test), so nothing is written to /etc/pam.d.

. "${TESTS_LIB:?run through make check}"

PAM_TEST=$top_builddir/tests/pam/pam-session-test
FAKE_STITCHD=$top_builddir/tests/pam/fake-stitchd
: "${PAM_STITCH_SO:=$top_builddir/pam_stitch/.libs/pam_stitch.so}"
[ -f "$PAM_STITCH_SO" ] || fail "the module is not built: $PAM_STITCH_SO"
[ -x "$PAM_TEST" ] || fail "the test driver is not built: $PAM_TEST"

PAM_DIR=$T/pam.d
mkdir -p "$PAM_DIR"
FAKE_PIDS=

pam_cleanup() {
        local p
        for p in $FAKE_PIDS; do
                kill -CONT "$p" 2>/dev/null
                kill -KILL "$p" 2>/dev/null
        done
        [ -n "${STITCHD_PID:-}" ] && kill -CONT "$STITCHD_PID" 2>/dev/null
        stitch_cleanup
}
trap pam_cleanup EXIT

# Writes service NAME using pam_stitch.so on all four lines with ARGS.
#   pam_service NAME [ARG...]
pam_service() {
        local name=$1 t
        shift
        for t in auth account session password; do
                echo "$t required $PAM_STITCH_SO $*"
        done > "$PAM_DIR/$name"
}

# Writes service NAME from stdin; @PAM_STITCH@ stands for the module's path.
pam_service_file() {
        sed "s|@PAM_STITCH@|$PAM_STITCH_SO|g" > "$PAM_DIR/$1"
}

# Runs the driver; answers to prompts come from stdin. Sets PAM_OUT (the
# transcript, without the driver's timing lines), PAM_RC and PAM_MS (the
# longest time one PAM call took, in milliseconds: the module's time, not
# the process start-up, which sanitizers make slow).
#   pam_run --service S --user U ACTION... <<<"answer"
pam_run() {
        local out
        out=$("$PAM_TEST" --confdir "$PAM_DIR" "$@" 2>&1)
        PAM_RC=$?
        PAM_OUT=$(printf '%s\n' "$out" | grep -v '^time: ')
        PAM_MS=$(printf '%s\n' "$out" | awk '/^time: / { if ($3 > m) m = $3 } END { print m + 0 }')
        printf '%s\n' "$out" | sed 's/^/    | /'
        [ "$PAM_RC" -le 1 ] || fail "pam-session-test failed to run ($PAM_RC): $PAM_OUT"
}

# expect_out LINE: the transcript has exactly this line.
expect_out() {
        printf '%s\n' "$PAM_OUT" | grep -qxF -- "$1" || fail "expected line '$1' in:
$PAM_OUT"
}

# expect_no_out PATTERN: no transcript line matches this fixed string.
expect_no_out() {
        if printf '%s\n' "$PAM_OUT" | grep -qF -- "$1"; then
                fail "unexpected '$1' in:
$PAM_OUT"
        fi
}

# expect_within MS: each PAM call of the last pam_run took less than MS ms.
expect_within() {
        [ "$PAM_MS" -lt "$1" ] || fail "took ${PAM_MS} ms, limit $1 ms"
}

# The session id printed by an "env" action.
pam_session_id() {
        printf '%s\n' "$PAM_OUT" | sed -n 's/^env: STITCH_SESSION=//p' | tail -n 1
}

# Starts fake-stitchd and remembers it for cleanup; prints nothing.
#   fake_start SOCKET LOG [fake-stitchd options]
fake_start() {
        local sock=$1 log=$2 pid
        shift 2
        pid=$("$FAKE_STITCHD" --socket "$sock" --log "$log" "$@") || fail "fake-stitchd did not start"
        FAKE_PIDS="$FAKE_PIDS $pid"
        FAKE_PID=$pid
}

# True once PID has exited (gone, or a zombie nobody reaped yet).
pid_gone() {
        local state
        state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
        [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

# Kills PID with SIGKILL and waits (at most 5 s) until it is gone.
kill_and_wait() {
        local i=0
        kill -CONT "$1" 2>/dev/null
        kill -KILL "$1" 2>/dev/null
        while ! pid_gone "$1"; do
                i=$((i + 1)); [ $i -gt 500 ] && fail "process $1 did not exit"
                sleep 0.01   # waiting for an exit, not for readiness
        done
}

# The messages a fake daemon received, one per line.
fake_messages() {
        [ -f "$1" ] && tr '\0' '\n' < "$1"
}

# Skips unless the real daemon and stitchctl are built.
need_stitchd() {
        [ -x "$STITCHD" ] || skip "stitchd is not built"
        [ -x "$STITCHCTL" ] || skip "stitchctl is not built"
        [ -x "$STITCH_SPAWN" ] || skip "tests/helpers/stitch-spawn is not built"
}

# Standard module arguments pointing at this test's daemon.
PAM_ARGS="socket=$STITCH_SOCKET timeout=5"

# ---- a real sshd (tests/pam/test-sshd.sh, tests/security/) -----------------
# Nothing in /etc/pam.d or /etc/ssh is touched: sshd runs in the foreground
# on 127.0.0.1 on a free port with its own host key and config, and reads
# its PAM service from this test's directory through pam_wrapper
# (LD_PRELOAD; sshd is not setuid). The one system change: /run/sshd
# (sshd's privilege separation directory, empty) is created if missing, and
# left in place since another sshd may be using it by then.

# Skips unless sshd, ssh and pam_wrapper are here; stops sshd at exit.
sshd_need() {
        [ "$(id -u)" = 0 ] || skip "needs root to run sshd"
        SSHD_BIN=$(command -v sshd || echo /usr/sbin/sshd)
        [ -x "$SSHD_BIN" ] || skip "sshd is not installed"
        command -v ssh >/dev/null || skip "ssh is not installed"
        command -v ssh-keygen >/dev/null || skip "ssh-keygen is not installed"
        PAM_WRAPPER_SO=
        local d
        for d in $(pkg-config --variable=libdir pam_wrapper 2>/dev/null) /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
                [ -f "$d/libpam_wrapper.so" ] && { PAM_WRAPPER_SO=$d/libpam_wrapper.so; break; }
        done
        [ -n "$PAM_WRAPPER_SO" ] || skip "pam_wrapper (libpam-wrapper) is not installed"
        # A module built with sanitizers (configure --enable-sanitizers) needs the
        # ASan runtime first in the process: preload it into sshd as well (sshd's
        # own allocations are then the sanitizer's, its leaks are not ours).
        SAN_PRELOAD=
        if readelf -d "$PAM_STITCH_SO" 2>/dev/null | grep -q 'libasan'; then
                SAN_PRELOAD=$(ldd "$PAM_STITCH_SO" | awk '/libasan\.so/ { print $3 }')
                [ -f "$SAN_PRELOAD" ] || skip "the module is built with sanitizers and libasan was not found to preload into sshd"
        fi
        SSHD_PID=
        trap sshd_cleanup EXIT
        [ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd || skip "cannot create /run/sshd"
}
sshd_cleanup() {
        [ -n "${SSHD_PID:-}" ] && kill -TERM "$SSHD_PID" 2>/dev/null
        pam_cleanup
}

# Starts sshd (service "sshd" from $PAM_DIR) on a free port: $PORT, $SSHD_PID,
# log in $SSHD_LOG. Lines in $SSHD_EXTRA_CONFIG are added to its config.
sshd_start() {
        local attempt
        ssh-keygen -q -t ed25519 -N '' -f "$T/ssh_host_ed25519_key" </dev/null || fail "ssh-keygen failed"
        SSHD_LOG=$T/sshd.log
        # A free port: pick at random, let sshd try to bind it, try another if taken.
        for attempt in 1 2 3 4 5 6 7 8; do
                PORT=$((20000 + RANDOM % 40000))
                cat > "$T/sshd_config" <<X
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/ssh_host_ed25519_key
PidFile none
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication yes
PubkeyAuthentication no
HostbasedAuthentication no
AuthorizedKeysFile none
PermitRootLogin yes
StrictModes no
UseDNS no
MaxAuthTries 3
LogLevel VERBOSE
${SSHD_EXTRA_CONFIG:-}
X
                SSHD_PID=$(LD_PRELOAD="${SAN_PRELOAD:+$SAN_PRELOAD }$PAM_WRAPPER_SO" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$PAM_DIR \
                        "$STITCH_SPAWN" --timeout 20 -- "$SSHD_BIN" -D -e -f "$T/sshd_config" 2>>"$SSHD_LOG" </dev/null) && break
                SSHD_PID=
        done
        [ -n "$SSHD_PID" ] || fail "sshd did not start: $(tail -n 5 "$SSHD_LOG")"
        printf '#!/bin/sh\ncat %s\n' "$T/answer" > "$T/askpass"
        chmod 0700 "$T/askpass"
}

# ssh_login PASSWORD USER COMMAND: one attempt with $METHOD, the password
# given at the prompt (SSH_ASKPASS).
METHOD=keyboard-interactive
ssh_login() {
        printf '%s\n' "$1" > "$T/answer"
        chmod 0600 "$T/answer"
        SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY= \
        timeout 30 ssh -F /dev/null -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
                -o LogLevel=ERROR -o PreferredAuthentications=$METHOD \
                -o NumberOfPasswordPrompts=1 -o BatchMode=no "$2@127.0.0.1" "$3" </dev/null
}
