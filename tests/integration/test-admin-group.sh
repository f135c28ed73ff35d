#!/bin/bash
# AdminGroup: the admin socket's peer check asks NSS once and remembers the
# answer (stitchd/core/groupcache.c); a change to /etc/group takes effect at
# once all the same, both ways. The caller here has the group as a
# supplementary group of its process (so it gets through the socket's 0660)
# while /etc/group decides what stitchd believes.
. "$TESTS_LIB"
command -v groupadd >/dev/null && command -v gpasswd >/dev/null && command -v groupdel >/dev/null \
        || skip "needs groupadd, gpasswd and groupdel"
stitch_local_account U # skips unless root with useradd and setpriv
G=sg$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
groupadd "$G" || fail "groupadd $G"
trap 'groupdel "$G" >/dev/null 2>&1; stitch_cleanup' EXIT

stitch_config <<X
AdminGroup=$G
X
stitch_start
expect_eq "admin socket group" "$G" "$(stat -c %G "$STITCH_ADMIN_SOCKET")"

as_u() { setpriv --reuid="$U" --regid="$(id -g "$U")" --groups="$(getent group "$G" | cut -d: -f3)" -- "$@"; }

# Not a member in /etc/group: refused (and that answer is remembered).
as_u "$STITCHCTL" status >/dev/null 2>&1 && fail "$U used the admin socket without being in $G"
grep -q "Refused admin call .* from uid $(id -u "$U")" "$STITCHD_LOG" || fail "refusal not logged"
ok "a caller outside AdminGroup is refused"

# Added: allowed at once, not after the negative answer's lifetime.
gpasswd -a "$U" "$G" >/dev/null || fail "gpasswd -a"
as_u "$STITCHCTL" status >/dev/null || fail "$U is in $G but was refused"
as_u "$STITCHCTL" status >/dev/null || fail "$U refused on the second call"
ok "adding the caller to AdminGroup takes effect at once"

# Removed: refused at once, though the member answer would live a minute.
gpasswd -d "$U" "$G" >/dev/null || fail "gpasswd -d"
as_u "$STITCHCTL" status >/dev/null 2>&1 && fail "$U still used the admin socket after leaving $G"
ok "removing the caller from AdminGroup takes effect at once"

"$STITCHCTL" status >/dev/null || fail "root was refused"
ok "root may always use the admin socket"
