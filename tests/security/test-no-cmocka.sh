#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A machine without cmocka (finding 16): configure says so, naming
# libcmocka-dev, and leaves the cmocka unit tests out of `make check`
# instead of letting them die in the compiler; --enable-unit-tests (the
# package build, CI) stops configure instead. cmocka is hidden for real:
# a cmocka.h first on the include path that is an #error.
. "${TESTS_LIB:?run through make check}"

[ -x "$top_srcdir/configure" ] || skip "no configure in $top_srcdir (run autogen.sh)"
[ -f "$top_srcdir/config.status" ] && skip "$top_srcdir is configured in place: configure cannot run elsewhere from it"
command -v make >/dev/null || skip "make is not installed"

mkdir -p "$T/poison" "$T/build"
echo '#error "cmocka is hidden by tests/security/test-no-cmocka.sh"' > "$T/poison/cmocka.h"

# Each check program with what it links and compiles: "NAME|LDADD|SOURCES".
cat > "$T/print.mk" <<'X'
canon = $(subst .,_,$(subst -,_,$(subst /,_,$(1))))
stitch-print-check-programs:
	@$(foreach p,$(check_PROGRAMS:$(EXEEXT)=),echo '$(p)|$($(call canon,$(p))_LDADD)|$($(call canon,$(p))_SOURCES)';)
X
check_programs() { # BUILDDIR
        (cd "$1" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -f Makefile -f "$T/print.mk" stitch-print-check-programs)
}
# The check programs of BUILDDIR that need cmocka, by what they link or include.
cmocka_programs() { # BUILDDIR
        local name ldadd sources s
        check_programs "$1" > "$T/programs" || fail "cannot list the check programs of $1"
        [ -s "$T/programs" ] || fail "no check programs listed in $1"
        while IFS='|' read -r name ldadd sources; do
                if [[ " $ldadd " == *cmocka* ]]; then echo "$name"; continue; fi
                for s in $sources; do
                        [[ $s == *.c ]] && grep -q '^#include <cmocka.h>' "$top_srcdir/$s" 2>/dev/null && { echo "$name"; break; }
                done
        done < "$T/programs"
}

# The listing is not vacuous: the real build, which found cmocka, has them.
if grep -q '^ac_cv_lib_cmocka__cmocka_run_group_tests=yes$' "$top_builddir/config.log" 2>/dev/null; then
        [ -n "$(cmocka_programs "$top_builddir")" ] || fail "found no cmocka program in $top_builddir, which has cmocka"
fi

# configure without cmocka: succeeds and says what is missing.
(cd "$T/build" && "$top_srcdir/configure" -C CPPFLAGS="-I$T/poison" >configure.log 2>&1) \
        || { tail -n 20 "$T/build/configure.log" >&2; fail "configure failed without cmocka"; }
grep -q 'WARNING: cmocka was not found.*libcmocka-dev' "$T/build/configure.log" \
        || fail "configure did not say cmocka is missing: $(grep -i cmocka "$T/build/configure.log" || echo "no word of it")"
grep -q '^checking for cmocka.h... no$' "$T/build/configure.log" || fail "the poisoned cmocka.h did not hide cmocka"
grep -q 'unit tests: *no (cmocka not found: install libcmocka-dev)' "$T/build/configure.log" \
        || fail "the summary does not show the unit tests off"
ok "configure without cmocka succeeds, names libcmocka-dev and turns the unit tests off"

left=$(cmocka_programs "$T/build")
[ -z "$left" ] || fail "make check would compile these cmocka tests without cmocka (put them inside 'if HAVE_CMOCKA'): $left"
ok "make check builds no cmocka test there ($(wc -l < "$T/programs") check programs, none needs cmocka)"

# --enable-unit-tests makes cmocka required.
(cd "$T/build" && "$top_srcdir/configure" -C --enable-unit-tests CPPFLAGS="-I$T/poison" >configure-required.log 2>&1) \
        && fail "configure --enable-unit-tests succeeded without cmocka"
grep -q 'error: .*--enable-unit-tests requires it.*install libcmocka-dev' "$T/build/configure-required.log" \
        || fail "unclear error: $(tail -n 1 "$T/build/configure-required.log")"
ok "configure --enable-unit-tests without cmocka fails naming libcmocka-dev"
