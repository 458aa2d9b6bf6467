#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A tiny DNS responder for tests/e2e/test_wire.sh.

Answers every query, over UDP and over TCP on the same loopback address and
port, with NOERROR: an A record 127.0.0.1 (TTL 5) for a question of type A,
no answer for any other type. Adds one JSON line per query to --log:
{"transport": "udp"|"tcp", "name": QNAME, "type": QTYPE}, so that a test
knows from the server which names its clients asked for. Prints "listening"
on stderr once both sockets listen; exits 3 when a port is taken. Ends
after --lifetime seconds, or on SIGTERM.

    dns_responder.py --address 127.0.0.153 --port 53 --log FILE
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading

log_lock = threading.Lock()


def parse_question(message):
    """(id, flags, qname, qtype, end of the question) of a query."""
    if len(message) < 12:
        raise ValueError("short message")
    qid, flags, qdcount = struct.unpack("!HHH", message[:6])
    if qdcount != 1:
        raise ValueError("one question only")
    labels, pos = [], 12
    while True:
        length = message[pos]
        pos += 1
        if length == 0:
            break
        if length > 63:
            raise ValueError("compressed or bad label")
        labels.append(message[pos:pos + length].decode("ascii", "replace"))
        pos += length
    qtype, _ = struct.unpack("!HH", message[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, pos + 4


def respond(message, transport, log_path):
    try:
        qid, flags, name, qtype, end = parse_question(message)
    except (ValueError, IndexError, struct.error):
        return None
    with log_lock, open(log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"transport": transport, "name": name, "type": qtype}) + "\n")
    answers = b""
    if qtype == 1:
        # A pointer to the question's name (offset 12), A, IN, TTL 5, 127.0.0.1.
        answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton("127.0.0.1")
    # Response, recursion available, the query's recursion-desired bit kept.
    reply_flags = 0x8180 | (flags & 0x0100)
    header = struct.pack("!HHHHHH", qid, reply_flags, 1, 1 if answers else 0, 0, 0)
    return header + message[12:end] + answers


def serve_udp(sock, log_path):
    while True:
        message, peer = sock.recvfrom(4096)
        reply = respond(message, "udp", log_path)
        if reply:
            sock.sendto(reply, peer)


def serve_tcp_client(conn, log_path):
    with conn:
        conn.settimeout(10)
        try:
            while True:
                head = conn.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    return
                (length,) = struct.unpack("!H", head)
                message = conn.recv(length, socket.MSG_WAITALL)
                reply = respond(message, "tcp", log_path)
                if not reply:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def serve_tcp(sock, log_path):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_client, args=(conn, log_path), daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="127.0.0.153")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--log", required=True)
    parser.add_argument("--lifetime", type=float, default=300)
    args = parser.parse_args()

    if not args.address.startswith("127."):
        sys.exit("dns_responder.py: loopback addresses only")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Not refused for the TIME_WAIT connections of an earlier run.
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        udp.bind((args.address, args.port))
        tcp.bind((args.address, args.port))
        tcp.listen(16)
    except OSError as error:
        print("dns_responder.py: cannot listen on %s:%d: %s" % (args.address, args.port, error),
              file=sys.stderr, flush=True)
        os._exit(3)
    threading.Thread(target=serve_udp, args=(udp, args.log), daemon=True).start()
    threading.Thread(target=serve_tcp, args=(tcp, args.log), daemon=True).start()
    print("listening", file=sys.stderr, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
