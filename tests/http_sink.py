#!/usr/bin/python3
"""http_sink.py: a real HTTP endpoint for tests of what Vigil sends out
(webhooks, PagerDuty, SMS gateways). It listens on 127.0.0.1 at a port the
kernel picks, writes that port to --port-file once listening, appends every
request it receives to --log as one JSON line (method, path, query, headers,
body), and answers with the statuses of --responses in order, the last one
repeating: "503,503,200" fails twice, then succeeds. --retry-after adds a
Retry-After header to 429 and 503 answers, sent as given (delta seconds,
"120", or an HTTP date). --location adds a Location header to 3xx answers.
--delay holds each answer that many seconds (a slow peer, for timeouts).
--tls-cert and --tls-key serve HTTPS instead; with --client-ca a client
must present a certificate that CA signed (its subject's CN is logged as
"client_cn"). Each record also holds "target", the request line's target
as sent: an absolute URL when the sink was used as a proxy. Stop it with
SIGTERM.
"""
import argparse
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--responses", default="200")
    ap.add_argument("--retry-after", default=None)
    ap.add_argument("--location", default=None)
    ap.add_argument("--tls-cert", default=None)
    ap.add_argument("--tls-key", default=None)
    ap.add_argument("--client-ca", default=None)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--body", default="{}")
    args = ap.parse_args()
    statuses = [int(s) for s in args.responses.split(",") if s]
    lock = threading.Lock()
    state = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            url = urllib.parse.urlsplit(self.path)
            with lock:
                i = state["n"]
                state["n"] += 1
                status = statuses[min(i, len(statuses) - 1)]
                cn = None
                if args.tls_cert:
                    for rdn in (self.connection.getpeercert() or {}).get("subject", ()):
                        for k, v in rdn:
                            if k == "commonName":
                                cn = v
                rec = {
                    "method": self.command,
                    "target": self.path,
                    "client_cn": cn,
                    "path": url.path,
                    "query": url.query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                    "status": status,
                }
                with open(args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
            if args.delay > 0:
                time.sleep(args.delay)
            out = args.body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            if args.retry_after is not None and status in (429, 503):
                self.send_header("Retry-After", args.retry_after)
            if args.location is not None and 300 <= status < 400:
                self.send_header("Location", args.location)
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    # Every record is written and closed before its answer: nothing is
    # lost by leaving at once (serve_forever's shutdown polls 0.5 s).
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
