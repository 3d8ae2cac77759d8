#!/usr/bin/python3
"""smtp_sink.py: a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd)
for tests of the email channel. It listens on 127.0.0.1 at a port the
kernel picks and writes that port to --port-file once listening. Every
message it accepts is saved in --out-dir as N.eml (the bytes received) and
N.json: the envelope (mail_from, rcpt_tos), the EHLO name, whether the
session ran under TLS and who authenticated, and the message as Python's
own email parser reads it (headers, the decoded text/plain and text/html
parts, parser defects), so the test checks the message with a parser that
is not Vigil's.

--tls-cert/--tls-key offer STARTTLS (--smtps: implicit TLS instead);
--auth USER:PASS requires AUTH (over TLS when TLS is on). A recipient
containing "reject" is refused with 550, one containing "later" with 451.
Stop it with SIGTERM.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def part_text(msg, subtype):
    for part in msg.walk():
        if part.get_content_type() == "text/" + subtype:
            return part.get_content()
    return None


def login_of(session):
    data = getattr(session, "auth_data", None)
    if isinstance(data, LoginPassword):
        return data.login.decode()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--smtps", action="store_true")
    ap.add_argument("--auth")
    args = ap.parse_args()

    ctx = None
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    state = {"n": 0}

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if "reject" in address:
                return "550 5.1.1 no such user"
            if "later" in address:
                return "451 4.3.0 try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            state["n"] += 1
            n = state["n"]
            raw = envelope.original_content or envelope.content
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            rec = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "ehlo": session.host_name,
                "tls": session.ssl is not None or args.smtps,
                "login": login_of(session),
                "headers": {k: str(v) for k, v in msg.items()},
                "content_type": msg.get_content_type(),
                "text": part_text(msg, "plain"),
                "html": part_text(msg, "html"),
                "defects": [str(d) for d in msg.defects] + [str(d) for p in msg.walk() for d in p.defects],
                "max_line": max((len(line) for line in raw.split(b"\r\n")), default=0),
                "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
            }
            path = os.path.join(args.out_dir, "%d" % n)
            with open(path + ".eml.tmp", "wb") as f:
                f.write(raw)
            os.rename(path + ".eml.tmp", path + ".eml")
            with open(path + ".json.tmp", "w", encoding="utf-8") as f:
                json.dump(rec, f)
            os.rename(path + ".json.tmp", path + ".json")
            return "250 Message accepted for delivery"

    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = args.auth.split(":", 1)
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def factory():
        kw = {}
        if ctx is not None and not args.smtps:
            kw["tls_context"] = ctx
            kw["require_starttls"] = True
        if args.auth:
            kw["authenticator"] = authenticator
            kw["auth_required"] = True
            kw["auth_require_tls"] = ctx is not None and not args.smtps
        return SMTP(Handler(), hostname="sink.test", **kw)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, host="127.0.0.1", port=0, ssl=ctx if args.smtps else None))
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
