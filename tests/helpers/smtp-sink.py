#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smtp-sink: an SMTP server (aiosmtpd) that keeps what it receives, for the mailer's tests.

    smtp-sink.py --dir DIR [--host 127.0.0.1] [--port 0] [--starttls CERT KEY]
                 [--reject-rcpt CODE]

Writes each message to DIR/NNNN.eml as received (the DATA bytes, CRLF line endings) and
its envelope to DIR/NNNN.env ("MAIL FROM:<...>" and "RCPT TO:<...>" lines). Prints the port
on stdout once it listens (port 0: a free one), then serves until SIGTERM. --starttls
offers STARTTLS with the given certificate (else none is offered); --reject-rcpt answers
RCPT with CODE (e.g. 550) to test permanent failures.
"""

import argparse
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory, reject_rcpt):
        self.directory = directory
        self.reject_rcpt = reject_rcpt
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt:
            return f"{self.reject_rcpt} 5.1.1 Recipient refused by the test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, f"{self.count:04d}")
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        with open(base + ".tmp", "wb") as f:
            f.write(content)
        with open(base + ".env", "w") as f:
            f.write(f"MAIL FROM:<{envelope.mail_from}>\n")
            for r in envelope.rcpt_tos:
                f.write(f"RCPT TO:<{r}>\n")
            f.write(f"TLS:{'yes' if session.ssl else 'no'}\n")
        os.rename(base + ".tmp", base + ".eml")  # whole files only, for the test's polling
        return "250 Message accepted"


def free_port(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--reject-rcpt", type=int, default=0)
    a = p.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    port = a.port or free_port(a.host)
    tls_context = None
    if a.starttls:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(a.starttls[0], a.starttls[1])

    handler = Sink(a.dir, a.reject_rcpt)
    controller = Controller(handler, hostname=a.host, port=port, tls_context=tls_context,
                            require_starttls=False, decode_data=False)
    controller.start()
    print(port, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    signal.signal(signal.SIGINT, lambda *_: (controller.stop(), sys.exit(0)))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
