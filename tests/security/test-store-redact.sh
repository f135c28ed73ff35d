#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Store= in messages (finding 8): the store specification is shown at
# startup, in the status reply and in configuration errors. A database URL
# (the PostgreSQL store) may carry a password; it must never be printed,
# however it is written. The PostgreSQL store refuses a password in its
# URI, which is exactly when it is echoed; one that is valid (a passfile=)
# fails to start here (nothing listens on port 1) and is logged too.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

SECRET=s3cretpw

# try NAME LINE [valid]: a config whose [Daemon] section has LINE;
# --check-config (unless the spec is valid) and a start must both fail
# without printing SECRET.
try() {
        local name=$1 line=$2 valid=${3:-} conf=$T/$1.conf rc
        printf '[Daemon]\n%s\nAuthSocket=%s\nAdminSocket=%s\n' "$line" "$T/$name.auth" "$T/$name.admin" > "$conf"
        "$STITCHD" --check-config --config "$conf" >"$T/$name.check.out" 2>"$T/$name.check.err" </dev/null
        rc=$?
        [ -n "$valid" ] || [ "$rc" -ne 0 ] || fail "$name: --check-config accepted $line"
        # (timeout: a bound in case the spec is ever accepted and the start hangs, not a wait)
        timeout 60 "$STITCHD" --foreground --config "$conf" >"$T/$name.start.out" 2>"$T/$name.start.err" </dev/null
        rc=$?
        [ "$rc" -ne 0 ] || fail "$name: stitchd started with $line"
        for f in "$T/$name".check.out "$T/$name".check.err "$T/$name".start.out "$T/$name".start.err; do
                if grep -qF "$SECRET" "$f"; then
                        fail "$name: the password is printed (${f##*/}): $(cat "$f")"
                fi
        done
        [ -n "$valid" ] || grep -q 'Store' "$T/$name.check.err" ||
                fail "$name: the error does not name Store=: $(cat "$T/$name.check.err")"
}

try userinfo "Store=postgresql://u:$SECRET@127.0.0.1/db"
grep -qF 'Store=postgresql://u:***@127.0.0.1/db' "$T/userinfo.check.err" \
        || fail "the error does not show the masked URL: $(cat "$T/userinfo.check.err")"
try query "Store=postgresql://127.0.0.1/db?user=u&password=$SECRET&sslmode=require"
try passfile "Store=postgresql://u@127.0.0.1:1/db?passfile=/root/$SECRET&connect_timeout=5" valid
grep -q 'Store' "$T/passfile.start.err" || fail "passfile: the failed start does not name the store: $(cat "$T/passfile.start.err")"
try keywords "Store=postgresql:host=127.0.0.1 user=u password=$SECRET dbname=db"
try noequals "Store postgresql://u:$SECRET@127.0.0.1/db"
ok "--check-config and a start with a password in Store= do not print it"

# The running daemon on its SQLite store: the startup log and the status
# reply still show the store as it is.
stitch_start
st=$(sctl status --json) || fail "stitchctl status --json: $st"
expect_eq "store in the status reply" "sqlite:$T/stitch.db" "$(jq -r .store <<<"$st")"
sctl status | grep -qF "sqlite:$T/stitch.db" || fail "stitchctl status does not show the store"
grep -qF "store sqlite:$T/stitch.db." "$STITCHD_LOG" || fail "the startup log does not name the store"
ok "stitchctl status and the startup log show the SQLite store"
