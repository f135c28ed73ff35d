#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Long libFuzzer runs of the harnesses (wire, config, jwt, pam-reply,
# jwt-verifier, jwks, idp-replies).
# Needs a build configured with CC=clang --enable-fuzzing; anywhere else it
# skips. Each harness starts from a scratch copy of its seed corpus and runs
# STITCH_FUZZ_RUNS executions in total (default 10 million), split over
# STITCH_FUZZ_JOBS parallel jobs (default 2). Any crash, leak, timeout or OOM
# artifact, or a job that does not finish cleanly, fails the test.
#
#   make check-reliability                       (from a fuzzing build)
#   STITCH_FUZZ_RUNS=200000 tests/reliability/fuzz-long.sh wire jwt
#
# Prints one summary line per harness: executions, wall time, final corpus
# size (files and bytes). STITCH_FUZZ_KEEP=DIR keeps the corpora there.
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
runs=${STITCH_FUZZ_RUNS:-10000000}
jobs=${STITCH_FUZZ_JOBS:-2}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(wire config jwt pam-reply jwt-verifier jwks idp-replies)

declare -A max_len=([wire]=70000 [config]=16384 [jwt]=8192 [pam-reply]=70000 [jwt-verifier]=32768 [jwks]=70000 [idp-replies]=65537)

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-long.XXXXXX")
trap 'rm -rf "$work"' EXIT

built=0
failed=0
for name in "${names[@]}"; do
        fuzzer="$builddir/tests/fuzz/fuzz-$name"
        if [ ! -x "$fuzzer" ]; then
                echo "fuzz-$name: not built (configure CC=clang --enable-fuzzing)"
                continue
        fi
        built=$((built + 1))
        corpus="$work/$name/corpus"
        mkdir -p "$corpus" "$work/$name/artifacts" "$work/$name/logs"
        cp "$srcdir/tests/fuzz/corpus/$name"/* "$corpus"/
        chmod u+w "$corpus"/*

        per_job=$(( (runs + jobs - 1) / jobs ))
        start=$(date +%s)
        (
                cd "$work/$name/logs" &&
                "$fuzzer" -jobs="$jobs" -workers="$jobs" -runs="$per_job" \
                        -max_len="${max_len[$name]}" -timeout=30 -rss_limit_mb=2048 \
                        -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" \
                        "$corpus" >"$work/$name/logs/main.log" 2>&1
        )
        rc=$?
        end=$(date +%s)

        execs=0
        for log in "$work/$name/logs"/fuzz-*.log; do
                [ -f "$log" ] || continue
                n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
                execs=$((execs + ${n:-0}))
        done
        files=$(find "$corpus" -type f | wc -l)
        bytes=$(du -sb "$corpus" | cut -f1)
        artifacts=$(find "$work/$name/artifacts" -type f | wc -l)

        echo "fuzz-$name: $execs executions in $((end - start)) s with $jobs jobs," \
             "corpus $files files / $bytes bytes, artifacts $artifacts, exit $rc"
        if [ "$rc" -ne 0 ] || [ "$artifacts" -ne 0 ] || [ "$execs" -lt "$runs" ]; then
                failed=1
                for log in "$work/$name/logs"/*.log; do
                        echo "--- $log"; grep -E 'ERROR|SUMMARY|==[0-9]+==|Test unit written' "$log" | head -n 20
                done
                if [ -n "${STITCH_FUZZ_ARTIFACTS:-}" ]; then
                        mkdir -p "$STITCH_FUZZ_ARTIFACTS" && cp -r "$work/$name/artifacts" "$STITCH_FUZZ_ARTIFACTS/$name"
                fi
        fi
        if [ -n "${STITCH_FUZZ_KEEP:-}" ]; then
                mkdir -p "$STITCH_FUZZ_KEEP/$name" && cp "$corpus"/* "$STITCH_FUZZ_KEEP/$name"/
        fi
done

[ "$built" -gt 0 ] || { echo "SKIP: no libFuzzer binaries here"; exit 77; }
exit "$failed"
