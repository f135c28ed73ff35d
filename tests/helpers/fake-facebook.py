#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for Facebook's Graph API (tests/http/test-facebook.sh,
tests/pam/test-facebook-device.sh): HTTPS on a loopback port with a test
CA's certificate, as strict as the real one where stitchd could go wrong.

  GET  /VERSION/debug_token?input_token=T&access_token=APPID|APPSECRET
  GET  /VERSION/me?fields=...&access_token=T&appsecret_proof=HMAC-SHA256(APPSECRET, T) in hex
                                        (checked when given; required with --require-appsecret-proof)
  POST /VERSION/device/login            access_token=APPID|CLIENT_TOKEN, scope
  POST /VERSION/device/login_status     access_token=APPID|CLIENT_TOKEN, code

Errors are Graph's: HTTP 400 with {"error":{message,type,code,
error_subcode?,fbtrace_id}} (a wrong app token: code 190; an unknown
field: code 100; another version or path: code 2500). Device polls follow
Login for Devices: pending 31/1349174, polling faster than the interval
17/1349172, expired 463/1349152, denied 1349173.

Users and their tokens live in DIR/tokens.json, read at each request:
  {"TOKEN": {"app_id": "...", "type": "USER", "is_valid": true,
             "expires_at": EPOCH (0: never), "user": {"id": "...", "name": ..., "email": ...}}}
DIR/delay (seconds) delays every Graph answer; DIR/graph-error (a JSON
body) answers every Graph call with it and HTTP 400. Each request appends
"METHOD PATH-WITHOUT-QUERY" to DIR/requests (never a token).

Control, for tests only (plain paths under /_control, no token needed):
  POST /_control/approve?user_code=U&token=T   the person approves: T is issued
  POST /_control/deny?user_code=U
  POST /_control/expire?user_code=U
  POST /_control/slowdown?user_code=U&n=N      the next N polls are told to slow down (1349172)
  GET  /_control/polls?user_code=U             {"polls": N, "times": [epoch seconds...], "scope": S}
  GET  /_control/last                          {"user_code": U} of the newest device code
