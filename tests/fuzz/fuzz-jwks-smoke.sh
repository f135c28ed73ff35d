#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the fuzz-jwks target once over its seed corpus: the plain build has a
# smoke driver (tests/fuzz/fuzz-main.c), a --enable-fuzzing build the
# libFuzzer binary, which -runs=0 makes execute the corpus and exit.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
corpus="$top_srcdir/tests/fuzz/corpus/jwks"
smoke="$top_builddir/tests/fuzz/fuzz-jwks-smoke"
fuzzer="$top_builddir/tests/fuzz/fuzz-jwks"

if [ -x "$smoke" ]; then
        exec "$smoke" "$corpus"
elif [ -x "$fuzzer" ]; then
        exec "$fuzzer" -runs=0 "$corpus"
fi
echo "fuzz-jwks-smoke: neither $smoke nor $fuzzer was built" >&2
exit 77
