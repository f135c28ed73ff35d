#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The HTTP front end's transport: TLS (CertificateFile=/KeyFile=, GnuTLS
# through libmicrohttpd) with a real certificate and curl, a bad key
# refused at start, a taken port refused at start, socket activation with
# a socket named "http" (systemd-socket-activate), the idle/slow request
# timeout, and the per-address connection limit.
. "${TESTS_LIB:?run through make check}" || exit 99
. "$top_srcdir/tests/http/http-lib.sh"

command -v curl >/dev/null || skip "curl is not installed"
command -v openssl >/dev/null || skip "openssl is not installed"

LOC=/api/client/v2.0/app/stitch/location

# ---- TLS -------------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null \
        || fail "openssl could not make a certificate"
chmod 600 "$T/key.pem"
SCHEME=https CURL_TLS=(--cacert "$T/cert.pem")
http_start <<EOF
CertificateFile=$T/cert.pem
KeyFile=$T/key.pem
EOF
body=$(curl -sS --cacert "$T/cert.pem" "https://127.0.0.1:$PORT$LOC") || fail "HTTPS request failed"
[ "$(jq -r .hostname <<<"$body")" = "https://127.0.0.1:$PORT" ] || fail "location over TLS: $body"
[ "$(jq -r .ws_hostname <<<"$body")" = "wss://127.0.0.1:$PORT" ] || fail "ws_hostname over TLS: $body"
grep -q "Serving the HTTP client API on 127.0.0.1:$PORT .*TLS" "$STITCHD_LOG" || fail "no TLS line in the log"
# The certificate is checked by the client: another CA does not do.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=other" \
        -keyout "$T/other.key" -out "$T/other.pem" 2>/dev/null
if curl -sS --cacert "$T/other.pem" -o /dev/null "https://127.0.0.1:$PORT$LOC" 2>/dev/null; then
        fail "a certificate from another CA was accepted: not our certificate?"
fi
# Plain HTTP to the TLS port gets no HTTP answer.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT$LOC" || true)
[ "$code" = 000 ] || fail "plain HTTP on the TLS port answered $code"
grep -q "BEGIN" "$STITCHD_LOG" && fail "key material in the log"
stitch_stop
ok "TLS: location over HTTPS with the configured certificate (wss:// ws_hostname); plain HTTP gets nothing"

# ---- refusals at start --------------------------------------------------------------
PORT=$(http_free_port)
echo "not a key" >"$T/bad.pem"
stitch_config <<EOF
[Http]
Listen=127.0.0.1:$PORT
CertificateFile=$T/cert.pem
KeyFile=$T/bad.pem
EOF
if "$STITCHD" --foreground --config "$STITCHD_CONF" >"$T/bad.log" 2>&1 </dev/null; then
        fail "stitchd started with a bad TLS key"
fi
grep -q "Cannot start the HTTP server on 127.0.0.1:$PORT" "$T/bad.log" || fail "no clear error for a bad key: $(cat "$T/bad.log")"
grep -q "not a key" "$T/bad.log" && fail "the key file's content was logged"

python3 - "$PORT" >"$T/holder.out" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("listening", flush=True); time.sleep(60)
EOF
HOLDER=$!
for _ in $(seq 100); do grep -q listening "$T/holder.out" 2>/dev/null && break; read -r -t 0.1 <> <(:) || true; done
grep -q listening "$T/holder.out" || fail "the port holder did not start"
stitch_config <<EOF
[Http]
Listen=127.0.0.1:$PORT
EOF
if "$STITCHD" --foreground --config "$STITCHD_CONF" >"$T/taken.log" 2>&1 </dev/null; then
        fail "stitchd started on a taken port"
fi
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
grep -q "Cannot listen on \[Http\] Listen=127.0.0.1:$PORT" "$T/taken.log" || fail "no clear error for a taken port: $(cat "$T/taken.log")"
ok "a bad TLS key and a taken port stop the start with a clear error (and no key in it)"

# ---- socket activation -------------------------------------------------------------------
if command -v systemd-socket-activate >/dev/null; then
        PORT=$(http_free_port)
        stitch_config <<EOF
