#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# debian/control declares every package the build and its `make check`
# compile against (finding 15: libcmocka-dev was missing, so on a fresh
# Debian 12 machine "apt-get build-dep ./ && dpkg-buildpackage -us -uc -b"
# died in the test step). A machine that has everything installed cannot
# show that by building, so this checks it: every system header that this
# build's objects included (the compiler's dependency files; `make check`
# builds every test program before it runs a test) must come from a package
# that Build-Depends, or build-essential, pulls in.
. "${TESTS_LIB:?run through make check}"

[ -f "$top_srcdir/debian/control" ] || skip "no debian/ directory in $top_srcdir (a release tarball)"
for tool in dpkg dpkg-query apt-cache; do
        command -v "$tool" >/dev/null || skip "$tool is not installed (not a Debian system)"
done
mapfile -t depfiles < <(find "$top_builddir" -path '*/.deps/*' -name '*.P[lo]' -size +0 2>/dev/null)
[ "${#depfiles[@]}" -gt 0 ] || skip "$top_builddir was built without dependency tracking"

# The system headers the objects were compiled against.
cat "${depfiles[@]}" | tr ' \\' '\n\n' | sed 's/:$//' | grep '^/' \
        | grep -v -e "^$top_srcdir/" -e "^$top_builddir/" | sort -u > "$T/headers"
[ -s "$T/headers" ] || fail "no system header in the dependency files of $top_builddir"
grep -q '/cjson/cJSON\.h$' "$T/headers" || fail "the dependency files do not show cJSON.h: not a full build?"

# Which package ships each: "PACKAGE HEADER".
xargs -d '\n' dpkg -S < "$T/headers" 2>/dev/null | grep -v '^diversion ' \
        | awk -F': /' '{ n = split($1, p, ", "); for (i = 1; i <= n; i++) { sub(/:.*/, "", p[i]); print p[i], "/" $2 } }' \
        | sort -u > "$T/owners"
while read -r h; do
        grep -q " $h\$" "$T/owners" || fail "$h belongs to no package (dpkg -S): built against files outside Debian's packages?"
done < "$T/headers"

# The package names Build-Depends lists (alternatives included; versions,
# architectures and build profiles dropped: test-only ones are <!nocheck>).
build_depends() {
        awk '/^Build-Depends(-Indep|-Arch)?:/ { on = 1; sub(/^[^:]*:/, ""); print; next }
             on && /^[ \t]/ { print; next } { on = 0 }' "$top_srcdir/debian/control" \
                | sed -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' | tr ',|' '\n\n' \
                | awk '{ print $1 }' | grep -v '^$' | sort -u
}

# Fails naming every header package that DECLARED (plus build-essential)
# does not pull in.
check_declared() { # DECLARED...
        apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
                --no-enhances build-essential "$@" 2>/dev/null | grep -v '^ ' | tr -d '<>' | sort -u > "$T/closure"
        grep -qx libc6-dev "$T/closure" || { echo "apt-cache depends did not resolve build-essential"; return 1; }
        local missing
        missing=$(awk 'NR == FNR { have[$1] = 1; next } !($1 in have) { print $1 " (" $2 ")" }' "$T/closure" "$T/owners" \
                | sort -u -k1,1)
        [ -z "$missing" ] || { echo "$missing"; return 1; }
}

mapfile -t declared < <(build_depends)
[ "${#declared[@]}" -gt 0 ] || fail "no Build-Depends in debian/control"
out=$(check_declared "${declared[@]}") \
        || fail "debian/control's Build-Depends lacks what the build compiles against: $(echo "$out" | tr '\n' ' ')"
ok "every one of $(wc -l < "$T/headers") system headers comes from a package Build-Depends or build-essential pulls in ($(awk '{print $1}' "$T/owners" | sort -u | paste -sd ' '))"

# The check catches finding 15: without libcmocka-dev it names it.
if grep -q ' /usr/include/cmocka\.h$' "$T/owners"; then
        mapfile -t without < <(printf '%s\n' "${declared[@]}" | grep -vx libcmocka-dev)
        out=$(check_declared "${without[@]}") && fail "the check did not notice a Build-Depends without libcmocka-dev"
        grep -q '^libcmocka-dev (/usr/include/cmocka\.h)' <<<"$out" || fail "without libcmocka-dev the check said: $out"
        ok "a Build-Depends without libcmocka-dev is caught (cmocka.h)"
fi
