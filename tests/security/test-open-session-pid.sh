#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Finding 3: OpenSession took any "pid" from a non-root caller. With
# [Sessions] OnRevoke=terminate, an attacker registered another user's
# process as the leader of their own session, then ended that session
# (ChangePassword with end_other_sessions), and stitchd sent SIGHUP to the
# victim's process. Now a non-root caller's login process is itself
# (SO_PEERCRED), and a pid named by root must run as the session's uid.
. "$top_srcdir/tests/security/security-lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
stitch_config <<'X'
[Sessions]
OnRevoke=terminate
X
stitch_start
sec_local_user ATTACKER
sec_local_user VICTIM
stitch_user attacker@example.com "$ATTACKER" 'attacker-password'
stitch_user victim@example.com "$VICTIM" 'victim-password'

stitch_spawn_as "$VICTIM" sleep 100000 >/dev/null 2>&1; VICTIM_PID=$STITCH_AS_PID
stitch_spawn_as "$ATTACKER" sleep 100000 >/dev/null 2>&1; ATTACKER_PID=$STITCH_AS_PID
as_attacker() { sec_as "$ATTACKER" "$STITCHCTL" "$@"; }
login_json() { jq -cn --arg u "$1" --arg p "$2" '{user:$u,password:$p,service:"login"}'; }
# open_json LOGIN_REPLY PID USER: OpenSession parameters (without binding and
# user for the daemon from before the fix, which knew neither).
open_json() {
        jq -c --argjson p "$2" --arg u "$3" '{session_id:.parameters.session_id,pid:$p} +
                if .parameters.binding then {binding:.parameters.binding,user:$u} else {} end' <<<"$1"
}

# The attack, as the report describes it.
L=$(as_attacker call io.stitch.Auth.Login "$(login_json "$ATTACKER" attacker-password)") || fail "attacker login"
out=$(as_attacker call io.stitch.Auth.OpenSession "$(open_json "$L" "$VICTIM_PID" "$ATTACKER")")
if [ "$(jq -r '.error // empty' <<<"$out")" = "" ]; then
        L2=$(as_attacker call io.stitch.Auth.Login "$(login_json "$ATTACKER" attacker-password)")
        as_attacker call io.stitch.Auth.ChangePassword "$(jq -cn --arg u "$ATTACKER" --arg s "$(jq -r .parameters.session_id <<<"$L2")" \
                '{user:$u,old_password:"attacker-password",new_password:"attacker-password2",session_id:$s,end_other_sessions:true}')" >/dev/null
        for i in $(seq 1 100); do kill -0 "$VICTIM_PID" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$VICTIM_PID" 2>/dev/null || fail "the attacker's OpenSession took the victim's process, and stitchd killed it"
        fail "a non-root caller registered another user's process: $out"
fi
expect_eq "error" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
ok "a non-root caller cannot name another process, not even another user's"

# Naming itself explicitly is fine (that is what omitting pid means).
L=$(as_attacker call io.stitch.Auth.Login "$(login_json "$ATTACKER" attacker-password)") || fail "attacker login 2"
as_attacker call io.stitch.Auth.OpenSession "$(jq -c '{session_id:.parameters.session_id,binding:.parameters.binding}' <<<"$L")" \
        >/dev/null || fail "a non-root caller cannot open its own session"
ok "a non-root caller opens its own session for itself"

# Root (sshd, su) may name the login process only if it runs as the
# session's Unix account.
L=$(sctl call io.stitch.Auth.Login "$(login_json "$ATTACKER" attacker-password)") || fail "root login"
out=$(sctl call io.stitch.Auth.OpenSession "$(open_json "$L" "$VICTIM_PID" "$ATTACKER")") && fail "root registered the victim's process for the attacker's session"
expect_eq "root, another uid's process" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
out=$(sctl call io.stitch.Auth.OpenSession "$(open_json "$L" 1 "$ATTACKER")") && fail "root registered pid 1 for a user's session"
expect_eq "root, pid 1" io.stitch.Error.PermissionDenied "$(jq -r .error <<<"$out")"
sctl call io.stitch.Auth.OpenSession "$(open_json "$L" "$ATTACKER_PID" "$ATTACKER")" >/dev/null \
        || fail "root cannot register a process of the session's own account"
grep -q "Session $(jq -r .parameters.session_id <<<"$L") opened (pid $ATTACKER_PID" "$STITCHD_LOG" || fail "open not logged"
ok "root names only a process that runs as the session's account"

# Ending the attacker's sessions now ends the attacker's process only.
L2=$(as_attacker call io.stitch.Auth.Login "$(login_json "$ATTACKER" attacker-password)")
as_attacker call io.stitch.Auth.ChangePassword "$(jq -cn --arg u "$ATTACKER" --arg s "$(jq -r .parameters.session_id <<<"$L2")" \
        '{user:$u,old_password:"attacker-password",new_password:"attacker-password2",session_id:$s}')" >/dev/null \
        || fail "password change"
for i in $(seq 1 100); do kill -0 "$ATTACKER_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$ATTACKER_PID" 2>/dev/null && fail "OnRevoke=terminate did not end the attacker's own login"
kill -0 "$VICTIM_PID" || fail "the victim's process was signalled"
ok "OnRevoke=terminate signals the attacker's own login process, never the victim's"
