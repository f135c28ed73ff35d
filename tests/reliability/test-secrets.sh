#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Secrets at rest: after a run with known, distinctive secrets (passwords,
# a changed password, an admin-set password, an API key, refresh tokens) at
# LogLevel=debug, none of them appears in the daemon's log, its argv or
# environment, the database, its -wal and -shm (read while the daemon runs,
# before a checkpoint), or the journal (when journalctl works here); the
# store holds hashes only. Then the daemon gets SIGSEGV with core dumps
# enabled for it (ulimit -c unlimited, core_pattern pointing into the test
# directory): it sets PR_SET_DUMPABLE=0 and RLIMIT_CORE=0, so no core file
# may appear, while a control process in the same setup does dump core.
. "$top_srcdir/tests/reliability/rel-lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"

PW='Zq9-Secret-Pw-7xK31'
PW2='Yv4-Changed-Pw-2mQ88'
PW3='Xr7-AdminSet-Pw-5nB'
stitch_config <<'X'
[Daemon]
LogLevel=debug
X
# The daemon runs with its working directory and core limit set up for the
# core dump check at the end.
mkdir -p "$T/cwd"
# Under sudo the hard core limit is 0, and root without CAP_SYS_RESOURCE (a
# container) cannot raise it: the core dump check then ends early.
CORE_LIMIT=unlimited
(ulimit -c unlimited) 2>/dev/null || CORE_LIMIT=$(ulimit -H -c)
( cd "$T/cwd" && ulimit -c "$CORE_LIMIT" && stitch_start ) || fail "start"
STITCHD_PID=$(pgrep -f -n -- "--config $STITCHD_CONF")
[ -n "$STITCHD_PID" ] || fail "no daemon pid"

printf '%s' "$PW" | sctl user add --email ada@example.com --unix-name ada --password-stdin >/dev/null || fail "user add"
secrets=("$PW")
for i in 1 2 3; do
        L=$(rel_call io.stitch.Auth.Login "$(rel_login_json ada "$PW")")
        rt=$(rel_param "$L" refresh_token); [ -n "$rt" ] || fail "login $i: $L"
        secrets+=("$rt")
done
R=$(rel_call io.stitch.Token.Refresh "$(jq -cn --arg t "$rt" '{refresh_token:$t}')")
[ -n "$(rel_param "$R" access_token)" ] || fail "refresh: $R"
rel_call io.stitch.Auth.Login "$(rel_login_json ada "wrong-$PW")" >/dev/null
secrets+=("wrong-$PW")
K=$(rel_call io.stitch.Admin.ApiKeyCreate '{"user":"ada","name":"ci"}')
KEY=$(rel_param "$K" key); [ -n "$KEY" ] || fail "key: $K"
secrets+=("$KEY")
[ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(jq -cn --arg k "$KEY" '{user:"ada",key:$k,service:"login"}')")" access_token)" ] || fail "key login"
rel_call io.stitch.Auth.ChangePassword "$(jq -cn --arg o "$PW" --arg n "$PW2" '{user:"ada",old_password:$o,new_password:$n}')" >/dev/null
secrets+=("$PW2")
rel_call io.stitch.Admin.UserSetPassword "$(jq -cn --arg p "$PW3" '{user:"ada",password:$p}')" >/dev/null
secrets+=("$PW3")
[ -n "$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json ada "$PW3")")" access_token)" ] || fail "login with the admin-set password"
rt=$(rel_param "$(rel_call io.stitch.Auth.Login "$(rel_login_json ada "$PW3")")" refresh_token)
rel_call io.stitch.Token.Logout "$(jq -cn --arg t "$rt" '{refresh_token:$t}')" >/dev/null
secrets+=("$rt")

# Where secrets must not be. The WAL is read now, before any checkpoint.
places=("$STITCHD_LOG" "$T/stitch.db")
for f in "$T/stitch.db-wal" "$T/stitch.db-shm"; do [ -f "$f" ] && places+=("$f"); done
tr '\0' '\n' < "/proc/$STITCHD_PID/cmdline" > "$T/cmdline"
tr '\0' '\n' < "/proc/$STITCHD_PID/environ" > "$T/environ"
places+=("$T/cmdline" "$T/environ")
journal=
if command -v journalctl >/dev/null && journalctl -q -n 1 >/dev/null 2>&1 && [ -n "$(journalctl -q -n 1 2>/dev/null)" ]; then
        journalctl -q --since "-10min" > "$T/journal" 2>/dev/null && places+=("$T/journal") && journal=yes
fi
for s in "${secrets[@]}"; do
        for f in "${places[@]}"; do
                grep -aqF -- "$s" "$f" && fail "a secret (${s:0:6}...) is in $f"
        done
done
# The store keeps hashes: argon2id for passwords, and no refresh token or
# key in any column.
sqlite3 "$T/stitch.db" .dump > "$T/dump" || fail "dump"
for s in "${secrets[@]}"; do grep -aqF -- "$s" "$T/dump" && fail "a secret (${s:0:6}...) is in the store dump"; done
grep -q 'argon2id' "$T/dump" || fail "no argon2id hash in the store"
ok "${#secrets[@]} secrets in none of: ${places[*]##*/}, the store dump (hashes only); journal: ${journal:-not available here}"

# --- core dumps ----------------------------------------------------------------------
grep -q '^Max core file size *0 *0' "/proc/$STITCHD_PID/limits" || fail "RLIMIT_CORE is not 0: $(grep 'core' "/proc/$STITCHD_PID/limits")"
[ "$CORE_LIMIT" = unlimited ] || skip "the core limit cannot be raised here (hard limit $CORE_LIMIT, as under sudo): RLIMIT_CORE is 0, the dump itself is not checked"
pattern=$(cat /proc/sys/kernel/core_pattern)
restore_pattern=
if [[ $pattern == \|* ]] || [[ $pattern == /* ]]; then
        # A pipe (systemd-coredump) or an absolute path elsewhere: point it
        # here for the duration of the check (global, so restored at once).
        if [ -w /proc/sys/kernel/core_pattern ] && echo "$T/cwd/core.%p" > /proc/sys/kernel/core_pattern 2>/dev/null; then
                restore_pattern=$pattern
                trap 'echo "$restore_pattern" > /proc/sys/kernel/core_pattern; stitch_cleanup' EXIT
        else
                skip "core_pattern is '$pattern' and cannot be changed here"
        fi
fi
# Control: a plain process in the same directory with the same limit dumps.
( cd "$T/cwd" && ulimit -c unlimited && exec sh -c 'kill -SEGV $$' ) 2>/dev/null
ls "$T/cwd" | grep -q '^core' || {
        [ -n "$restore_pattern" ] && echo "$restore_pattern" > /proc/sys/kernel/core_pattern
        skip "no core from a control process (core_pattern '$(cat /proc/sys/kernel/core_pattern)'); cannot check"
}
rm -f "$T/cwd"/core*
kill -SEGV "$STITCHD_PID"
while kill -0 "$STITCHD_PID" 2>/dev/null; do sleep 0.05; done
STITCHD_PID=
[ -n "$restore_pattern" ] && echo "$restore_pattern" > /proc/sys/kernel/core_pattern
ls "$T/cwd" | grep -q '^core' && fail "stitchd left a core dump: $(ls -l "$T/cwd")"
ok "SIGSEGV with ulimit -c unlimited: a control process dumps core, stitchd does not (RLIMIT_CORE 0, not dumpable)"
