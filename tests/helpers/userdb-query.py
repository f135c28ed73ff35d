#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# userdb-query: talks io.systemd.UserDatabase to a socket, or measures NSS.
#
#   userdb-query call SOCKET METHOD PARAMS_JSON [more]
#       sends one call (with "more": true when asked) and prints every reply
#       on its own line, until one comes without "continues".
#   userdb-query nss-latency COUNT PREFIX [same]
#       looks up COUNT user names PREFIX0.. (with "same": PREFIX itself each
#       time) through NSS (getpwnam, in this process: nsswitch.conf decides
#       who answers) and prints "n=.. notfound=.. p50_ms=.. p99_ms=.. max_ms=..".
import json
import pwd
import socket
import sys
import time


def call(path, method, params, more):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    msg = {"method": method, "parameters": json.loads(params)}
    if more:
        msg["more"] = True
    s.sendall(json.dumps(msg).encode() + b"\0")
    buf = b""
    while True:
        while b"\0" not in buf:
            data = s.recv(65536)
            if not data:
                print("userdb-query: connection closed", file=sys.stderr)
                return 1
            buf += data
        raw, buf = buf.split(b"\0", 1)
        reply = json.loads(raw)
        print(json.dumps(reply, sort_keys=True))
        if not reply.get("continues"):
            return 0


def nss_latency(count, prefix, same):
    times, notfound = [], 0
    for i in range(count):
        t = time.perf_counter()
        try:
            pwd.getpwnam(prefix if same else "%s%d" % (prefix, i))
        except KeyError:
            notfound += 1
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print("n=%d notfound=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
          % (count, notfound, pick(0.50), pick(0.99), times[-1]))
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "call":
        return call(sys.argv[2], sys.argv[3], sys.argv[4], len(sys.argv) > 5 and sys.argv[5] == "more")
    if len(sys.argv) in (4, 5) and sys.argv[1] == "nss-latency":
        return nss_latency(int(sys.argv[2]), sys.argv[3], len(sys.argv) == 5 and sys.argv[4] == "same")
    print(__doc__ if __doc__ else "usage: see the header", file=sys.stderr)
    return 2


sys.exit(main())
