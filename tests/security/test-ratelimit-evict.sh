#!/bin/bash
# Finding 5 (docs/security.md): a flood of other login names must not drop a
# locked account from the rate limiter. The limiter used to hash names with
# unkeyed FNV and, once its table was full, evict whatever sat in the new
# name's home slot: names crafted for the locked account's slot unlocked it.
# Now only idle accounts are evicted, a full table refuses new names
# (TooManyAttempts: fail closed), and SipHash with a random key makes the
# slots unpredictable.
#
# A real stitchd with a small table ([Limits] TrackedAccounts=64): lock ada,
# flood with names (unknown accounts, cheap api-key logins with a malformed
# key, as an attacker would choose), then ada's right password must still
# be refused and the daemon must still answer.
. "$TESTS_LIB"
[ "$(id -u)" = 0 ] || skip "needs root (logs in under other accounts' names)"
command -v jq >/dev/null || skip "jq is not installed"
command -v timeout >/dev/null || skip "timeout (coreutils) is not installed"

WIRE_RAW=$top_builddir/tests/helpers/wire-raw
TRACKED=64
stitch_config <<X
[Limits]
MaxFailures=3
TrackedAccounts=$TRACKED
X
# A stitchd from before the fix does not know TrackedAccounts= and has a
# fixed table of 65536 accounts: fill that instead (about 20 s), so that
# this test shows the old hole rather than a config error.
if ! "$STITCHD" --check-config --config "$STITCHD_CONF" >/dev/null 2>&1; then
        "$STITCHD" --check-config --config "$STITCHD_CONF" 2>&1 | grep -q "Unknown key 'TrackedAccounts'" \
                || fail "stitchd rejects the test's configuration"
        sed -i '/^TrackedAccounts=/d' "$STITCHD_CONF"
        TRACKED=65536
        echo "# stitchd without TrackedAccounts= (before the fix): flooding its fixed table of $TRACKED"
fi
stitch_start
stitch_user ada@example.com ada 'ada-password'

login_json() { jq -cn --arg u "$1" --arg p "$2" '{method:"io.stitch.Auth.Login", parameters:{user:$u, service:"login", provider:"local-userpass", password:$p}}'; }
# flood_json NAME...: one api-key login per name, NUL-terminated.
flood_json() {
        printf '{"method":"io.stitch.Auth.Login","parameters":{"user":"%s","service":"login","provider":"api-key","key":"stk_x"}}\0' "$@"
}
# seq_names PREFIX FIRST END: PREFIX<FIRST> .. PREFIX<END-1>
seq_names() { local i; for ((i = $2; i < $3; i++)); do echo "$1$i"; done; }
# wire: the NUL-terminated calls on stdin over one connection, a reply per
# line. A daemon that stops answering ends it (and the test) in bounded time.
wire() { timeout 60 "$WIRE_RAW" "$STITCH_SOCKET" 10000; }
err() { jq -r '.error // "ok"' <<<"$1"; }

# Lock ada: MaxFailures wrong passwords, and one more that sets the lock.
for i in 1 2 3 4; do
        out=$(timeout 30 "$STITCHCTL" call io.stitch.Auth.Login "$(jq -cn --arg p "wrong-pw-$i" \
                '{user:"ada", service:"login", provider:"local-userpass", password:$p}')" 2>/dev/null) || true
        expect_eq "wrong password $i" io.stitch.Error.InvalidCredentials "$(err "$out")"
done
ok "ada is locked after 3+1 wrong passwords"

# The flood: enough names to fill the table, then names crafted for the old
# hash (FNV-1a of "ada", the old limiter's key for her, lands in slot 98573
# of the old table's 131072; so do these), then more. Four connections at a
# time, 250 calls each (the replies of one connection stay well below
# stitchd's output buffer limit).
CRAFTED="evict-56623 evict-143267 evict-488055 evict-844992 evict-899486 evict-982865 evict-1129499 evict-1294574"
FILL=$((TRACKED - 1)) MORE=229
: > "$T/flood"
for ((s = 0; s < FILL; s += 1000)); do
        for ((p = 0; p < 4; p++)); do
                a=$((s + 250 * p)) e=$((s + 250 * p + 250))
                [ $e -gt $FILL ] && e=$FILL
                [ $a -lt $e ] || continue
                flood_json $(seq_names fill $a $e) | wire > "$T/flood.$p" &
        done
        wait
        cat "$T"/flood.* >> "$T/flood" 2>/dev/null
        rm -f "$T"/flood.*
done
flood_json $CRAFTED | wire >> "$T/flood"
flood_json $(seq_names more 0 $MORE) | wire >> "$T/flood"
sent=$((FILL + 8 + MORE))
answered=$(grep -c . "$T/flood")
expect_eq "flood calls answered" "$sent" "$answered"
ok "the daemon answered all $sent flood calls"

# ada's failures survived: a wrong and the right password on one connection.
# Either the lock still holds (both refused), or it has passed and the wrong
# one, still counted, locks her again (2 s) before the right one. Had the
# flood dropped her entry, the wrong one would be her first failure and the
# right one would log her in.
out=$(printf '%s\0%s\0' "$(login_json ada wrong-pw-5)" "$(login_json ada ada-password)" | wire)
first=$(err "$(sed -n 1p <<<"$out")") second=$(err "$(sed -n 2p <<<"$out")")
case "$first $second" in
"io.stitch.Error.TooManyAttempts io.stitch.Error.TooManyAttempts")
        ok "after the flood ada is still locked: her right password is refused" ;;
"io.stitch.Error.InvalidCredentials io.stitch.Error.TooManyAttempts")
        ok "after the flood ada's failures still count: the next one locked her, her right password is refused" ;;
"io.stitch.Error.TooManyAttempts ok")
        # The 1 s lock ended between the two calls; the refusal shows it survived the flood.
        ok "after the flood ada was still locked (the lock ended just before her right password)" ;;
"io.stitch.Error.InvalidCredentials ok")
        fail "the flood evicted ada's entry: her failures were forgotten and her right password logged her in" ;;
*)
        fail "ada after the flood: '$first' then '$second'" ;;
esac
[ "$second" = ok ] || expect_eq "retry_after" number "$(sed -n 2p <<<"$out" | jq -r '.parameters.retry_after | type')"

# Fail closed: once the table is full of active accounts, new names are
# refused without a check, with the time until the first one turns idle
# (FailureWindow, 15min). Exactly TRACKED-1 flood names were ever counted.
checked=$(jq -r .error "$T/flood" | grep -c InvalidCredentials)
refused=$(jq -r .error "$T/flood" | grep -c TooManyAttempts)
expect_eq "flood names checked" $((TRACKED - 1)) "$checked"
expect_eq "flood names refused" $((sent - TRACKED + 1)) "$refused"
retry=$(grep TooManyAttempts "$T/flood" | tail -n 1 | jq -r .parameters.retry_after)
[ "$retry" -ge 1 ] && [ "$retry" -le 900 ] || fail "retry_after $retry for a full table"
ok "with the table full, $refused new names were refused (retry_after ${retry}s), $checked counted"

# The daemon still answers, and an admin unlock still works.
timeout 30 "$STITCHCTL" user unlock ada >/dev/null || fail "stitchctl user unlock ada"
out=$(timeout 30 "$STITCHCTL" call io.stitch.Auth.Login "$(jq -cn '{user:"ada", service:"login", provider:"local-userpass", password:"ada-password"}')") \
        || fail "ada cannot log in after the unlock: $out"
expect_eq "login after unlock" ok "$(err "$out")"
ok "the daemon still answers; after an unlock ada logs in"
