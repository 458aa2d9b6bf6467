#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""UDP between two processes on loopback, for the tests and benches that
need a conversation of two cgroups (each process started in its own).

  udp_echo.py serve SECONDS [sink] echoes datagrams on 127.0.0.1 (a free
                                   port, printed as "listening PORT" on
                                   stderr) until SECONDS without one; with
                                   sink, only receives them; prints how many
  udp_echo.py ping PORT COUNT SIZE COUNT SIZE-byte datagrams, one at a
                                   time, each echoed back; prints COUNT,
                                   fails (status 1) when one is lost
  udp_echo.py stream PORT SECONDS SIZE
                                   SIZE-byte datagrams one way for SECONDS
                                   (to a sink server); prints how many

Every mode stops by itself; payloads are zeroes.
"""
import socket
import sys
import time

MAX_SECONDS = 600


def serve(seconds, sink=False):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(min(float(seconds), MAX_SECONDS))
    print("listening %d" % sock.getsockname()[1], file=sys.stderr, flush=True)
    echoed = 0
    while True:
        try:
            data, peer = sock.recvfrom(65536)
        except socket.timeout:
            break
        if not sink:
            sock.sendto(data, peer)
        echoed += 1
    print(echoed)
    return 0


def ping(port, count, size):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", int(port)))
    sock.settimeout(2)
    payload = bytes(int(size))
    for _ in range(int(count)):
        sock.send(payload)
        try:
            sock.recv(65536)
        except socket.timeout:
            print("udp_echo: a datagram was lost", file=sys.stderr)
            return 1
    print(count)
    return 0


def stream(port, seconds, size):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", int(port)))
    payload = bytes(int(size))
    end = time.monotonic() + min(float(seconds), MAX_SECONDS)
    sent = 0
    while time.monotonic() < end:
        for _ in range(100):
            try:
                sock.send(payload)
                sent += 1
            except ConnectionRefusedError:
                pass
    print(sent)
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        return serve(argv[2])
    if len(argv) == 4 and argv[1] == "serve" and argv[3] == "sink":
        return serve(argv[2], sink=True)
    if len(argv) == 5 and argv[1] == "ping":
        return ping(*argv[2:])
    if len(argv) == 5 and argv[1] == "stream":
        return stream(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
