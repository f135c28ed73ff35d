#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 11: the failed-login limiter was keyed by the name asked for, so
# one account reachable by two names (its unix_name and its email's local
# part with [Pam] EmailDomain) had two budgets. Now failures count per
# account when the name resolves, per name otherwise; unknown names keep
# the same answers and the same lockout.
. "$TESTS_LIB"
command -v jq >/dev/null || skip "jq is not installed"
stitch_config <<'X'
[Pam]
EmailDomain=example.com
[Limits]
MaxFailures=3
BackoffMax=1h
X
stitch_start
stitch_user lovelace@example.com ada 'right password'
attempt() { # attempt NAME PASSWORD: prints the error name, or "ok"
        local out
        out=$(sctl call io.stitch.Auth.Login "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u,password:$p,service:"login"}')") \
                && { echo ok; return; }
        jq -r .error <<<"$out"
}

# Four wrong guesses through the unix_name (the fourth sets the lock) ...
for i in 1 2 3 4; do
        expect_eq "guess $i via ada" io.stitch.Error.InvalidCredentials "$(attempt ada "wrong $i")"
done
# ... and the other name of the same account is locked too, even with the
# right password.
expect_eq "right password via the email's local part" io.stitch.Error.TooManyAttempts "$(attempt lovelace 'right password')"
expect_eq "right password via the unix_name" io.stitch.Error.TooManyAttempts "$(attempt ada 'right password')"
ok "both names of one account share one failure budget"

# An admin unlock clears the account, whichever name it is asked by.
sctl user unlock lovelace@example.com >/dev/null || fail "unlock"
expect_eq "after unlock via the other name" ok "$(attempt ada 'right password')"
ok "unlocking the account unlocks every name of it"

# Unknown names: the same answers, the same lockout as a real account.
for i in 1 2 3 4; do
        expect_eq "guess $i for an unknown name" io.stitch.Error.InvalidCredentials "$(attempt nosuchuser "wrong $i")"
done
expect_eq "unknown name after the budget" io.stitch.Error.TooManyAttempts "$(attempt nosuchuser 'right password')"
ok "an unknown name is limited exactly like an account"
