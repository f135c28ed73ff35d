#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stitch users as Unix accounts through systemd's userdb: Debian's
# libnss-systemd with "passwd: files systemd" asks stitchd's
# io.systemd.UserDatabase socket, so a user who exists only in stitch
# resolves (getent, id), logs in over a real sshd with their stitch password
# and gets the right uid, home and groups. Also: a disabled user's record is
# locked, a name or id that /etc/passwd or /etc/group has is never served,
# uids are allocated past those and stay the same across restarts,
# enumeration, wrong service names, and unknown names stay fast while the
# store is busy (p99 printed, never a pass/fail figure).
#
# Safety: everything runs in a throwaway root (stitch_isolate_system: /etc
# and /home are overlays, /run an empty tmpfs, in private mount and PID
# namespaces), so the machine's nsswitch.conf, /etc/passwd, /home and
# /run/systemd/userdb are never touched, whatever happens.
. "$(dirname "$0")/../pam/pam-lib.sh"
need_stitchd
NSS_SYSTEMD=$(ls /lib/*/libnss_systemd.so.2 /usr/lib/*/libnss_systemd.so.2 2>/dev/null | head -n 1)
[ -n "$NSS_SYSTEMD" ] || skip "libnss-systemd is not installed"
command -v getent >/dev/null || skip "getent is not installed"
command -v jq >/dev/null || skip "jq is not installed"
stitch_isolate_system "$@"

QUERY="$STITCH_PYTHON $top_srcdir/tests/helpers/userdb-query.py"
SOCK=/run/systemd/userdb/io.stitch.UserDatabase
ask() { $QUERY call "$SOCK" "io.systemd.UserDatabase.$1" "$2" ${3:-}; }

# nss-systemd after the files, as the README tells admins to set it.
sed -i -E 's/^(passwd|group):.*/\1: files systemd/' /etc/nsswitch.conf
grep -q '^passwd: files systemd$' /etc/nsswitch.conf || fail "nsswitch.conf not set up in the throwaway root"
# A local account on the first uid of the range: allocation must pass it by.
useradd --uid 20000 --no-create-home --shell /usr/sbin/nologin local20000 || fail "useradd local20000"
groupadd --gid 20002 localgroup20002 || fail "groupadd"

# Off by default: no socket.
stitch_config </dev/null
stitch_start
[ -e "$SOCK" ] && fail "the userdb socket exists with UserDB=no"
stitch_stop
ok "no userdb socket unless [Accounts] UserDB=yes"

stitch_config <<'X'
[Accounts]
UserDB=yes
Groups=users
Enumerate=yes
X
stitch_start
[ -S "$SOCK" ] || fail "no userdb socket at $SOCK"
expect_eq "socket mode" 666 "$(stat -c %a "$SOCK")"
expect_eq "directories made for it" "755 755" "$(stat -c %a /run/systemd /run/systemd/userdb | tr '\n' ' ' | sed 's/ $//')"

PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
stitch_user alice@example.com alice "$PW"
stitch_user bob@example.com bob "$PW"
stitch_user carol@example.com carol "$PW"
stitch_user daemon-lookalike@example.com daemon "$PW"   # /etc/passwd has daemon
stitch_user localgroup@example.com localgroup20002 "$PW" # /etc/group has it
sctl user disable bob@example.com >/dev/null || fail "disable bob"

# Allocation: sequential from 20000, past the local uid 20000 and the local gid 20002.
line=$(getent passwd alice) || fail "getent passwd alice found nothing"
echo "    | $line"
expect_eq "alice's passwd line" "alice:x:20001:20001:alice:/home/alice:/bin/bash" "$line"
expect_eq "by uid" "$line" "$(getent passwd 20001)"
expect_eq "bob's uid" 20003 "$(getent passwd bob | cut -d: -f3)"
expect_eq "carol's uid (20002 is a local gid)" 20004 "$(getent passwd carol | cut -d: -f3)"
expect_eq "alice's group" "alice:x:20001:" "$(getent group alice)"
expect_eq "group by gid" "alice:x:20001:" "$(getent group 20001)"
ok "getent passwd/group by name and id: uids from UIDRange, past ids /etc/passwd and /etc/group use"

