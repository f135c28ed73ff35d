#!/bin/bash
# The whole test suite, as CI and a new user run it:
#   scripts/test.sh          (in a root shell)
# Installs the test dependencies (Debian 12), builds from scratch with
# -Werror, runs `make check`, runs the daemon's integration tests under
# valgrind memcheck, runs the whole `make check` again under ASan+UBSan,
# runs the fuzz harnesses for a short smoke under libFuzzer, checks that
# `make distcheck` passes, builds, installs and purges the Debian packages
# in a throwaway root (tests/integration/test-deb.sh, and
# tests/security/test-quickstart-survives.sh after the quick start), and ends with
# the line "N passed, N failed" (automake's # PASS / # FAIL, summed).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
out=${STITCH_TEST_DIR:-$top/build-test}

scripts/deps.sh test || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
count() { # sums "# PASS:" / "# FAIL:" / "# ERROR:" lines of a make check log
        local p f e
        p=$(grep -E '^# PASS: ' "$1" | awk '{s+=$3} END {print s+0}')
        f=$(grep -E '^# FAIL: ' "$1" | awk '{s+=$3} END {print s+0}')
        e=$(grep -E '^# (ERROR|XPASS): ' "$1" | awk '{s+=$3} END {print s+0}')
        passed=$((passed + p))
        failed=$((failed + f + e))
}
build_failed() { echo "$1"; failed=$((failed + 1)); }

run_suite() { # NAME CONFIGURE_ARGS... ; runs make check in $out/NAME
        local name=$1; shift
        local dir=$out/$name
        rm -rf "$dir"; mkdir -p "$dir"
        echo "=== $name: configure $*"
        if ! (cd "$dir" && "$top/configure" "$@" >configure.log 2>&1); then
                tail -n 30 "$dir/configure.log"; build_failed "$name: configure failed"; return
        fi
        if ! make -C "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
                grep -E 'error|Error' "$dir/build.log" | head -n 30; build_failed "$name: build failed"; return
        fi
        make -C "$dir" -j"$jobs" check ${TESTS_OVERRIDE:+TESTS="$TESTS_OVERRIDE"} >"$dir/check.log" 2>&1
        grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS|# )' "$dir/check.log"
        for f in $(grep -lE '^(:test-result: )?(FAIL|ERROR)' $(find "$dir/tests" -name '*.log' 2>/dev/null) 2>/dev/null); do
                echo "--- $f"; tail -n 40 "$f"
        done
        count "$dir/check.log"
}

# 1. The full suite, warnings as errors.
run_suite main --enable-werror --enable-unit-tests

# 1b. The daemon's integration tests again with every stitchd under valgrind
# memcheck (an error or a definitely lost block fails the test). About five
# minutes on 2 CPUs.
if [ -f "$out/main/Makefile" ]; then
        echo "=== main: make check-valgrind"
        make -C "$out/main" -j"$jobs" check-valgrind >"$out/main/valgrind.log" 2>&1
        grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS|# )' "$out/main/valgrind.log"
        for f in $(grep -lE '^(:test-result: )?(FAIL|ERROR)' $(find "$out/main/tests" -name '*.log' 2>/dev/null) 2>/dev/null); do
                echo "--- $f"; tail -n 60 "$f"
        done
        count "$out/main/valgrind.log"
fi

# 2. The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (daemon, PAM module, tools and tests all instrumented; a leak, an invalid
# access or undefined behaviour fails the test that hit it). Skipped there:
# sshd and sudo (unsanitized hosts cannot load the sanitized module) and
# valgrind. About 15 minutes on 2 CPUs.
unit_tests=$(make -s -C "$out/main" print-unit-tests 2>/dev/null)
san_start=$(date +%s)
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_suite sanitizers --enable-werror --enable-sanitizers --enable-unit-tests
echo "# sanitizers: $(( $(date +%s) - san_start )) s"

# 3. libFuzzer harnesses: build with clang and run each briefly over its seed corpus.
if command -v clang >/dev/null; then
        dir=$out/fuzz; rm -rf "$dir"; mkdir -p "$dir"
        if (cd "$dir" && CC=clang "$top/configure" --enable-fuzzing >configure.log 2>&1) && \
           make -C "$dir" -j"$jobs" >"$dir/build.log" 2>&1; then
                for fz in "$dir"/tests/fuzz/fuzz-*; do
                        [ -x "$fz" ] || continue
                        name=$(basename "$fz"); corpus=$top/tests/fuzz/corpus/${name#fuzz-}
                        work=$(mktemp -d)
                        if "$fz" -max_total_time=20 -print_final_stats=1 "$work" "$corpus" >"$dir/$name.log" 2>&1; then
                                echo "PASS: fuzz/$name ($(grep -m1 stat::number_of_executed_units "$dir/$name.log" | awk '{print $2}') executions)"
                                passed=$((passed + 1))
                        else
                                echo "FAIL: fuzz/$name"; tail -n 30 "$dir/$name.log"; failed=$((failed + 1))
                        fi
                        rm -rf "$work"
                done
        else
                tail -n 20 "$dir/configure.log" "$dir/build.log"; build_failed "fuzz: build failed"
        fi
fi

# 4. The release tarball builds and passes its unit tests from nothing but itself.
echo "=== distcheck"
if make -C "$out/main" -j"$jobs" distcheck TESTS="$unit_tests" DISTCHECK_CONFIGURE_FLAGS=--enable-unit-tests \
        >"$out/distcheck.log" 2>&1; then
        echo "PASS: make distcheck"; passed=$((passed + 1))
else
        echo "FAIL: make distcheck"; tail -n 40 "$out/distcheck.log"; failed=$((failed + 1))
fi

# 5. The Debian packages as the README builds them: dpkg-buildpackage -us -uc
# -b with its test step (debian/rules runs only the unit tests and fuzz
# smokes, so it is not skipped with nocheck: that step is where a missing
# Build-Depends showed), then lintian, dpkg -i, the installed daemon and a
# PAM login through the installed module, dpkg --purge, all in a throwaway
# root (overlays over /usr, /etc, /var): a stitch installed on this machine,
# e.g. by scripts/quickstart.sh, is never touched. Then the README's order
# for real (tests/security/test-quickstart-survives.sh): the quick start,
# these tests, and the demo user still logs in on the same store. A skip is
# a failure here: deps.sh installs all they need. About three minutes on 2 CPUs.
echo "=== deb: tests/integration/test-deb.sh tests/security/test-quickstart-survives.sh"
deb_start=$(date +%s)
if [ ! -f "$out/main/Makefile" ]; then
        build_failed "deb: no build in $out/main"
else
        STITCH_TEST_DEB=1 STITCH_TEST_DEB_CHECK=1 make -C "$out/main" -j"$jobs" check \
                TESTS="tests/integration/test-deb.sh tests/security/test-quickstart-survives.sh" >"$out/deb.log" 2>&1
        for t in "tests/integration/test-deb.sh|Debian packages: build (with tests), lintian, install, login, purge" \
                 "tests/security/test-quickstart-survives.sh|the quick start survives the tests that install"; do
                name=${t%%|*} what=${t#*|}
                if grep -q "^PASS: $name" "$out/deb.log"; then
                        echo "PASS: $what"; passed=$((passed + 1))
                else
                        echo "FAIL: $what ($name)"
                        tail -n 60 "$out/main/${name%.sh}.log" 2>/dev/null || tail -n 40 "$out/deb.log"
                        failed=$((failed + 1))
                fi
        done
fi
echo "# deb: $(( $(date +%s) - deb_start )) s"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
