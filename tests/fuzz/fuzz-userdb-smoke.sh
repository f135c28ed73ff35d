#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the userdb request fuzz harness (tests/fuzz/fuzz-userdb.c) over its seed corpus (make check). Built
# with --enable-fuzzing, the libFuzzer binary fuzzes for 20000 runs starting
# from a scratch copy of the corpus (libFuzzer adds files to it; the source
# tree may be read-only, as in distcheck); otherwise the standalone driver
# (tests/fuzz/fuzz-main.c) replays the corpus once.
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
corpus="$srcdir/tests/fuzz/corpus/userdb"
fuzzer="$builddir/tests/fuzz/fuzz-userdb"
smoke="$builddir/tests/fuzz/fuzz-userdb-smoke"

if [ -x "$fuzzer" ]; then
        work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-userdb.XXXXXX")
        trap 'rm -rf "$work"' EXIT
        cp "$corpus"/* "$work"/
        chmod u+w "$work"/*
        "$fuzzer" -runs=20000 -max_len=65536 -timeout=30 "$work"
elif [ -x "$smoke" ]; then
        "$smoke" "$corpus"
else
        echo "neither $fuzzer nor $smoke was built" >&2
        exit 99
fi
