# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the tests that talk to stitchd's HTTP front end. Source it
# after tests/lib.sh:
#   . "${TESTS_LIB:?run through make check}" || exit 99
#   . "$top_srcdir/tests/http/http-lib.sh"
# It starts a daemon with [Http] on a free port (http_start), sends requests
# with curl (http) and counts checks that fail without ending the test
# (check, bad). A test that sends requests with curl checks for curl itself.

command -v python3 >/dev/null || skip "python3 is needed to find a free port"

# The client API's routes: BASE, and APP those of the default AppId=stitch.
BASE=/api/client/v2.0
APP=$BASE/app/stitch
# SCHEME=https with CURL_TLS=(--cacert FILE) before http_start for a daemon
# with CertificateFile= and KeyFile=.
SCHEME=http CURL_TLS=()

http_free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# http_start [EXTRA CONFIG LINES on stdin]: starts stitchd with
#   [Http]
#   Listen=127.0.0.1:PORT
# followed by the lines on stdin (more [Http] keys, then other sections) on
# a free port, and sets PORT and URL. A port taken between the probe and
# the bind (another process's race) is retried with a new one.
http_start() {
        local conf try rc before
        conf=$([ -t 0 ] || cat)
        for try in 1 2 3; do
                before=$(cat "$STITCHD_LOG" 2>/dev/null | wc -l)
                PORT=$(http_free_port) || fail "no free port"
                stitch_config <<X
[Http]
Listen=127.0.0.1:$PORT
$conf
X
                : >"$T/start.err"
                rc=0
                # In a subshell, so that a start that fails (a taken port)
                # can be retried instead of ending the test.
                STITCHD_PID=$(stitch_start 2>"$T/start.err"; echo "$STITCHD_PID") || rc=$?
                if [ "$rc" = 0 ] && [ -n "$STITCHD_PID" ]; then
                        URL=$SCHEME://127.0.0.1:$PORT
                        ! command -v curl >/dev/null \
                                || curl -s "${CURL_TLS[@]}" -o /dev/null "$URL$BASE/app/stitch/location" \
                                || fail "stitchd is ready but nothing answers HTTP on $URL (is the HTTP front end built?)"
                        return 0
                fi
                [ "$rc" = 77 ] && { cat "$T/start.err" >&2; exit 77; }
                { tail -n +"$((before + 1))" "$STITCHD_LOG"; cat "$T/start.err"; } 2>/dev/null \
                        | grep -qi 'address already in use' || break
                echo "# port $PORT was taken meanwhile, trying another" >&2
        done
        cat "$T/start.err" >&2
        fail "stitchd with [Http] did not start"
}

# http METHOD PATH [BEARER [JSON]]: sets STATUS and BODY
http() {
        local args=(-s "${CURL_TLS[@]}" -o "$T/body" -w '%{http_code}' -X "$1")
        [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
        [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
        STATUS=$(curl "${args[@]}" "$URL$2")
        BODY=$(cat "$T/body" 2>/dev/null)
}

# Checks that report and let the test go on; it ends with
#   [ "$FAILED" = 0 ] || fail "$FAILED check(s) failed"
#   bad WHAT              counts a failed check
#   check WHAT CMD...     ok when CMD succeeds, else bad
FAILED=0
bad() { echo "not ok - $*" >&2; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# ---- a real SMTP server for the email/password tests ----------------------------
# smtp_sink_start CLEANUP: starts tests/helpers/smtp-sink.py (aiosmtpd) on a
# free loopback port, writing each mail to $T/mail/NNNN.eml; sets SINK_PORT
# and stops it at exit, then runs CLEANUP (the test's own exit trap).
# Skips when python3-aiosmtpd is missing.
smtp_sink_start() {
        local p py=
        for p in /usr/bin/python3 python3; do
                if "$p" -c 'import aiosmtpd' 2>/dev/null; then py=$p; break; fi
        done
        [ -n "$py" ] || skip "python3-aiosmtpd is not installed"
        mkdir -p "$T/mail"
        coproc SINK { exec "$py" "$top_srcdir/tests/helpers/smtp-sink.py" --dir "$T/mail" 2>>"$T/sink.log"; }
        SINK_JOB=$SINK_PID
        trap "kill $SINK_JOB 2>/dev/null; $1" EXIT
        read -r -t 20 SINK_PORT <&"${SINK[0]}" || fail "the SMTP sink did not start: $(tail -n 5 "$T/sink.log")"
}
# mail_n N: waits for mail number N (0001.eml...) and prints its file.
mail_n() {
        local f i
        f=$(printf '%s/%04d.eml' "$T/mail" "$1")
        for i in $(seq 1 300); do [ -s "$f" ] && { echo "$f"; return 0; }; sleep 0.05; done   # the mailer's thread
        fail "mail $1 did not arrive: $(ls "$T/mail") $(tail -n 5 "$STITCHD_LOG")"
}
mails() { ls "$T/mail"/*.eml 2>/dev/null | wc -l; }
# link_of FILE: the confirmation or reset link in a mail.
link_of() { grep -o 'http://[^[:space:]]*token=[^[:space:]]*' "$1" | tr -d '\r' | head -n 1; }

