#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for Google's OAuth endpoints, for tests/http/test-google.sh and
tests/pam/test-google-device.sh: HTTPS on a loopback port with a test CA's
certificate (as tests/helpers/jwks-server.py), speaking the protocol as
Google does (research/device-grants.md), strictly:

  POST /device/code   client_id, scope (form-encoded): a device code for a
                      registered "TVs and Limited Input devices" client
  POST /token         grant_type=urn:ietf:params:oauth:grant-type:device_code
                      (client_id, client_secret, device_code): 428
                      authorization_pending, 403 slow_down / access_denied,
                      400 expired_token, 200 with an id_token once approved;
                      grant_type=authorization_code (code, client_id,
                      client_secret, redirect_uri): 200 with an id_token
  GET  /certs         the JWK Set (RS256, kid "k1"; "k2" after /control/rotate)

Wrong client ids or secrets, a wrong content type, a missing parameter or
an unknown grant type get Google's errors and status codes.

Control (GET, for the test; JSON answers):
  /control/approve?user_code=C&sub=S&email=E[&hd=H][&email_verified=false]
  /control/deny?user_code=C     /control/expire?user_code=C
  /control/slow_down?user_code=C&n=N    (the next N polls answer slow_down)
  /control/polls?user_code=C    {"polls": N, "times": [...]}
  /control/codes                {"codes": [user codes, oldest first]}
  /control/auth_code?code=X&sub=S&email=E[&aud=A]   an authCode to exchange
  /control/mint?sub=S&email=E&aud=A[&iss=I][&exp=SECONDS][&email_verified=..][&hd=H][&kid=K]
                                {"id_token": ...} signed with the set's key
  /control/rotate               serve k2 only from now on
Every request is appended to DIR/requests (method, path, no body).

