#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# fleet-propagation: how long a logout on one stitchd takes to hold on
# another that shares its store (DESIGN.md "Fleet store").
#
#   fleet-propagation A_SOCKET B_SOCKET USER PASSWORD COUNT [DEADLINE_S]
#
# COUNT times: logs USER in on A, waits until B verifies the access token,
# logs the session out on A (Token.Logout) and asks B's Token.Verify, as
# fast as it answers, until B refuses the token; the time from the logout's
# reply to B's first refusal is one sample. Prints
#   n=COUNT p50_ms=.. p99_ms=.. max_ms=..
# Exit 1 if B still verifies a token DEADLINE_S (default 10) seconds after
# its logout, or if any call fails: a correctness check, not a timing one.
import json
import socket
import sys
import time


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def call(self, method, **params):
        self.s.sendall(json.dumps({"method": method, "parameters": params}).encode() + b"\0")
        while b"\0" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise RuntimeError("connection closed")
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)


def main():
    if len(sys.argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 2
    a_path, b_path, user, password, count = sys.argv[1:6]
    deadline = float(sys.argv[6]) if len(sys.argv) == 7 else 10.0
    a, b = Conn(a_path), Conn(b_path)
    samples = []
    for i in range(int(count)):
        r = a.call("io.stitch.Auth.Login", user=user, password=password, service="login",
                   provider="local-userpass")
        if "error" in r:
            print(f"login {i} failed: {r}", file=sys.stderr)
            return 1
        access, refresh = r["parameters"]["access_token"], r["parameters"]["refresh_token"]
        v = b.call("io.stitch.Token.Verify", access_token=access)
        if "error" in v:
            print(f"B does not verify a fresh token: {v}", file=sys.stderr)
            return 1
        r = a.call("io.stitch.Token.Logout", refresh_token=refresh)
        if "error" in r:
            print(f"logout {i} failed: {r}", file=sys.stderr)
            return 1
        t0 = time.monotonic()
        while True:
            v = b.call("io.stitch.Token.Verify", access_token=access)
            t = time.monotonic() - t0
            if "error" in v:
                samples.append(t)
                break
            if t > deadline:
                print(f"B still verifies a token {deadline} s after its logout on A", file=sys.stderr)
                return 1
    samples.sort()
    n = len(samples)
    pct = lambda p: samples[min(n - 1, int(p * n))] * 1000
    print(f"n={n} p50_ms={pct(0.50):.2f} p99_ms={pct(0.99):.2f} max_ms={samples[-1] * 1000:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