ids=$(id alice) || fail "id alice"
echo "    | $ids"
case $ids in *"uid=20001(alice) gid=20001(alice) groups=20001(alice),100(users)"*) ;;
        *) fail "id alice: $ids" ;; esac
members=$(ask GetMemberships '{"groupName":"users","service":"io.stitch.UserDatabase"}' more | jq -r .parameters.userName | sort | tr '\n' ' ')
expect_eq "members of users (GetMemberships)" "alice bob carol " "$members"
ok "id shows the supplementary groups of [Accounts] Groups= (GetMemberships)"

rec=$(ask GetUserRecord '{"userName":"bob","service":"io.stitch.UserDatabase"}') || fail "query bob"
expect_eq "bob locked" true "$(jq -r .parameters.record.locked <<<"$rec")"
expect_eq "service field" io.stitch.UserDatabase "$(jq -r .parameters.record.service <<<"$rec")"
rec=$(ask GetUserRecord '{"userName":"alice","service":"io.stitch.UserDatabase"}')
expect_eq "alice not locked" false "$(jq -r '.parameters.record.locked // false' <<<"$rec")"
ok "a disabled user's record is locked; every record carries the service name"

for name in daemon localgroup20002; do
        out=$(ask GetUserRecord "{\"userName\":\"$name\",\"service\":\"io.stitch.UserDatabase\"}")
        expect_eq "record for $name" io.systemd.UserDatabase.NoRecordFound "$(jq -r .error <<<"$out")"
done
expect_eq "getent passwd daemon is the local one" 1 "$(getent passwd daemon | cut -d: -f3)"
grep -q "daemon" "$STITCHD_LOG" || fail "the withheld record was not logged"
ok "names that /etc/passwd or /etc/group have are withheld (and logged)"

out=$(ask GetUserRecord '{"userName":"alice","service":"io.systemd.Multiplexer"}')
expect_eq "wrong service" io.systemd.UserDatabase.BadService "$(jq -r .error <<<"$out")"
out=$(ask GetUserRecord '{"userName":"alice","uid":20003,"service":"io.stitch.UserDatabase"}')
expect_eq "name and uid of two records" io.systemd.UserDatabase.ConflictingRecordFound "$(jq -r .error <<<"$out")"
out=$(ask GetUserRecord '{"uid":"20001","service":"io.stitch.UserDatabase"}')
expect_eq "uid as a string" org.varlink.service.InvalidParameter "$(jq -r .error <<<"$out")"
out=$(ask GetUserRecord '{"userName":"nobody-here","service":"io.stitch.UserDatabase"}')
expect_eq "unknown" io.systemd.UserDatabase.NoRecordFound "$(jq -r .error <<<"$out")"
ok "BadService, ConflictingRecordFound, InvalidParameter, NoRecordFound"

all=$(getent passwd | cut -d: -f1 | tr '\n' ' ')
for u in alice bob carol; do case " $all " in *" $u "*) ;; *) fail "enumeration lacks $u: $all" ;; esac; done
case " $all " in *" daemon-lookalike "*) fail "enumeration has a withheld record" ;; esac
n=$(ask GetUserRecord '{"service":"io.stitch.UserDatabase"}' more | wc -l)
expect_eq "records enumerated (alice, bob, carol)" 3 "$n"
out=$(ask GetUserRecord '{"service":"io.stitch.UserDatabase"}')
expect_eq "enumeration without more" io.systemd.UserDatabase.EnumerationNotSupported "$(jq -r .error <<<"$out")"
ok "Enumerate=yes lists the accounts with \"more\" (several replies)"

