#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon's mailer (stitchd/daemon/mailer.c) against a real SMTP server
# (tests/helpers/smtp-sink.py, aiosmtpd), driven by tests/helpers/mail-send
# as the core's outbox drives it: the message as received (headers, the link
# as it is, CRLF), a server down at first and a retry, a permanent refusal,
# mails dropped at a stop, STARTTLS required off loopback, the password file
# and the templates checked at start, and stitchd starting its mailer.
. "${TESTS_LIB:?run through make check}" || exit 99

SEND=$top_builddir/tests/helpers/mail-send
SINK_PY=$top_srcdir/tests/helpers/smtp-sink.py
[ -x "$SEND" ] || fail "$SEND was not built"
PY=
for p in /usr/bin/python3 python3; do
        if "$p" -c 'import aiosmtpd' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || skip "python3-aiosmtpd is not installed"

SINK_PIDS=
trap 'for p in $SINK_PIDS; do kill "$p" 2>/dev/null; done; stitch_cleanup' EXIT

# sink DIR [ARGS...]: starts a sink writing to DIR, sets SINK_PORT and SINK_PID.
sink() {
        local dir=$1
        shift
        mkdir -p "$dir"
        coproc SINK { exec "$PY" "$SINK_PY" --dir "$dir" "$@" 2>>"$T/sink.log"; }
        SINK_PID=$SINK_PID
        SINK_PIDS="$SINK_PIDS $SINK_PID"
        read -r -t 20 SINK_PORT <&"${SINK[0]}" || fail "the SMTP sink did not start: $(tail -n 5 "$T/sink.log")"
}
stop_sink() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; true; }

conf() { # conf FILE URL [MORE LINES]
        local f=$1 url=$2
        shift 2
        { printf '[Smtp]\nURL=%s\nFrom=noreply@mail.example.com\n' "$url"; printf '%s\n' "$@"; } > "$f"
}

header() { sed -n "s/^$1: \(.*\)\r\$/\1/p" "$2" | head -n 1; }

# ---- a mail arrives, as it should ------------------------------------------------------
sink "$T/in"
conf "$T/ok.conf" "smtp://127.0.0.1:$SINK_PORT"
"$SEND" "$T/ok.conf" user@example.org 3 >"$T/send.out" 2>"$T/send.log" \
        || fail "mail-send failed: $(cat "$T/send.out" "$T/send.log")"
expect_eq "counters" "sent=3 failed=0 queued=0" "$(cat "$T/send.out")"
[ "$(ls "$T/in"/*.eml | wc -l)" = 3 ] || fail "expected 3 mails, got: $(ls "$T/in")"
m=$T/in/0001.eml
expect_eq "From" noreply@mail.example.com "$(header From "$m")"
expect_eq "To" user@example.org "$(header To "$m")"
expect_eq "Subject" "Confirm your email address" "$(header Subject "$m")"
expect_eq "MIME-Version" 1.0 "$(header MIME-Version "$m")"
expect_eq "Content-Type" "text/plain; charset=UTF-8" "$(header Content-Type "$m")"
[[ "$(header Date "$m")" =~ ^[A-Z][a-z][a-z],\ [0-9]{2}\ [A-Z][a-z][a-z]\ [0-9]{4}\ [0-9:]{8}\ \+0000$ ]] \
        || fail "Date is not RFC 5322: $(header Date "$m")"
[[ "$(header Message-ID "$m")" =~ ^\<[0-9a-f]{32}@mail\.example\.com\>$ ]] || fail "Message-ID: $(header Message-ID "$m")"
grep -q $'^https://auth.example.com/confirm?token=secret-link-[0-9]&tokenId=[0-9]\r$' "$m" \
        || fail "the link is not in the mail as it is: $(cat "$m")"
