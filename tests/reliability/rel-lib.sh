# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers shared by tests/reliability/*.sh, on top of tests/lib.sh. Source it:
#   . "$top_srcdir/tests/reliability/rel-lib.sh"
# STITCH_RELIABILITY_LONG=1 (set by `make check-reliability`) selects the
# long versions; each script documents its own knobs.

. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

RAW=$top_builddir/tests/helpers/wire-raw
REL_LONG=${STITCH_RELIABILITY_LONG:-}
REL_STATUS_FILE=

# Starts a daemon command under a small bash that records its exit status,
# so a crash (128+signal) is told apart from a clean exit even though
# stitch-spawn hands the daemon over once it is ready. Sets STITCHD_PID.
#   rel_spawn [ENV=VALUE...] COMMAND [ARG...]
rel_spawn() {
        local i
        REL_STATUS_FILE=$T/exit-status.$$.$RANDOM$RANDOM
        rm -f "$REL_STATUS_FILE" "$REL_STATUS_FILE.pid"
        "$STITCH_SPAWN" --timeout "${REL_SPAWN_TIMEOUT:-60}" -- bash -c '"$@" & echo $! > "$0.pid"; wait $!; echo $? > "$0"' \
                "$REL_STATUS_FILE" env "$@" >/dev/null 2>>"$STITCHD_LOG" 3>&- </dev/null || return 1
        # bash wrote the pid right after forking, long before READY=1.
        for i in $(seq 1 100); do [ -s "$REL_STATUS_FILE.pid" ] && break; sleep 0.01; done
        STITCHD_PID=$(cat "$REL_STATUS_FILE.pid")
}

# Starts the configured daemon: rel_start [ENV=VALUE...] [DAEMON_BINARY]
rel_start() {
        local envs=()
        while [ $# -gt 0 ] && [[ $1 == *=* ]]; do envs+=("$1"); shift; done
        [ -f "$STITCHD_CONF" ] || stitch_config </dev/null
        rel_spawn "${envs[@]}" "${1:-$STITCHD}" --foreground --config "$STITCHD_CONF"
}

# SIGTERMs the daemon started by rel_start and prints its exit status
# (128+N when a signal killed it; "hang" if it did not exit within 30 s).
rel_stop() {
        local i
        if [ -z "${STITCHD_PID:-}" ]; then echo none; return; fi
        kill -TERM "$STITCHD_PID" 2>/dev/null
        for i in $(seq 1 600); do [ -s "$REL_STATUS_FILE" ] && break; sleep 0.05; done
        if [ ! -s "$REL_STATUS_FILE" ]; then
                kill -KILL "$STITCHD_PID" 2>/dev/null
                STITCHD_PID=
                echo hang
                return
        fi
        STITCHD_PID=
        cat "$REL_STATUS_FILE"
}

# Sanitizer or valgrind reports in the daemon log since byte offset $1.
rel_log_findings() {
        tail -c +"$(( ${1:-0} + 1 ))" "$STITCHD_LOG" 2>/dev/null |
                grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched)|definitely lost: [1-9]' || true
}
rel_log_size() { stat -c %s "$STITCHD_LOG" 2>/dev/null || echo 0; }

rel_integrity() {
        sqlite3 "${1:-$T/stitch.db}" 'PRAGMA integrity_check' 2>&1
}

# Raw wire call through stitchctl with a deadline: prints the reply JSON
# (or nothing if the daemon dropped the connection; {"error":"rel.Timeout"}
# after REL_CALL_TIMEOUT seconds, default 30). rel_call METHOD JSON
rel_call() {
        printf '%s' "$2" | timeout "${REL_CALL_TIMEOUT:-30}" "$STITCHCTL" call "$1" - 2>/dev/null
        local rc=$?
        [ $rc -eq 124 ] && echo '{"error":"rel.Timeout"}'
        return 0
}
rel_err() { jq -r '.error // empty' <<<"$1" 2>/dev/null; }
rel_param() { jq -r ".parameters.$2 // empty" <<<"$1" 2>/dev/null; }
rel_login_json() { jq -cn --arg u "$1" --arg p "$2" '{user:$u,password:$p,service:"login"}'; }
