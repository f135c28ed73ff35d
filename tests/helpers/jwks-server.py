#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A JWKS server for tests/http/test-custom-token-jwks.sh: HTTPS on a
loopback port (--port, or a free one), serving the files of --dir by name.
Read at each request, so a test switches sets by rewriting them:
  NAME            the body (Cache-Control from NAME.cache-control if present)
  NAME.delay      seconds to sleep before answering
  NAME.redirect   answer 302 with this Location instead
  NAME.nolength   send no Content-Length (the body ends with the connection)
Each request appends its path to DIR/requests. Prints the port when ready."""
import argparse, http.server, os, socket, ssl, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--port", type=int, default=0)
a = ap.parse_args()


def read(name):
    try:
        with open(os.path.join(a.dir, name), "rb") as f:
            return f.read()
    except OSError:
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        name = os.path.basename(self.path.split("?")[0])
        with open(os.path.join(a.dir, "requests"), "a") as f:
            f.write(self.path + "\n")
        delay = read(name + ".delay")
        if delay:
            time.sleep(float(delay))
        location = read(name + ".redirect")
        if location:
            self.send_response(302)
            self.send_header("Location", location.decode().strip())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = read(name) if name else None
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if read(name + ".nolength") is None:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        cc = read(name + ".cache-control")
        if cc:
            self.send_header("Cache-Control", cc.decode().strip())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that does not trust our CA hangs up mid-handshake


srv = Server(("127.0.0.1", a.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
# The handshake on the request thread: a slow or failing client never holds up accept().
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
print(srv.server_address[1], flush=True)
sys.stdout.close()
srv.serve_forever()
