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
