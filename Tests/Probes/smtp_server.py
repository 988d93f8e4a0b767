"""An SMTP server for Pier's mail tests (aiosmtpd from PyPI), on 127.0.0.1.

Every message it takes is parsed with Python's `email` package and written as one JSON line to OUT/messages.jsonl:
envelope, headers (decoded), TLS and authentication state, and each body part decoded. Prints "listening on PORT"
when it accepts connections; stops on SIGTERM.

    python Tests/Probes/smtp_server.py --out DIR [--cert PEM --key KEY [--implicit-tls | --require-starttls]]
        [--auth USER:PASSWORD] [--mechanisms PLAIN,LOGIN] [--fail-first N] [--refuse RCPT] [--no-starttls]
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    def __init__(self, args):
        self.args = args
        self.attempts = 0
        self.path = os.path.join(args.out, "messages.jsonl")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.args.refuse:
            return "550 5.1.1 <%s>: no such mailbox here" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.attempts <= self.args.fail_first:
            return "451 4.3.0 try again later (attempt %d)" % self.attempts
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append({
                "type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "encoding": part.get("Content-Transfer-Encoding"),
                "content": part.get_content(),
            })
        lines = raw.split(b"\r\n")
        record = {
            "attempt": self.attempts,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated_as": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "defects": [str(defect) for defect in message.defects],
            "headers": {name: str(value) for name, value in message.items()},
            "longest_line": max(len(line) for line in lines),
            "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
            "parts": parts,
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 2.0.0 Ok: queued as pier-%d" % self.attempts


def authenticator(expected):
    user, _, password = expected.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--no-starttls", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--mechanisms", default="PLAIN,LOGIN")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--refuse", action="append", default=[])
    args = parser.parse_args()

    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    port = free_port()
    options = {"hostname": "127.0.0.1", "port": port, "ready_timeout": 10}
    if args.implicit_tls:
        options["ssl_context"] = context
        options["server_hostname"] = "localhost"
    elif context is not None and not args.no_starttls:
        options["tls_context"] = context
        options["require_starttls"] = args.require_starttls
    if args.auth:
        mechanisms = set(args.mechanisms.split(","))
        options["authenticator"] = authenticator(args.auth)
        options["auth_required"] = True
        options["auth_require_tls"] = context is not None
        options["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN") if m not in mechanisms]
    controller = Controller(Recorder(args), **options)
    controller.start()
    print("listening on %d" % port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