[ "$(grep -c $'\r$' "$m")" = "$(wc -l < "$m")" ] || fail "a line of the mail does not end in CRLF"
grep -q '^MAIL FROM:<noreply@mail.example.com>$' "$T/in/0001.env" || fail "envelope sender: $(cat "$T/in/0001.env")"
grep -q '^RCPT TO:<user@example.org>$' "$T/in/0001.env" || fail "envelope recipient: $(cat "$T/in/0001.env")"
links=$(grep -ho 'secret-link-[0-9]' "$T"/in/*.eml | sort | tr '\n' ' ')
expect_eq "every link, once" "secret-link-0 secret-link-1 secret-link-2 " "$links"
grep -q 'secret-link' "$T/send.log" && fail "a link was logged: $(grep secret-link "$T/send.log")"
grep -q 'Mail to user@example.org (confirm) sent' "$T/send.log" || fail "no log line for the mail sent: $(cat "$T/send.log")"
# the reset mail and its subject
"$SEND" --kind reset "$T/ok.conf" user@example.org 1 >/dev/null 2>&1 || fail "reset mail not sent"
expect_eq "reset Subject" "Reset your password" "$(header Subject "$T/in/0004.eml")"
stop_sink "$SINK_PID"
ok "mails arrive with From, To, Subject, Date, Message-ID, CRLF lines and the link as it is; no link in the log"

# ---- the server down at first, then up: the mail arrives after a retry ------------------------
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
conf "$T/later.conf" "smtp://127.0.0.1:$port"
"$SEND" --first-retry 1 --wait 30 "$T/later.conf" late@example.org 1 >"$T/later.out" 2>"$T/later.log" &
send_pid=$!
for i in $(seq 1 200); do  # until the first attempt has failed, as logged
        grep -q 'next attempt in' "$T/later.log" 2>/dev/null && break
        sleep 0.05
done
grep -q 'Mail to late@example.org (confirm) failed: ' "$T/later.log" || fail "no failure logged: $(cat "$T/later.log")"
sink "$T/later" --port "$port"
wait "$send_pid" || fail "the mail was not sent after the server came up: $(cat "$T/later.out" "$T/later.log")"
[ -f "$T/later/0001.eml" ] || fail "no mail received after the retry"
grep -q 'sent after a retry' "$T/later.log" || fail "no retry logged: $(cat "$T/later.log")"
grep -q 'secret-link' "$T/later.log" && fail "a link was logged"
stop_sink "$SINK_PID"
ok "a server down at first: the failure is logged without the link, the retry delivers"

# ---- a permanent refusal is given up at once; a stop drops what waits ------------------------
sink "$T/refuse" --reject-rcpt 550
conf "$T/refuse.conf" "smtp://127.0.0.1:$SINK_PORT"
"$SEND" --wait 10 "$T/refuse.conf" nobody@example.org 1 >"$T/refuse.out" 2>"$T/refuse.log" && fail "a refused mail counted as sent"
expect_eq "counters" "sent=0 failed=1 queued=0" "$(cat "$T/refuse.out")"
grep -q 'given up after 1 attempt' "$T/refuse.log" || fail "a 550 was retried: $(cat "$T/refuse.log")"
stop_sink "$SINK_PID"
"$SEND" --wait 0.5 --grace 0.5 "$T/later.conf" drop@example.org 2 >"$T/drop.out" 2>"$T/drop.log" && fail "mails to a dead server counted as sent"
grep -q 'Dropping 2 pending mails at shutdown' "$T/drop.log" || fail "no drop logged at the stop: $(cat "$T/drop.log")"
ok "a 550 is given up after one attempt; mails still waiting at a stop are dropped, logged"

# ---- STARTTLS is required off loopback ---------------------------------------------------------
addr=$(ip -o -4 addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
if [ -n "$addr" ]; then
        sink "$T/plain" --host "$addr"
        conf "$T/plain.conf" "smtp://$addr:$SINK_PORT"
        "$SEND" --wait 3 --grace 0.2 "$T/plain.conf" user@example.org 1 >"$T/plain.out" 2>"$T/plain.log" \
                && fail "a mail went out in clear text to $addr"
        grep -q "STARTTLS required" "$T/plain.log" || fail "STARTTLS not required for $addr: $(cat "$T/plain.log")"
        grep -q 'Mail to user@example.org (confirm) failed: ' "$T/plain.log" || fail "no failure logged: $(cat "$T/plain.log")"
        ls "$T/plain"/*.eml >/dev/null 2>&1 && fail "the server off loopback received a mail without TLS"
        stop_sink "$SINK_PID"
        ok "smtp://$addr without STARTTLS: refused at send ($(grep -o 'failed: [^(]*' "$T/plain.log" | head -n 1))"

        # The production path: STARTTLS with a certificate of a private CA,
        # verified through [Smtp] CAFile= (and refused without it).
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=stitch test SMTP" \
                -addext "subjectAltName=IP:$addr" -keyout "$T/smtp.key" -out "$T/smtp.pem" >/dev/null 2>&1 \
                || fail "openssl could not make a certificate"
        sink "$T/tls" --host "$addr" --starttls "$T/smtp.pem" "$T/smtp.key"
        conf "$T/tls.conf" "smtp://$addr:$SINK_PORT" "CAFile=$T/smtp.pem"
        "$SEND" --wait 10 "$T/tls.conf" user@example.org 1 >"$T/tls.out" 2>"$T/tls.log" \
                || fail "a mail over STARTTLS failed: $(cat "$T/tls.out" "$T/tls.log")"
        expect_eq "counters over STARTTLS" "sent=1 failed=0 queued=0" "$(cat "$T/tls.out")"
        ls "$T/tls"/*.eml >/dev/null 2>&1 || fail "the server received nothing over STARTTLS"
        conf "$T/tls-noca.conf" "smtp://$addr:$SINK_PORT"
        "$SEND" --wait 3 --grace 0.2 "$T/tls-noca.conf" user@example.org 1 >"$T/noca.out" 2>"$T/noca.log" \
                && fail "a certificate no CA vouches for was accepted"
        grep -q 'Mail to user@example.org (confirm) failed: ' "$T/noca.log" || fail "no failure logged: $(cat "$T/noca.log")"
        [ "$(ls "$T/tls"/*.eml | wc -l)" = 1 ] || fail "a mail went to a server whose certificate was not verified"
        stop_sink "$SINK_PID"
        ok "STARTTLS to $addr: sent with CAFile= naming its CA, refused without ($(grep -o 'failed: [^(]*' "$T/noca.log" | head -n 1))"
else
        echo "# no non-loopback IPv4 address here: STARTTLS off loopback not tested"
fi

# ---- the password file and the templates, checked at start --------------------------------------
printf 'hunter2-smtp\n' > "$T/pw"
chmod 0600 "$T/pw"
conf "$T/pw.conf" "smtp://127.0.0.1:25" "Username=stitch" "PasswordFile=$T/pw"
"$SEND" --check "$T/pw.conf" >"$T/check.out" 2>&1 || fail "a 0600 password file refused: $(cat "$T/check.out")"
chmod 0644 "$T/pw"
"$SEND" --check "$T/pw.conf" >"$T/check.out" 2>&1 && fail "a world-readable password file accepted"
grep -q 'readable by others' "$T/check.out" || fail "no reason given: $(cat "$T/check.out")"
chmod 0620 "$T/pw"
"$SEND" --check "$T/pw.conf" >"$T/check.out" 2>&1 && fail "a group-writable password file accepted"
grep -q 'writable by group or others' "$T/check.out" || fail "no reason given: $(cat "$T/check.out")"
grep -q 'hunter2' "$T/check.out" && fail "the password was printed"
"$SEND" "$T/pw.conf" user@example.org 1 >/dev/null 2>"$T/pw.log" && fail "the mailer started with a loose password file"

mkdir -p "$T/tpl/de"
printf 'Confirm: {{link}}\n' > "$T/tpl/confirm.txt"
printf 'Reset for {{email}}:\n{{link}}\nbye {{user}}\n' > "$T/tpl/reset.txt"
printf 'Bestätigen: {{link}}\n' > "$T/tpl/de/confirm.txt"
conf "$T/tpl.conf" "smtp://127.0.0.1:25" "TemplateDirectory=$T/tpl"
"$SEND" --check "$T/tpl.conf" >"$T/check.out" 2>&1 && fail "an unknown placeholder accepted"
grep -q "^$T/tpl/reset.txt:3: unknown placeholder {{user}}" "$T/check.out" || fail "no file:line: $(cat "$T/check.out")"
printf 'Reset for {{email}}:\n{{link}}\n' > "$T/tpl/reset.txt"
sink "$T/tplin"
conf "$T/tpl.conf" "smtp://127.0.0.1:$SINK_PORT" "TemplateDirectory=$T/tpl"
"$SEND" --locale de-AT "$T/tpl.conf" user@example.org 1 >/dev/null 2>&1 || fail "templated mail not sent"
grep -q $'^Bestätigen: https://auth.example.com/confirm?token=secret-link-0&tokenId=0\r$' "$T/tplin/0001.eml" \
        || fail "the de template was not used: $(cat "$T/tplin/0001.eml")"
expect_eq "8bit body" 8bit "$(header Content-Transfer-Encoding "$T/tplin/0001.eml")"
stop_sink "$SINK_PID"
ok "password file: 0600 taken, readable or writable by others refused, never printed; templates: file:line errors, locales"

# ---- stitchd starts its mailer from [Smtp], and refuses a bad template ---------------------------
sink "$T/daemon"
stitch_config <<X
[Smtp]
URL=smtp://127.0.0.1:$SINK_PORT
From=noreply@mail.example.com
X
stitch_start
grep -q "Mail goes out through smtp://127.0.0.1:$SINK_PORT" "$STITCHD_LOG" || fail "stitchd did not start its mailer"
grep -q '/libcurl\.so' "/proc/$STITCHD_PID/maps" || fail "stitchd sends mail without libcurl mapped?"
stitch_stop
# Without [Smtp] the daemon maps no libcurl (nor GnuTLS's Kerberos/LDAP/SSH
# friends that come with it): it is loaded only for mail.
mv "$STITCHD_CONF" "$T/with-smtp.conf"
stitch_config </dev/null
stitch_start
grep -q '/libcurl\.so' "/proc/$STITCHD_PID/maps" && fail "stitchd without [Smtp] mapped libcurl: $(grep curl "/proc/$STITCHD_PID/maps")"
stitch_stop
mv "$T/with-smtp.conf" "$STITCHD_CONF"
printf 'Reset {{nope}}\n' > "$T/tpl/reset.txt"
printf '[Smtp]\nTemplateDirectory=%s\n' "$T/tpl" >> "$STITCHD_CONF"
"$STITCHD" --foreground --config "$STITCHD_CONF" >/dev/null 2>"$T/bad-daemon.log" && fail "stitchd ran with a bad template"
grep -q "reset.txt:1: unknown placeholder {{nope}}" "$T/bad-daemon.log" || fail "no file:line from stitchd: $(cat "$T/bad-daemon.log")"
stop_sink "$SINK_PID"
ok "stitchd starts its mailer with [Smtp] URL= (libcurl loaded then, not without it) and does not start on a bad template (file:line in its log)"
exit 0