Config: --clients FILE, JSON {"web": {"ID": "SECRET"}, "device": {"ID": "SECRET"}};
--interval and --expires-in for new device codes. Prints the port when ready."""
import argparse, base64, http.server, json, os, secrets, ssl, sys, threading, time, urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ap = argparse.ArgumentParser()
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--clients", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--interval", type=int, default=5)
ap.add_argument("--expires-in", type=int, default=1800)
a = ap.parse_args()

with open(a.clients) as f:
    CLIENTS = json.load(f)

lock = threading.Lock()
KEYS = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048) for k in ("k1", "k2")}
state = {"kid": "k1", "grants": {}, "by_user_code": {}, "codes": [], "auth_codes": {}}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwk(kid):
    n = KEYS[kid].public_key().public_numbers().n
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "e": "AQAB",
            "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))}


def sign(claims, kid=None):
    kid = kid or state["kid"]
    h = b64url(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    p = b64url(json.dumps(claims).encode())
    sig = KEYS[kid].sign(f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{h}.{p}.{b64url(sig)}"


def id_token(aud, sub, email, hd=None, email_verified=True, iss="https://accounts.google.com", exp=3600, kid=None):
    now = int(time.time())
    c = {"iss": iss, "azp": aud, "aud": aud, "sub": sub, "email": email, "email_verified": email_verified,
         "at_hash": b64url(secrets.token_bytes(16)), "name": "Ada Lovelace", "given_name": "Ada",
         "family_name": "Lovelace", "picture": "https://lh3.googleusercontent.com/a/test", "locale": "en",
         "iat": now, "exp": now + exp}
    if hd:
        c["hd"] = hd
    return sign(c, kid)


def token_answer(aud, who):
    return {"access_token": "ya29." + secrets.token_urlsafe(32), "expires_in": 3599,
            "refresh_token": "1//" + secrets.token_urlsafe(32), "scope": "openid email profile",
            "token_type": "Bearer", "id_token": id_token(aud, who["sub"], who["email"], who.get("hd"),
                                                         who.get("email_verified", True))}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
        self.end_headers()
        self.wfile.write(body)

    def log_request_line(self, method):
        with open(os.path.join(a.dir, "requests"), "a") as f:
            f.write(f"{method} {self.path.split('?')[0]}\n")

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return None
        f = urllib.parse.parse_qs(raw, keep_blank_values=True)
        if any(len(v) != 1 for v in f.values()):
            return {}
        return {k: v[0] for k, v in f.items()}

    def do_POST(self):
        self.log_request_line("POST")
        path = self.path.split("?")[0]
        f = self.form()
        if f is None:
            # Google answers a JSON or missing body on these endpoints with invalid_request.
            return self.answer(400, {"error": "invalid_request",
                                     "error_description": "Invalid content type; expected form-urlencoded"})
        if path == "/device/code":
            return self.device_code(f)
        if path == "/token":
            return self.token(f)
        self.answer(404, {"error": "not_found"})

    def device_code(self, f):
        cid = f.get("client_id")
        if not cid:
            return self.answer(400, {"error": "invalid_request", "error_description": "Missing required parameter: client_id"})
        if cid in CLIENTS.get("web", {}):
            return self.answer(401, {"error": "invalid_client", "error_description": "The OAuth client type is incorrect"})
        if cid not in CLIENTS.get("device", {}):
            return self.answer(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        scope = f.get("scope", "")
        if not scope or any(s not in ("openid", "email", "profile") for s in scope.split(" ")):
            return self.answer(400, {"error": "invalid_scope", "error_description": "Invalid scope"})
        with lock:
            dc = "AH-1Ng" + secrets.token_urlsafe(48)
            uc = "-".join("".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(3)) for _ in range(3))
            g = {"client_id": cid, "user_code": uc, "status": "pending", "polls": 0, "times": [],
                 "slow_down": 0, "expires": time.time() + a.expires_in, "scope": scope}
            state["grants"][dc] = g
            state["by_user_code"][uc] = g
            state["codes"].append(uc)
        self.answer(200, {"device_code": dc, "user_code": uc, "expires_in": a.expires_in, "interval": a.interval,
                          "verification_url": "https://www.google.com/device"})

    def check_client(self, f, kind):
        cid, secret = f.get("client_id"), f.get("client_secret")
        if not cid:
            self.answer(400, {"error": "invalid_request", "error_description": "Missing required parameter: client_id"})
            return None
        clients = CLIENTS.get(kind, {})
        if cid not in clients:
            self.answer(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
            return None
        if secret != clients[cid]:
            self.answer(401, {"error": "invalid_client", "error_description": "Unauthorized"})
            return None
        return cid

    def token(self, f):
        gt = f.get("grant_type")
        if not gt:
            return self.answer(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "})
        if gt == DEVICE_GRANT:
            cid = self.check_client(f, "device")
            if not cid:
                return
            with lock:
                g = state["grants"].get(f.get("device_code", ""))
                if not g or g["client_id"] != cid:
                    return self.answer(400, {"error": "invalid_grant", "error_description": "Malformed auth code."})
                g["polls"] += 1
                g["times"].append(time.time())
                if g["status"] == "pending" and time.time() >= g["expires"]:
                    g["status"] = "expired"
                if g["slow_down"] > 0 and g["status"] == "pending":
                    g["slow_down"] -= 1
                    return self.answer(403, {"error": "slow_down", "error_description": "Forbidden"})
                st = g["status"]
                if st == "pending":
                    return self.answer(428, {"error": "authorization_pending", "error_description": "Precondition Required"})
                if st == "denied":
                    return self.answer(403, {"error": "access_denied", "error_description": "Forbidden"})
                if st == "expired":
                    return self.answer(400, {"error": "expired_token", "error_description": "Bad Request"})
                if st == "used":
                    return self.answer(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                g["status"] = "used"
                return self.answer(200, token_answer(cid, g["who"]))
        if gt == "authorization_code":
            cid = self.check_client(f, "web")
            if not cid:
                return
            if "redirect_uri" not in f:
                return self.answer(400, {"error": "invalid_request", "error_description": "Missing parameter: redirect_uri"})
            with lock:
                who = state["auth_codes"].pop(f.get("code", ""), None)
            if not who:
                return self.answer(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return self.answer(200, token_answer(who.get("aud") or cid, who))
        self.answer(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + gt})

    def do_GET(self):
        self.log_request_line("GET")
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        if u.path == "/certs":
            return self.answer(200, {"keys": [jwk(state["kid"])]})
        if not u.path.startswith("/control/"):
            return self.answer(404, {"error": "not_found"})
        what = u.path[len("/control/"):]
        with lock:
            if what == "codes":
                return self.answer(200, {"codes": state["codes"]})
            if what == "rotate":
                state["kid"] = "k2"
                return self.answer(200, {})
            if what == "mint":
                t = id_token(q["aud"], q["sub"], q["email"], q.get("hd"), q.get("email_verified", "true") == "true",
                             q.get("iss", "https://accounts.google.com"), int(q.get("exp", "3600")), q.get("kid"))
                return self.answer(200, {"id_token": t})
            if what == "auth_code":
                state["auth_codes"][q["code"]] = {"sub": q["sub"], "email": q["email"], "aud": q.get("aud"),
                                                  "hd": q.get("hd")}
                return self.answer(200, {})
            g = state["by_user_code"].get(q.get("user_code", ""))
            if not g:
                return self.answer(404, {"error": "no such user code"})
            if what == "approve":
                g["status"] = "approved"
                g["who"] = {"sub": q["sub"], "email": q["email"], "hd": q.get("hd"),
                            "email_verified": q.get("email_verified", "true") == "true"}
            elif what == "deny":
                g["status"] = "denied"
            elif what == "expire":
                g["status"] = "expired"
            elif what == "slow_down":
                g["slow_down"] = int(q.get("n", "1"))
            elif what != "polls":
                return self.answer(404, {"error": "unknown control"})
            return self.answer(200, {"polls": g["polls"], "times": g["times"], "status": g["status"]})

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


srv = Server(("127.0.0.1", a.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
print(srv.server_address[1], flush=True)
sys.stdout.close()
srv.serve_forever()