# A real sshd: alice has no line in /etc/passwd; NSS finds her through us.
sshd_need
pam_service_file sshd <<X
auth     required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
account  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
session  required $(dirname "$(readlink -f /lib/x86_64-linux-gnu/security/pam_unix.so 2>/dev/null || echo /lib/x86_64-linux-gnu/security/pam_unix.so)")/pam_mkhomedir.so umask=0077
session  required @PAM_STITCH@ socket=$STITCH_SOCKET timeout=5
X
sshd_start
grep -q '^alice:' /etc/passwd && fail "alice is in /etc/passwd"
[ -e /home/alice ] && fail "/home/alice exists before the first login"
out=$(ssh_login "$PW" alice 'id -u; id -g; id -Gn; pwd; echo session=$STITCH_SESSION' 2>&1) \
        || fail "ssh login of a stitch-only user failed: $out
$(tail -n 20 "$SSHD_LOG")"
printf '%s\n' "$out" | sed 's/^/    | /'
expect_eq "uid in the session" 20001 "$(sed -n 1p <<<"$out")"
expect_eq "gid in the session" 20001 "$(sed -n 2p <<<"$out")"
expect_eq "groups in the session" "alice users" "$(sed -n 3p <<<"$out")"
expect_eq "home" /home/alice "$(sed -n 4p <<<"$out")"
grep -q '^session=.\+' <<<"$out" || fail "no stitch session in the ssh session"
expect_eq "home owner" "20001:20001 700" "$(stat -c '%u:%g %a' /home/alice)"
out=$(ssh_login "wrong $PW" alice true 2>&1) && fail "a wrong password logged in"
out=$(ssh_login "$PW" bob true 2>&1) && fail "the disabled user logged in"
ok "a stitch-only user logs in over sshd: uid, gid, groups, home made at first login"

# Unknown names stay fast while the store is busy with writes.
( for i in $(seq 1 400); do printf 'pw-%s-long-enough' "$i" | "$STITCHCTL" user add --email "load$i@example.com" --password-stdin >/dev/null 2>&1; done ) &
LOAD=$!
lat=$(timeout 300 $QUERY nss-latency 1000 no-such-user-) || fail "lookups of unknown names did not finish"
kill "$LOAD" 2>/dev/null; wait "$LOAD" 2>/dev/null
echo "    | unknown names through NSS while the store takes writes: $lat"
case $lat in *"notfound=1000 "*) ;; *) fail "unknown names: $lat" ;; esac
for who in alice root; do
        lat=$(timeout 300 $QUERY nss-latency 1000 "$who" same) || fail "lookups of $who did not finish"
        echo "    | getpwnam($who) x1000 ($( [ $who = root ] && echo /etc/passwd || echo stitch through nss-systemd)): $lat"
        case $lat in *"notfound=0 "*) ;; *) fail "$who was not found every time: $lat" ;; esac
done
ok "1000 lookups of unknown names answered while the store is busy"

# Restarts keep the uids (they are stored), and a new account gets the next one.
stitch_stop
stitch_start
expect_eq "alice after a restart" 20001 "$(getent passwd alice | cut -d: -f3)"
stitch_user dave@example.com dave "$PW"
# 20005 and 20006 went to the withheld daemon and localgroup20002 accounts.
expect_eq "dave" 20007 "$(getent passwd dave | cut -d: -f3)"
ok "uids are stored: the same after a restart, the next one for a new account"

# stitchd's own NSS look-ups never come back to its own socket (the loop
# that would answer is the one asking): an admin call from a stitch account
# makes the daemon look up that uid's groups for AdminGroup=.
stitch_stop
sed -i 's/^\[Accounts\]$/AdminGroup=users\n[Accounts]/' "$STITCHD_CONF"
grep -q '^AdminGroup=users$' "$STITCHD_CONF" || fail "AdminGroup not set"
stitch_start
start=$(date +%s)
out=$(timeout 30 setpriv --reuid 20001 --regid 20001 --groups 100 "$STITCHCTL" status 2>&1); rc=$?
[ "$rc" = 124 ] && fail "an admin call from a stitch account hung: the daemon asked itself through NSS"
echo "    | as alice (uid 20001, group users): $out (exit $rc, $(( $(date +%s) - start )) s)"
case $out in *PermissionDenied*|*"only root"*) ;; *) fail "alice's admin call: $out" ;; esac
ok "stitchd's own look-ups bypass its userdb socket (no self-deadlock)"

stitch_stop
echo "# all userdb tests passed"
