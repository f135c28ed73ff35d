#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pam_stitch.so exports only pam_sm_* and links only libc, libpam and cJSON
# (libqrencode, for a device login's QR code, is loaded when one is drawn):
# no OpenSSL, curl, SQLite, argon2, libsystemd, and no fork, threads or
# signal handlers.
. "$(dirname "$0")/pam-lib.sh"

command -v nm >/dev/null || skip "nm (binutils) is not installed"
command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
command -v ldd >/dev/null || skip "ldd is not installed"

exported=$(nm -D --defined-only "$PAM_STITCH_SO" | awk 'NF == 3 { print $3 }' | sort)
expected=$(printf '%s\n' pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok \
        pam_sm_close_session pam_sm_open_session pam_sm_setcred | sort)
expect_eq "exported symbols" "$expected" "$exported"
ok "only pam_sm_* are exported"

needed=$(readelf -d "$PAM_STITCH_SO" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in $needed; do
        case $lib in
        libc.so.*|libpam.so.*|libcjson.so.*|libm.so.*) ;;
        libasan.so.*|libubsan.so.*) ;;   # --enable-sanitizers
        *) fail "pam_stitch.so needs $lib" ;;
        esac
done
ok "direct dependencies: $(echo $needed)"

# Loaded once per process (-z nodelete): a service authenticating many
# clients does not map the module and libcjson again for every transaction.
readelf -d "$PAM_STITCH_SO" | grep -q 'FLAGS_1.*NODELETE' || fail "pam_stitch.so is not linked with -z nodelete"
ok "linked with -z nodelete"

if ldd "$PAM_STITCH_SO" | grep -E 'lib(ssl|crypto|curl|sqlite3|argon2|systemd|pthread)\.so'; then
        fail "pam_stitch.so pulls in a forbidden library"
fi
ok "no OpenSSL, curl, SQLite, argon2, libsystemd or libpthread"

undefined=$(nm -D --undefined-only "$PAM_STITCH_SO" | awk '{ print $NF }' | sed 's/@.*//')
for sym in fork vfork clone pthread_create system popen posix_spawn execve execv execvp \
           signal sigaction sigset bsd_signal; do
        if printf '%s\n' "$undefined" | grep -qxF "$sym"; then
                fail "pam_stitch.so uses $sym"
        fi
done
ok "no fork, exec, threads or signal handlers"
