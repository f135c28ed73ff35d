#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 14: the account hook fails open while stitchd is down (the shipped
# stacks say authinfo_unavail=ignore), so a disabled stitch user with an SSH
# key got in. That stays the default, deliberately; offline=deny makes the
# module refuse the accounts it knows stitch manages, by a root-only cache of
# what stitchd last answered. Real stitchd, real libpam, the account line of
# etc/pam.d/stitch-sshd, a login that skips auth as an SSH-key login does.
. "$top_srcdir/tests/pam/pam-lib.sh"
need_stitchd
[ "$(id -u)" = 0 ] || skip "needs root (the cache is root's, temporary Unix accounts)"

stitch_local_account ADA       # a stitch account that may log in
stitch_local_account BOB       # a stitch account, disabled
stitch_local_account CAROL     # a local account stitch does not know
stitch_start
stitch_user ada@example.com "$ADA" 'ada-password'
stitch_user bob@example.com "$BOB" 'bob-password'
sctl user disable bob@example.com >/dev/null || fail "disable bob"

CACHE=$T/cache/accounts
ACCOUNT_LINE='[success=ok new_authtok_reqd=done user_unknown=ignore authinfo_unavail=ignore default=bad]'
# service NAME ARGS: an SSH-key login (no stitch auth) with the shipped account line.
service() {
        pam_service_file "$1" <<X
auth     required pam_permit.so
account  $ACCOUNT_LINE @PAM_STITCH@ socket=$STITCH_SOCKET timeout=2 $2
account  required pam_permit.so
X
        pam_service_file "$1-alone" <<X
account  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=2 $2
X
}
service deny "offline=deny cache=$CACHE"
service ignore ""

# login SERVICE USER EXPECTED: the stack's answer, then the module's own.
login() {
        pam_run --service "$1" --user "$2" auth acct
        expect_out "acct: $3"
}
module() {
        pam_run --service "$1-alone" --user "$2" acct
        expect_out "acct: $3"
}

# stitchd up: its answers, remembered.
login deny "$ADA" PAM_SUCCESS
login deny "$BOB" PAM_ACCT_EXPIRED
login deny "$CAROL" PAM_SUCCESS
module deny "$CAROL" PAM_USER_UNKNOWN
[ -f "$CACHE" ] || fail "no account cache at $CACHE"
expect_eq "mode of the cache directory" 700 "$(stat -c %a "$T/cache")"
expect_eq "owner and mode of the cache" "0 600" "$(stat -c '%u %a' "$CACHE")"
grep -qx "managed $ADA" "$CACHE" || fail "ada is not recorded as managed: $(cat "$CACHE")"
grep -qx "disabled $BOB" "$CACHE" || fail "bob is not recorded as disabled: $(cat "$CACHE")"
grep -q "$CAROL" "$CACHE" && fail "carol, not a stitch account, is in the cache"
ok "with stitchd up, offline=deny answers as stitchd does and keeps a root-only cache"

stitch_stop
# The default, a deliberate choice: nobody is locked out by a down daemon,
# the disabled stitch account included (the hole this finding is about).
login ignore "$BOB" PAM_SUCCESS
module ignore "$BOB" PAM_AUTHINFO_UNAVAIL
login ignore "$CAROL" PAM_SUCCESS
ok "offline=ignore (default): AUTHINFO_UNAVAIL for everyone, the stack decides"

login deny "$BOB" PAM_ACCT_EXPIRED
login deny "$ADA" PAM_PERM_DENIED
login deny "$CAROL" PAM_SUCCESS
module deny "$CAROL" PAM_AUTHINFO_UNAVAIL
login deny root PAM_SUCCESS
ok "offline=deny with stitchd down: stitch accounts refused, the disabled one as expired; local accounts unaffected"

# A cache someone else could have written is not trusted: refuse everyone
# but root (the way in to repair things).
chmod 0666 "$CACHE"
login deny "$CAROL" PAM_PERM_DENIED
login deny root PAM_SUCCESS
chmod 0600 "$CACHE"
chown "$CAROL" "$CACHE"
login deny "$CAROL" PAM_PERM_DENIED
chown root "$CACHE"
chmod 0755 "$T/cache"
login deny "$CAROL" PAM_PERM_DENIED
chmod 0700 "$T/cache"
mv "$CACHE" "$T/cache/real"
ln -s "$T/cache/real" "$CACHE"
login deny "$CAROL" PAM_PERM_DENIED
rm "$CACHE"
mv "$T/cache/real" "$CACHE"
printf '# pam_stitch account cache 1\nmanaged zed\nmanaged abe\n' > "$T/unsorted"
cp "$CACHE" "$T/good"
install -m 0600 "$T/unsorted" "$CACHE"
login deny "$CAROL" PAM_PERM_DENIED
install -m 0600 "$T/good" "$CACHE"
login deny "$CAROL" PAM_SUCCESS
ok "a cache others may write, a symlink or a corrupt file: everyone but root refused"

# stitchd back: changes reach the cache on the next answer.
stitch_start
sctl user enable bob@example.com >/dev/null || fail "enable bob"
sctl user delete ada@example.com >/dev/null || fail "delete ada"
login deny "$BOB" PAM_SUCCESS
login deny "$ADA" PAM_SUCCESS
module deny "$ADA" PAM_USER_UNKNOWN
grep -qx "managed $BOB" "$CACHE" || fail "bob is not recorded as managed again: $(cat "$CACHE")"
grep -q "$ADA" "$CACHE" && fail "ada, deleted, is still in the cache"
stitch_stop
login deny "$BOB" PAM_PERM_DENIED
login deny "$ADA" PAM_SUCCESS
ok "enable and delete reach the cache; offline answers follow"

# Not root (a screen locker running as the user): the cache is not read.
chmod 0755 "$top_builddir/tests/pam/pam-session-test" 2>/dev/null
pam_run_as() {
        local out
        out=$(stitch_as "$1" "$PAM_TEST" --confdir "$PAM_DIR" --service deny-alone --user "$1" acct 2>&1)
        printf '%s\n' "$out" | sed 's/^/    | /'
        PAM_OUT=$out
}
chmod 0755 "$T" "$PAM_DIR"
chmod 0644 "$PAM_DIR"/*
pam_run_as "$BOB"
expect_out "acct: PAM_AUTHINFO_UNAVAIL"
ok "without root the cache is neither read nor written"
