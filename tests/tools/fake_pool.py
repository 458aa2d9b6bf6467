#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A fake mining pool (and ordinary server) for tests/e2e/test_wire.sh.

Listens on one TCP address, plain or TLS (--cert/--key: a certificate the
test made), and answers what a connection opens with:

- stratum, one JSON object a line: "login" gets a Monero-style job,
  "mining.subscribe" a subscription and "mining.authorize" true followed by
  a mining.notify, "eth_submitLogin" true; any other JSON-RPC method (an
  LSP "initialize", an Ethereum node's "eth_blockNumber") an empty result;
- an HTTP request: 200 and a short body, then it closes.

Each connection adds one JSON line to --log once it ends: the SNI of its
ClientHello (TLS), the JSON-RPC methods it sent and its HTTP request line,
so that a test knows from the server that the client said what it should.
Never the login or the password. Prints "listening PORT" on stderr once it
listens (PORT: the one chosen when --port is 0). Ends after --lifetime
seconds, or on SIGTERM.

    fake_pool.py --address 127.0.0.1 --port 0 --log FILE [--cert F --key F]
"""

import argparse
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading

CONNECTION_TIMEOUT = 10
seen = threading.local()
log_lock = threading.Lock()


def answer(request):
    method = request.get("method")
    rid = request.get("id")
    if method == "login":
        job = {"blob": "0707" + "00" * 72, "job_id": "e2e-1", "target": "b88d0600",
               "id": "e2e-worker", "height": 3000000, "seed_hash": "00" * 32}
        return [{"id": rid, "jsonrpc": "2.0", "error": None,
                 "result": {"id": "e2e-worker", "job": job, "status": "OK"}}]
    if method == "mining.subscribe":
        return [{"id": rid, "error": None,
                 "result": [[["mining.set_difficulty", "e2e"], ["mining.notify", "e2e"]],
                            "08000002", 4]}]
    if method == "mining.authorize":
        return [{"id": rid, "result": True, "error": None},
                {"id": None, "method": "mining.notify",
                 "params": ["e2e-1", "00" * 32, "01", "02", [], "20000000", "1d00ffff",
                            "5f5e1000", True]}]
    if method == "eth_submitLogin":
        return [{"id": rid, "jsonrpc": "2.0", "result": True}]
    return [{"id": rid, "jsonrpc": "2.0", "result": {}}]


class Handler(socketserver.StreamRequestHandler):
    timeout = CONNECTION_TIMEOUT

    def setup(self):
        seen.sni = None
        if self.server.tls:
            self.request.settimeout(CONNECTION_TIMEOUT)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def handle(self):
        entry = {"sni": seen.sni, "methods": [], "http": None}
        try:
            while True:
                line = self.rfile.readline(65536)
                if not line:
                    break
                text = line.decode("utf-8", "replace").strip()
                if entry["http"] is None and not entry["methods"] and \
                        text.split(" ")[0] in ("GET", "HEAD", "POST"):
                    entry["http"] = text
                    while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                        pass
                    body = b"ok\n"
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                     b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                                     % len(body) + body)
                    break
                try:
                    request = json.loads(text)
                except ValueError:
                    continue
                if not isinstance(request, dict):
                    continue
                entry["methods"].append(str(request.get("method")))
                for reply in answer(request):
                    self.wfile.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
                self.wfile.flush()
        except (OSError, ssl.SSLError):
            pass
        finally:
            entry["sni"] = seen.sni
            with log_lock, open(self.server.log, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


def remember_sni(sslobj, name, context):
    seen.sni = name


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--lifetime", type=float, default=300)
    args = parser.parse_args()

    if not args.address.startswith("127."):
        sys.exit("fake_pool.py: loopback addresses only")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    try:
        server = Server((args.address, args.port), Handler)
    except OSError as error:
        sys.exit("fake_pool.py: cannot listen on %s:%d: %s" % (args.address, args.port, error))
    server.log = args.log
    server.tls = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        context.sni_callback = remember_sni
        server.tls = context
    print("listening %d" % server.server_address[1], file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
