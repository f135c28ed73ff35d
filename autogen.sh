#!/bin/sh
# Regenerate the build system (configure, Makefile.in, ...). Run once after checkout.
set -e
cd "$(dirname "$0")"
autoreconf -fi
