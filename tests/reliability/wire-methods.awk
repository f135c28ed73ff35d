# SPDX-License-Identifier: LGPL-2.1-or-later
# Reads docs/wire.md and prints one line per method: the method name and the
# parameter names the document gives it ("METHOD FIELD..."). Generous on
# purpose: test-load.sh keeps only the fields the daemon accepts as strings.

function flush() { if (method != "") print method, fields; method = ""; fields = ""; done = 0 }
function add(tok) { gsub(/:.*/, "", tok); if (tok ~ /^[a-z_]+$/ && index(" " fields " ", " " tok " ") == 0) fields = fields " " tok }
/^### io\.stitch\./ { flush(); method = $2; intable = 0; next }
/^## / { flush(); next }
/^\| `io\.stitch\.Admin\./ {
        flush()
        n = split($0, col, "|")
        names = col[2]; params = col[3]
        m = split(names, nm, "/")
        for (i = 1; i <= m; i++) {
                x = nm[i]; gsub(/[ `]/, "", x)
                if (x !~ /^io\./) x = "io.stitch.Admin." x
                f = ""; rest = params
                while (match(rest, /`[^`]*`/)) { tok = substr(rest, RSTART + 1, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH); sub(/:.*/, "", tok); if (tok ~ /^[a-z_]+$/ && index(" " f " ", " " tok " ") == 0) f = f " " tok }
                print x f
        }
        next
}
method != "" && !done {
        if ($0 ~ /^\| `/) { # parameter table: first column only
                split($0, col, "|"); c = col[2]
                while (match(c, /`[^`]*`/)) { add(substr(c, RSTART + 1, RLENGTH - 2)); c = substr(c, RSTART + RLENGTH) }
                next
        }
        if ($0 ~ /^\|/) next
        line = $0
        cut = match(line, /Reply|Errors?:/)
        if (cut) { line = substr(line, 1, RSTART - 1); done = 1 }
        while (match(line, /`[^`]*`/)) { add(substr(line, RSTART + 1, RLENGTH - 2)); line = substr(line, RSTART + RLENGTH) }
}
END { flush() }
