# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the security regression tests. Source it instead of tests/lib.sh:
#   . "$top_srcdir/tests/security/security-lib.sh"
# Adds temporary unprivileged Unix accounts (useradd; removed at exit) and a
# way to run commands as them.

. "${TESTS_LIB:?run through make check}"

[ "$(id -u)" = 0 ] || skip "needs root (creates temporary Unix accounts)"
command -v useradd >/dev/null || skip "useradd is not installed"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"

# The accounts are tests/lib.sh's (stitch_local_account: removed at exit by
# its cleanup); these names are what the security tests call them.
#   sec_local_user VAR   creates an account (no home, no password), its name in VAR
#   sec_as USER CMD...   runs CMD as USER, keeping the environment
sec_local_user() { stitch_local_account "$@"; }
sec_as() { stitch_as "$@"; }
