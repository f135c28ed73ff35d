#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# wire-session: one connection to a stitchd socket, kept open and driven a
# line at a time (tests/lib.sh: stitch_wire_open / stitch_wire / _close).
#
#   wire-session SOCKET < calls > replies
#
# Each line of stdin is one encoded call (JSON); it is sent with the NUL that
# ends a message, and the reply is printed on one line. The connection stays
# open between calls (what a login asks on it lives as long as it does) and
# closes at the end of stdin. Exit status 0, or 1 when the daemon closed the
# connection or sent something that is not a message.
import socket
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: wire-session SOCKET", file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    buf = b""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        s.sendall(line.encode() + b"\0")
        while b"\0" not in buf:
            data = s.recv(65536)
            if not data:
                print("wire-session: connection closed", file=sys.stderr)
                return 1
            buf += data
        msg, buf = buf.split(b"\0", 1)
        sys.stdout.write(msg.decode() + "\n")
        sys.stdout.flush()
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
