#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the fuzz-idp-replies target once over its seed corpus: the plain build has a
# smoke driver (tests/fuzz/fuzz-main.c), a --enable-fuzzing build the
# libFuzzer binary, which -runs=0 makes execute the corpus and exit.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
corpus="$top_srcdir/tests/fuzz/corpus/idp-replies"
smoke="$top_builddir/tests/fuzz/fuzz-idp-replies-smoke"
fuzzer="$top_builddir/tests/fuzz/fuzz-idp-replies"

if [ -x "$smoke" ]; then
        exec "$smoke" "$corpus"
elif [ -x "$fuzzer" ]; then
        exec "$fuzzer" -runs=0 "$corpus"
fi
echo "fuzz-idp-replies-smoke: neither $smoke nor $fuzzer was built" >&2
exit 77
