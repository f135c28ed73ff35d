#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 2: session ids were ObjectIds (time, fixed per-process bytes, a
# counter), so a victim's id was the attacker's own minus 2; and non-root
# Token.Get / CloseSession told "exists, not yours" from "unknown". Now
# session ids are random (24 characters of [A-Za-z0-9], ~142 bits) and
# someone else's session gets exactly the answer of one that does not exist.
. "$top_srcdir/tests/security/security-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"

stitch_start
sec_local_user ATTACKER
sec_local_user VICTIM
stitch_user attacker@example.com "$ATTACKER" 'attacker-password'
stitch_user victim@example.com "$VICTIM" 'victim-password'
login_as() { # login_as UNIX_USER PASSWORD: a Login by that user itself (non-root caller)
        sec_as "$1" "$STITCHCTL" call io.stitch.Auth.Login \
                "$(jq -cn --arg u "$1" --arg p "$2" '{user:$u,password:$p,service:"login"}')"
}

# Attacker, victim, attacker: with ObjectIds the victim's id sat between
# the attacker's two, one counter step from each.
A1=$(login_as "$ATTACKER" attacker-password | jq -r .parameters.session_id)
V=$(login_as "$VICTIM" victim-password | jq -r .parameters.session_id)
A2=$(login_as "$ATTACKER" attacker-password | jq -r .parameters.session_id)
for id in "$A1" "$V" "$A2"; do
        [[ $id =~ ^[A-Za-z0-9]{24}$ ]] || fail "session id '$id' is not 24 characters of [A-Za-z0-9]"
done
# No structure shared between ids made a moment apart: ObjectIds of one
# process share their first 18 hex characters.
prefix() { # length of the common prefix of $1 and $2
        local i=0
        while [ $i -lt ${#1} ] && [ "${1:i:1}" = "${2:i:1}" ]; do i=$((i + 1)); done
        echo $i
}
for pair in "$A1 $V" "$V $A2" "$A1 $A2"; do
        set -- $pair
        [ "$(prefix "$1" "$2")" -lt 6 ] || fail "session ids $1 and $2 share a prefix of $(prefix "$1" "$2") characters"
done
# And across many: every position takes many values (a counter or a clock
# would leave most positions constant).
ids=$(for i in $(seq 1 40); do sctl call io.stitch.Auth.Login \
        "$(jq -cn --arg u "$ATTACKER" '{user:$u,password:"attacker-password",service:"login"}')" | jq -r .parameters.session_id; done)
for pos in $(seq 0 23); do
        distinct=$(cut -c$((pos + 1)) <<<"$ids" | sort -u | wc -l)
        [ "$distinct" -ge 10 ] || fail "position $pos of 40 session ids takes only $distinct values"
done
ok "session ids are random: no shared prefix, every position varies"

# The victim's session and a made-up one answer alike, to every method a
# non-root caller can name a session with.
FAKE=AAAAAAAAAAAAAAAAAAAAAAAA
for method in io.stitch.Token.Get io.stitch.Auth.CloseSession io.stitch.Auth.OpenSession; do
        theirs=$(sec_as "$ATTACKER" "$STITCHCTL" call $method "$(jq -cn --arg s "$V" '{session_id:$s,binding:"stb_x"}')")
        none=$(sec_as "$ATTACKER" "$STITCHCTL" call $method "$(jq -cn --arg s "$FAKE" '{session_id:$s,binding:"stb_x"}')")
        # (the daemon from before the fix did not know "binding": ask it without)
        if [ "$(jq -r .parameters.parameter <<<"$theirs")" = binding ]; then
                theirs=$(sec_as "$ATTACKER" "$STITCHCTL" call $method "$(jq -cn --arg s "$V" '{session_id:$s}')")
                none=$(sec_as "$ATTACKER" "$STITCHCTL" call $method "$(jq -cn --arg s "$FAKE" '{session_id:$s}')")
        fi
        expect_eq "$method error for another user's session" io.stitch.Error.SessionInvalid "$(jq -r .error <<<"$theirs")"
        expect_eq "$method: another user's session vs none" "$(jq -cS . <<<"$none")" "$(jq -cS . <<<"$theirs")"
done
sctl call io.stitch.Token.Get "$(jq -cn --arg s "$V" '{session_id:$s}')" >/dev/null || fail "the victim's session is gone"
ok "another user's session is indistinguishable from no session (Token.Get, CloseSession, OpenSession)"
