#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""An HTTP(S) sink that fails on demand, for the fault tests.

Listens on 127.0.0.1 (an ephemeral port, written to --port-file once it
listens) and serves both of the agent's HTTP sinks: POST .../api/v2/alerts
(Alertmanager: a JSON array of alerts) and POST to any other path (the
webhook: one record). How it answers is read from --mode-file at every
request, so a test switches it while the agent runs:

    ok     read the request, answer 200, and append it to --out
    500    answer 500 Internal Server Error (any status: 401, 503, ...)
    hang   read the request and never answer (the connection is held
           until the mode changes, then closed without a word)
    slow   read the request, answer 200 only after --slow seconds (longer
           than the agent's request timeout), not recorded
    mute   accept the connection and never read it (until the mode changes)

Every line of --out is one request answered 200:

    {"kind": "alertmanager"|"webhook", "path": ..., "auth": <Authorization
     header or null>, "body": <parsed JSON>, "at": <when the request had
     come in, epoch seconds>}

With --cert and --key it speaks HTTPS (python's ssl; the certificate
chain is the test's own CA). Exits cleanly on SIGTERM.

    fault_server.py --port-file FILE --mode-file FILE --out FILE
                    [--slow SECONDS] [--cert PEM --key PEM]
"""

import argparse
import http.server
import json
import os
import signal
import socketserver
import ssl
import sys
import threading
import time


def read_mode(path):
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip() or "ok"
    except OSError:
        return "ok"


def wait_while(path, mode, limit=600):
    """Sleeps while the mode file says @mode (at most @limit seconds)."""
    deadline = time.monotonic() + limit
    while read_mode(path) == mode and time.monotonic() < deadline:
        time.sleep(0.05)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # "mute": the connection is accepted, nothing is read.
        if read_mode(self.server.mode_file) == "mute":
            wait_while(self.server.mode_file, "mute")
        super().setup()

    def log_message(self, *args):
        pass

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        arrived = time.time()
        mode = read_mode(self.server.mode_file)
        if mode == "hang":
            wait_while(self.server.mode_file, "hang")
            self.close_connection = True
            return
        if mode.isdigit():
            self.answer(int(mode))
            return
        if mode == "slow":
            time.sleep(self.server.slow)
            self.answer(200)
            return
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        line = {
            "kind": "alertmanager" if self.path.endswith("/api/v2/alerts") else "webhook",
            "path": self.path,
            "auth": self.headers.get("Authorization"),
            "body": parsed,
            "at": arrived,
        }
        with self.server.out_lock:
            with open(self.server.out, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(line) + "\n")
        self.answer(200)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--mode-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--slow", type=float, default=8.0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    server = Server(("127.0.0.1", 0), Handler)
    server.mode_file = args.mode_file
    server.out = args.out
    server.out_lock = threading.Lock()
    server.slow = args.slow
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    temporary = args.port_file + ".tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write("%d\n" % server.server_address[1])
    os.rename(temporary, args.port_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
