#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Webhook receiver for the end-to-end tests.

Listens on 127.0.0.1 (an ephemeral port, written to --port-file once it
listens), checks each POST's Standard Webhooks signature against the secret
in --secret-file and appends one JSON line per request to --out:

    {"verified": true, "id": "<webhook-id>", "body": <parsed body or null>}

Answers 204 when the signature verifies, 401 when not, and 503 without
recording anything to the first --fail-first requests, so that tests can
watch the sender retry. Exits cleanly on SIGTERM.

    webhook_receiver.py --port-file FILE --secret-file FILE --out FILE [--fail-first N]
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import time

# Standard Webhooks: refuse timestamps further than this from now (replays).
TOLERANCE_SECONDS = 5 * 60


def load_key(path):
    """The HMAC key: base64 after "whsec_", else the text as it is."""
    with open(path, encoding="utf-8") as stream:
        secret = stream.read()
    if secret.endswith("\n"):
        secret = secret[:-1]
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):], validate=True)
    return secret.encode("utf-8")


def signature_matches(key, webhook_id, timestamp, body, header):
    """True when one of the "v1,<base64>" signatures in header is ours."""
    signed = webhook_id.encode("utf-8") + b"." + timestamp.encode("utf-8") + b"." + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    for candidate in header.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):
            return True
    return False


def verify(key, headers, body):
    webhook_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if not webhook_id or not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - sent) > TOLERANCE_SECONDS:
        return False
    return signature_matches(key, webhook_id, timestamp, body, signature)


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 so that "Expect: 100-continue" is answered at once instead of
    # the client waiting a second; each connection still serves one request.
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline().strip():
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_POST(self):
        server = self.server
        body = self.read_body()
        server.requests += 1
        if server.requests <= server.fail_first:
            self.answer(503)
            return
        verified = verify(server.key, self.headers, body)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        record = {"verified": verified, "id": self.headers.get("webhook-id"), "body": parsed}
        with open(server.out, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        self.answer(204 if verified else 401)

    def do_GET(self):
        self.answer(405)


def write_port(path, port):
    # Renamed into place so that a test polling for the file never reads it half written.
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write("%d\n" % port)
    os.rename(temporary, path)


def on_sigterm(signum, frame):
    raise SystemExit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail-first", type=int, default=0, metavar="N")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, on_sigterm)
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.key = load_key(args.secret_file)
    server.out = args.out
    server.fail_first = args.fail_first
    server.requests = 0
    write_port(args.port_file, server.server_address[1])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
