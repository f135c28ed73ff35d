#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Second review, R7: once an account was locked, a name of it that the
# limiter did not resolve (the full email through PAM, the Unix name or the
# email's local part over HTTP) was counted under a budget of its own: it
# was hashed and answered InvalidCredentials while every other name of the
# account answered TooManyAttempts. Now every name of the account, on every
# path, meets the account's lock before any hash: the reply is
# TooManyAttempts and the daemon's password_verifications count (Status)
# does not move.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"

port=
if command -v curl >/dev/null && command -v python3 >/dev/null; then
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
fi
stitch_config <<X
[Pam]
EmailDomain=example.com
[Limits]
MaxFailures=3
BackoffMax=1h
FailureWindow=1h
$([ -n "$port" ] && printf '[Http]\nListen=127.0.0.1:%s\nTrustedProxies=127.0.0.1\n' "$port")
X
stitch_start
stitch_user sal.other@example.com sal 'right password'

login() { # login NAME PASSWORD: the error name, or "ok"
        local out
        out=$(sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u,password:$p,service:"login"}')") \
                && { echo ok; return; }
        jq -r .error <<<"$out"
}
passwd_check() { # the current-password check of PAM passwd (ChangePassword)
        local out
        out=$(sctl call io.stitch.Auth.ChangePassword \
                "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u,old_password:$p,check_only:true}')") \
                && { echo ok; return; }
        jq -r .error <<<"$out"
}
app_login() { # app_login NAME PASSWORD FORWARDED_FOR: the HTTP status
        curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H "X-Forwarded-For: $3" \
                --data "$(jq -cn --arg u "$1" --arg p "$2" '{username:$u,password:$p}')" \
                "http://127.0.0.1:$port/api/client/v2.0/app/stitch/auth/providers/local-userpass/login"
}
verifications() { sctl status --json | jq -r .password_verifications; }

# The first lock lasts 1 s (then 2 s, 4 s, ...): checks that take longer
# than that on a loaded machine are repeated rather than failed, so a
# refusal here is always the lock's.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
locked_round() { # prints what went wrong, nothing when every check passed
        local i name pw n before t0
        sctl user unlock sal >/dev/null || { echo "unlock failed"; return; }
        # Lock the account through its Unix name: MaxFailures wrong
        # passwords, and one more that sets the lock.
        for i in 1 2 3 4; do
                [ $i = 4 ] && t0=$(now_ms)
                [ "$(login sal "wrong $i")" = io.stitch.Error.InvalidCredentials ] || { echo "guess $i via sal"; return; }
        done
        before=$(verifications)
        # Every name of the account is refused now, the right password
        # included, and none of these attempts costs a hash.
        for name in sal sal.other sal.other@example.com; do
                for pw in 'another guess' 'right password'; do
                        got=$(login "$name" "$pw")
                        [ "$got" = io.stitch.Error.TooManyAttempts ] || echo "PAM login as $name ($pw) while locked: $got"
                done
                got=$(passwd_check "$name" 'another guess')
                [ "$got" = io.stitch.Error.TooManyAttempts ] || echo "ChangePassword check as $name while locked: $got"
        done
        # App logins over HTTP: the email, the Unix name and the email's
        # local part, each from a fresh address so that only the account's
        # budget speaks.
        n=0
        for name in ${port:+sal.other@example.com sal sal.other}; do
                n=$((n + 1))
                got=$(app_login "$name" 'another guess' "192.0.2.$n")
                [ "$got" = 429 ] || echo "app login as $name while locked: HTTP $got"
        done
        got=$(verifications)
        [ "$got" = "$before" ] || echo "$((got - before)) password verifications while locked"
        [ $(( $(now_ms) - t0 )) -lt 1000 ] || echo "SLOW"
}
for try in 1 2 3 4 5 6; do
        problems=$(locked_round)
        [ -z "$problems" ] && break
        # Only a round that outlived the 1 s lock may be tried again.
        grep -q '^SLOW$' <<<"$problems" || fail "$(tr '\n' ';' <<<"$problems")"
        echo "# round $try outlived the first lock (1 s), again"
done
[ -z "$problems" ] || fail "the checks never ran within the first lock: $problems"
ok "a locked account refuses every name of it, through PAM${port:+ and over HTTP}, before any hash"

# An admin unlock frees every name; the unresolvable ones still never log in.
sctl user unlock sal >/dev/null || fail "unlock"
expect_eq "the Unix name after the unlock" ok "$(login sal 'right password')"
expect_eq "the local part after the unlock" ok "$(login sal.other 'right password')"
expect_eq "the full email through PAM (not a login name there)" io.stitch.Error.InvalidCredentials \
        "$(login sal.other@example.com 'right password')"
ok "after an unlock the account logs in again by its login names"

# Failures through the full email count against the account (one budget
# for all its names) ...
sctl user unlock sal >/dev/null || fail "unlock"
for i in 1 2 3 4; do
        expect_eq "guess $i via the full email" io.stitch.Error.InvalidCredentials \
                "$(login sal.other@example.com "wrong $i")"
done
expect_eq "the Unix name after guesses through the full email" io.stitch.Error.TooManyAttempts \
        "$(login sal 'right password')"
ok "guesses through the full email spend the account's budget"

# ... and unknown names keep their own budget, exactly as before.
for i in 1 2 3 4; do
        expect_eq "guess $i for an unknown address" io.stitch.Error.InvalidCredentials \
                "$(login nobody@example.com "wrong $i")"
done
expect_eq "unknown address after the budget" io.stitch.Error.TooManyAttempts "$(login nobody@example.com 'x-password')"
ok "an unknown name is limited exactly like an account"