[Http]
Listen=127.0.0.1:$PORT
EOF
        systemd-socket-activate -l "127.0.0.1:$PORT" --fdname=http -- \
                "$STITCHD" --foreground --config "$STITCHD_CONF" >"$T/act.log" 2>&1 </dev/null &
        ACT=$!
        for _ in $(seq 100); do grep -q "Listening on" "$T/act.log" 2>/dev/null && break; read -r -t 0.1 <> <(:) || true; done
        grep -q "Listening on" "$T/act.log" || fail "systemd-socket-activate is not listening"
        # The first connection starts the daemon, which takes the passed socket.
        body=$(curl -sS --max-time 30 "http://127.0.0.1:$PORT$LOC") || fail "request to the activated socket failed"
        [ "$(jq -r .hostname <<<"$body")" = "http://127.0.0.1:$PORT" ] || fail "activated location: $body"
        kill -TERM "$ACT"; wait "$ACT" 2>/dev/null
        grep -q "Using 1 socket(s) passed by systemd" "$T/act.log" || fail "the passed socket was not used: $(cat "$T/act.log")"
        ok "socket activation: the socket named http serves the API"
else
        echo "# systemd-socket-activate missing: socket activation not checked"
fi

# ---- timeouts and the per-address limit ------------------------------------------------------
SCHEME=http CURL_TLS=()
# (Timeout= is also the deadline of the two held connections below: long
# enough that a loaded machine still opens the third one within it.)
http_start <<EOF
Timeout=3s
MaxConnectionsPerAddress=2
EOF
# A request that never finishes its headers is closed by the server (Timeout=3s):
# the read ends at EOF well before the 20 s the client would wait.
rc=0
timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'; printf "GET / HTTP/1.1\r\nHost: x\r\n" >&3; cat <&3 >/dev/null' || rc=$?
[ "$rc" = 0 ] || fail "a stalled request was not closed by the server (rc $rc)"
# Two connections held open; the third is refused at once.
exec 3<>"/dev/tcp/127.0.0.1/$PORT" 4<>"/dev/tcp/127.0.0.1/$PORT"
rc=0
out=$(timeout 20 bash -c 'exec 5<>/dev/tcp/127.0.0.1/'"$PORT"'; printf "GET '"$LOC"' HTTP/1.1\r\nHost: x\r\n\r\n" >&5; cat <&5') || rc=$?
# (The server may close it before the request is written or read: EPIPE,
# ECONNRESET. Only the client's own timeout, 124, means it was kept.)
[ "$rc" != 124 ] || fail "the connection over MaxConnectionsPerAddress=2 was not closed"
case $out in *"200 OK"*) fail "a third connection from one address was served" ;; esac
printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$LOC" >&3
reply=$(timeout 20 cat <&3) || fail "a held connection did not answer"
case $reply in *"200 OK"*) ;; *) fail "a held connection got: $reply" ;; esac
exec 3>&- 4>&-
stitch_stop
ok "Timeout= closes a stalled request; MaxConnectionsPerAddress= refuses the connection over it"

# ---- anonymous app logins per client address ------------------------------------------------
# Each anonymous login makes a user: CallerLoginsPerMinute= bounds them per
# client address (an X-Forwarded-For from an untrusted peer changes nothing).
http_start <<EOF2
[Provider.anon-user]
Enabled=yes
[Limits]
CallerLoginsPerMinute=3
EOF2
ANON=http://127.0.0.1:$PORT/api/client/v2.0/app/stitch/auth/providers/anon-user/login
for i in 1 2 3; do
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Forwarded-For: 10.0.0.$i" -d '{}' "$ANON")
        [ "$code" = 200 ] || fail "anonymous login $i: HTTP $code"
done
code=$(curl -s -D "$T/h" -o "$T/b" -w '%{http_code}' -X POST -H 'X-Forwarded-For: 10.0.0.9' -d '{}' "$ANON")
[ "$code" = 429 ] || fail "a 4th anonymous login in a minute from one address: HTTP $code"
[ "$(jq -r .error_code "$T/b")" = TooManyRequests ] || fail "429 body: $(cat "$T/b")"
grep -qi '^Retry-After: [1-9]' "$T/h" || fail "no Retry-After on the 429"
# Password logins are not counted against it.
printf 'secret123\n' | "$STITCHCTL" user add --email limit@example.com --password-stdin >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"username":"limit@example.com","password":"secret123"}' \
        "http://127.0.0.1:$PORT/api/client/v2.0/app/stitch/auth/providers/local-userpass/login")
[ "$code" = 200 ] || fail "a password login after the anonymous limit: HTTP $code"
stitch_stop
ok "anonymous app logins are limited per client address (CallerLoginsPerMinute=), password logins are not"
