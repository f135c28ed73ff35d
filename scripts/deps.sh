#!/bin/sh
# Installs what stitch needs on Debian 12: "build" (to build and run) or "test" (also the test tools,
# and debian/control's Build-Depends, test-only ones included, for tests/integration/test-deb.sh).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-build}
build="build-essential autoconf automake libtool pkg-config
       libpam0g-dev libssl-dev libargon2-dev libcjson-dev libsqlite3-dev libsystemd-dev libcurl4-openssl-dev
       libmicrohttpd-dev libpq-dev libqrencode-dev pamtester"
test="$build clang libclang-rt-14-dev libcmocka-dev libpam-wrapper jq sqlite3 openssh-server openssh-client sudo
      sshpass expect mandoc groff-base systemd procps util-linux iproute2 valgrind python3
      debhelper dpkg-dev lintian man-db curl openssl nodejs dbus-daemon libnss-systemd passwd
      python3-aiosmtpd python3-cryptography chromium postgresql"
pkgs=$build
[ "$what" = test ] && pkgs=$test
if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/deps.sh: run as root (installs Debian packages)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Only ask apt when something is missing: keeps reruns fast and offline-friendly.
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null | awk '$4 != "installed" {print $1}'; \
          for p in $pkgs; do dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
missing=$(echo "$missing" | sort -u | tr '\n' ' ')
if [ -n "$(echo "$missing" | tr -d ' ')" ]; then
        echo "Installing: $missing"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# npm for the tests' SDK clients (realm-web, installed into a temp dir by the
# tests): Debian's package, unless a node already brings its own npm.
if [ "$what" = test ] && ! command -v npm >/dev/null 2>&1; then
        echo "Installing: npm"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
# What debian/control declares for the package build (test-deb.sh runs
# dpkg-buildpackage), installed the way a user does: apt-get build-dep ./
if [ "$what" = test ] && [ -f "$top/debian/control" ] && ! (cd "$top" && dpkg-checkbuilddeps 2>/dev/null); then
        echo "Installing the Build-Depends of debian/control"
        apt-get update -qq
        apt-get build-dep -y -qq --no-install-recommends "$top" >/dev/null
fi
