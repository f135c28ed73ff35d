#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Log injection (finding 4): user, service and rhost come from the network
# (PAM_USER from sshd, the remote host) and end up in stitchd's log lines.
# A "\n" in them must not forge a line of its own ("Login of root ..."),
# and terminal escape sequences (ESC, 8-bit and UTF-8 C1 CSI) must not
# reach the log raw: every log call is exactly one line.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

stitch_start
stitch_user ada@example.com ada 'ada-password'

FORGED='Login of root (user 000000000000000000000000) via sshd with local-userpass.'
NL=$'\n'
ESC=$'\x1b[2J\x1b]0;owned\x07'
C1=$'\xc2\x9b''31m'      # U+009B, CSI as UTF-8

login() { # USER PASSWORD SERVICE RHOST
        sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" --arg s "$3" --arg r "$4" \
                '{user:$u, password:$p, service:$s, rhost:$r}')"
}

# A successful login whose service carries a forged line and escapes
# ("Login of ada ... via <service> with ...").
login ada ada-password "sshd$NL$FORGED$ESC" "10.0.0.1" >/dev/null || fail "login of ada failed"
# Failed logins: the user, the service and the rhost each carry one
# ("Login for <user> via <service> with ... failed (rhost <rhost>)").
login "mallory$NL$FORGED" wrong-password "sshd" "10.0.0.2" >/dev/null 2>&1 && fail "mallory logged in"
login ada wrong-password "sshd$C1$NL$FORGED" "10.0.0.3" >/dev/null 2>&1 && fail "wrong password accepted"
login ada wrong-password "sshd" "10.0.0.4$NL$FORGED$ESC$C1" >/dev/null 2>&1 && fail "wrong password accepted"
login ada wrong-password "sshd" "10.0.0.5"$'\r'"$FORGED" >/dev/null 2>&1 && fail "wrong password accepted"
# A too-short password is refused before hashing, with its own log line.
login "eve$ESC$NL$FORGED" short "sshd" "10.0.0.6" >/dev/null 2>&1 && fail "eve logged in"
stitch_stop   # the log is complete

[ -s "$STITCHD_LOG" ] || fail "stitchd wrote no log"

# Every line is one of stitchd's own ("stitchd[PID]: LEVEL: ..."), so none
# was forged, and no forged text begins a line.
bad=$(LC_ALL=C grep -nv '^stitchd\[[0-9]*\]: [a-z]*: ' "$STITCHD_LOG")
[ -z "$bad" ] || fail "log lines stitchd did not write (forged by a newline):$NL$bad"
LC_ALL=C grep -q '^Login of root' "$STITCHD_LOG" && fail "a forged 'Login of root' line is in the log"
n=$(LC_ALL=C grep -c "$FORGED" "$STITCHD_LOG")
[ "$n" -ge 5 ] || fail "expected the forged text inside 5 or more lines, found $n"
ok "a newline or carriage return in user, service or rhost forges no log line"

LC_ALL=C grep -q $'\x1b' "$STITCHD_LOG" && fail "a raw ESC byte is in the log"
LC_ALL=C grep -q $'\x07' "$STITCHD_LOG" && fail "a raw BEL byte is in the log"
LC_ALL=C grep -q $'\r' "$STITCHD_LOG" && fail "a raw carriage return is in the log"
LC_ALL=C grep -q $'\xc2\x9b' "$STITCHD_LOG" && fail "a raw C1 CSI (U+009B) is in the log"
LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$STITCHD_LOG" && fail "a raw control character is in the log"
grep -qF '\x1b[2J\x1b]0;owned\x07' "$STITCHD_LOG" || fail "the escaped ESC sequence is not in the log"
grep -qF '\xc2\x9b31m' "$STITCHD_LOG" || fail "the escaped C1 sequence is not in the log"
ok "no raw escape sequence or control character reaches the log"

# Nothing was dropped: the names are there, escaped.
grep -qF 'via sshd\n'"$FORGED" "$STITCHD_LOG" || fail "the escaped service is not in the log"
grep -qF '(rhost 10.0.0.4\n' "$STITCHD_LOG" || fail "the escaped rhost is not in the log"
grep -qF 'Login for mallory\n' "$STITCHD_LOG" || fail "the escaped user is not in the log"
ok "the names are logged, escaped"