Prints the port when ready."""
import argparse, hashlib, hmac, http.server, json, os, secrets, ssl, sys, threading, time, urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--version", default="v19.0")
ap.add_argument("--app-id", required=True)
ap.add_argument("--app-secret", required=True)
ap.add_argument("--client-token", required=True)
ap.add_argument("--interval", type=int, default=5)
ap.add_argument("--expires-in", type=int, default=420)
ap.add_argument("--require-appsecret-proof", action="store_true",
                help='the app\'s "Require App Secret": /me needs appsecret_proof')
a = ap.parse_args()

ME_FIELDS = {"id", "name", "first_name", "last_name", "middle_name", "email", "picture", "short_name",
             "name_format", "birthday", "gender"}
lock = threading.Lock()
codes = {}  # code -> {user_code, state: pending|approved|denied|expired, token, polls, last_poll, expires}
last_user_code = None


def tokens():
    try:
        with open(os.path.join(a.dir, "tokens.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def graph_error(code, message, type_="OAuthException", subcode=None, title=None, msg=None):
    e = {"message": message, "type": type_, "code": code, "fbtrace_id": "A" + secrets.token_hex(5)}
    if subcode is not None:
        e["error_subcode"] = subcode
    if title:
        e["error_user_title"] = title
        e["error_user_msg"] = msg or title
    return 400, {"error": e}


def bad_app_token():
    return graph_error(190, "Invalid OAuth access token - Cannot parse access token")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request_line(self, method, path):
        with open(os.path.join(a.dir, "requests"), "a") as f:
            f.write("%s %s\n" % (method, path))

    def params(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True, strict_parsing=False)
        if self.command == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            ctype = self.headers.get("Content-Type", "")
            raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
            if raw and not ctype.startswith("application/x-www-form-urlencoded"):
                return u.path, None
            for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items():
                q.setdefault(k, []).extend(v)
        return u.path, {k: v[-1] for k, v in q.items()}

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        path, p = self.params()
        if path.startswith("/_control/"):
            return self.reply(*self.control(path[len("/_control/"):], p or {}))
        self.log_request_line(self.command, path)
        try:
            with open(os.path.join(a.dir, "delay")) as f:
                time.sleep(float(f.read().strip() or 0))
        except OSError:
            pass
        try:
            with open(os.path.join(a.dir, "graph-error")) as f:
                return self.reply(400, json.load(f))  # Graph's own trouble, as the test wrote it
        except OSError:
            pass
        if p is None:
            return self.reply(*graph_error(100, "Unsupported post request.", "GraphMethodException"))
        prefix = "/" + a.version + "/"
        if not path.startswith(prefix):
            return self.reply(*graph_error(2500, "Unknown path components: %s" % path))
        route = (self.command, path[len(prefix):])
        handler = {
            ("GET", "debug_token"): self.debug_token,
            ("GET", "me"): self.me,
            ("POST", "device/login"): self.device_login,
            ("POST", "device/login_status"): self.login_status,
        }.get(route)
        if not handler:
            return self.reply(*graph_error(2500, "Unknown path components: /%s" % route[1]))
        self.reply(*handler(p))

    # ---- the Graph API --------------------------------------------------------
    def debug_token(self, p):
        if "access_token" not in p:
            return graph_error(104, "An access token is required to request this resource.")
        if p["access_token"] != a.app_id + "|" + a.app_secret:
            return bad_app_token()
        if "input_token" not in p:
            return graph_error(100, "The parameter input_token is required")
        t = tokens().get(p["input_token"])
        if t is None:
            return 200, {"data": {"error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse "
                                            "access token"}, "is_valid": False, "scopes": []}}
        expires_at = int(t.get("expires_at", 0))
        valid = bool(t.get("is_valid", True)) and (expires_at == 0 or expires_at > time.time())
        data = {"app_id": t.get("app_id", a.app_id), "type": t.get("type", "USER"),
                "application": "stitch test app", "data_access_expires_at": int(time.time()) + 7776000,
                "expires_at": expires_at, "is_valid": valid, "scopes": ["public_profile", "email"],
                "user_id": t["user"]["id"]}
        if not valid:
            data["error"] = {"code": 190, "message": "Error validating access token: Session has expired",
                             "subcode": 463}
        return 200, {"data": data}

    def me(self, p):
        t = tokens().get(p.get("access_token", ""))
        if t is None:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        expires_at = int(t.get("expires_at", 0))
        if not t.get("is_valid", True) or (expires_at and expires_at <= time.time()):
            return graph_error(190, "Error validating access token: Session has expired", subcode=463)
        proof = p.get("appsecret_proof")
        good = hmac.new(a.app_secret.encode(), p["access_token"].encode(), hashlib.sha256).hexdigest()
        if proof is not None and not hmac.compare_digest(proof, good):
            return graph_error(100, "Invalid appsecret_proof provided in the API argument", "GraphMethodException")
        if proof is None and a.require_appsecret_proof:
            return graph_error(100, "API calls from the server require an appsecret_proof argument",
                               "GraphMethodException")
        fields = [f for f in p.get("fields", "id,name").split(",") if f]
        for f in fields:
            if f not in ME_FIELDS:
                return graph_error(100, "(#100) Tried accessing nonexisting field (%s) on node type (User)" % f)
        u = t["user"]
        out = {}
        for f in fields:
            if f == "picture":
                out["picture"] = {"data": {"height": 50, "is_silhouette": False, "width": 50,
                                           "url": u.get("picture", "https://platform-lookaside.fbsbx.com/p/%s" % u["id"])}}
            elif f in u:
                out[f] = u[f]
        out["id"] = u["id"]
        return 200, out

    def device_login(self, p):
        global last_user_code
        if p.get("access_token") != a.app_id + "|" + a.client_token:
            return bad_app_token()
        code = secrets.token_hex(16)
        user_code = secrets.token_hex(4).upper()[:8]
        with lock:
            codes[code] = {"user_code": user_code, "state": "pending", "token": None, "polls": 0, "times": [],
                           "slowdown": 0, "last_poll": 0.0, "expires": time.time() + a.expires_in, "scope": p.get("scope", "")}
            last_user_code = user_code
        return 200, {"code": code, "user_code": user_code, "verification_uri": "https://www.facebook.com/device",
                     "expires_in": a.expires_in, "interval": a.interval}

    def login_status(self, p):
        if p.get("access_token") != a.app_id + "|" + a.client_token:
            return bad_app_token()
        with lock:
            c = codes.get(p.get("code", ""))
            if c is None:
                return graph_error(100, "The code you entered is invalid", subcode=1349153)
            c["polls"] += 1
            now = time.time()
            c["times"].append(now)
            too_fast = c["last_poll"] and now - c["last_poll"] < a.interval - 0.5
            c["last_poll"] = now
            if c["state"] == "used":
                return graph_error(100, "The code has already been used", subcode=1349153)
            if c["state"] == "expired" or now > c["expires"]:
                return graph_error(463, "Activation Code Expired", subcode=1349152, title="Activation Code Expired")
            if c["state"] == "denied":
                return graph_error(100, "User cancelled", subcode=1349173, title="Login cancelled")
            if c["slowdown"] > 0:
                c["slowdown"] -= 1
                too_fast = True
            if too_fast:
                return graph_error(17, "OAuth Device Excessive Polling", subcode=1349172,
                                   title="OAuth Device Excessive Polling")
            if c["state"] == "pending":
                return graph_error(31, "Device Login Authorization Pending", subcode=1349174,
                                   title="Device Login Authorization Pending")
            token = c["token"]
            c["state"] = "used"  # a code gives one token
        return 200, {"access_token": token, "data_access_expiration_time": int(time.time()) + 7776000,
                     "expires_in": 5183944}

    # ---- the test's hand --------------------------------------------------------
    def control(self, what, p):
        with lock:
            if what == "last":
                return 200, {"user_code": last_user_code}
            c = next((c for c in codes.values() if c["user_code"] == p.get("user_code")), None)
            if c is None:
                return 404, {"error": "no such user_code"}
            if what == "polls":
                return 200, {"polls": c["polls"], "times": c["times"], "user_code": c["user_code"],
                             "scope": c["scope"]}
            if self.command != "POST":
                return 405, {"error": "POST"}
            if what == "approve":
                c["state"], c["token"] = "approved", p.get("token")
            elif what == "deny":
                c["state"] = "denied"
            elif what == "expire":
                c["state"] = "expired"
            elif what == "slowdown":
                c["slowdown"] = int(p.get("n", "1"))
            else:
                return 404, {"error": "unknown control"}
            return 200, {"ok": True}

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
