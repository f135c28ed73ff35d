#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The shipped etc/pam.d examples parse and reach pam_stitch on each of their
# lines: each is loaded through pam_start_confdir() next to this machine's
# common-* files, with pam_stitch.so pointed at fake-stitchd. Nothing is
# installed. Whole files run only auth and account (as root, so pam_unix and
# pam_rootok behave predictably); the session stacks would run pam_motd,
# pam_lastlog and friends for real, so the session lines are checked with
# the pam_stitch lines of each file alone.
. "$(dirname "$0")/pam-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
for f in common-auth common-account common-session common-session-noninteractive common-password; do
        [ -f "/etc/pam.d/$f" ] || skip "/etc/pam.d/$f is missing (not a Debian-style PAM setup)"
        cp "/etc/pam.d/$f" "$PAM_DIR/"
done

REPLY='{"parameters":{"user_id":"u1","session_id":"sess_example","binding":"stb_example","access_token":"a","refresh_token":"r","allowed":true}}'
fake_start "$T/fake.sock" "$T/fake.log" --reply "$REPLY"
called() {
        fake_messages "$T/fake.log" | jq -r '.method' | sort -u | xargs
}

for example in stitch-sshd stitch-sudo stitch-su stitch-login; do
        src=$top_srcdir/etc/pam.d/$example
        [ -f "$src" ] || fail "missing $src"
        sed -E "s#(^|[[:space:]])pam_stitch\.so#\1$PAM_STITCH_SO socket=$T/fake.sock timeout=3#" "$src" > "$PAM_DIR/$example"
        grep -q "$PAM_STITCH_SO" "$PAM_DIR/$example" || fail "$example does not use pam_stitch.so"
        : > "$T/fake.log"
        pam_run --service "$example" --user root --keep-going auth acct <<<"some password"
        expect_out "auth: PAM_SUCCESS"
        expect_out "acct: PAM_SUCCESS"
        case $example in
        stitch-su)
                # pam_rootok lets root in before pam_stitch is asked.
                expect_eq "$example calls" "io.stitch.Auth.Authorize" "$(called)" ;;
        *)
                expect_eq "$example calls" "io.stitch.Auth.Authorize io.stitch.Auth.Login" "$(called)" ;;
        esac

        grep -E "^[a-z]+[[:space:]].*$PAM_STITCH_SO" "$PAM_DIR/$example" > "$PAM_DIR/$example-only"
        grep -q '^session' "$PAM_DIR/$example-only" || fail "$example has no session line for pam_stitch"
        : > "$T/fake.log"
        pam_run --service "$example-only" --user root auth acct open env close <<<"some password"
        [ "$PAM_RC" = 0 ] || fail "the pam_stitch lines of $example alone fail"
        expect_out "env: STITCH_SESSION=sess_example"
        expect_eq "$example-only calls" \
                "io.stitch.Auth.Authorize io.stitch.Auth.CloseSession io.stitch.Auth.Login io.stitch.Auth.OpenSession" \
                "$(called)"
        ok "$example parses and uses pam_stitch for auth, account and session"
done

# pam-auth-update profile: the fields Debian's tool reads, and Default: no.
profile=$top_srcdir/etc/pam-configs/stitch
for field in Name Default Priority Auth-Type Auth Auth-Initial Account-Type Account Session-Type Session \
             Password-Type Password Password-Initial; do
        grep -q "^$field:" "$profile" || fail "profile has no $field:"
done
expect_eq "Default" "Default: no" "$(grep '^Default:' "$profile")"
if grep -vE '^([A-Z][A-Za-z-]*:.*|	.*pam_stitch\.so.*)$' "$profile"; then
        fail "unexpected lines in the profile"
fi
ok "the pam-auth-update profile is off by default and well-formed"
