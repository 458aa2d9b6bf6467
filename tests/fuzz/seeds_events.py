#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seeds of fuzz_events (tests/fuzz/corpus/events/): records as the
probes make them (include/usage.h, net_events.h, software_events.h), each
framed as fuzz_events.c reads them: a stream byte, a 16-bit length, the bytes.
Run again after a change to one of those structs."""
import os
import socket
import struct

CGROUP_PATH_MAX = 448
EXE_PATH_MAX = 512
ANCESTORS_MAX = 3
CGROUP, CONNECT, SOFTWARE, LOST = 0, 1, 2, 3
MKDIR, RMDIR, RENAME = 1, 2, 3
EXEC, MSR_WRITE, HUGEPAGES = 1, 2, 3
MEMFD, DELETED, TMP, PATH_TRUNCATED = 1, 2, 4, 8


def frame(stream, record):
    return struct.pack(">BH", stream, len(record)) + record


def cgroup(kind, cgroup_id, path, level=2):
    raw = path.encode()
    return frame(CGROUP, struct.pack("<QII", cgroup_id, kind, level) +
                 raw.ljust(CGROUP_PATH_MAX, b"\0")[:CGROUP_PATH_MAX])


def connect(cgroup_id, address, port):
    if ":" in address:
        addr = socket.inet_pton(socket.AF_INET6, address)
        family = socket.AF_INET6
    else:
        addr = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(address)
        family = socket.AF_INET
    return frame(CONNECT, struct.pack("<Q16sHHI", cgroup_id, addr, port, family, 0))


def ancestor(pid=0, comm="", cgroup_id=0, start=0):
    return struct.pack("<IIQQ16s", pid, 0, start, cgroup_id, comm.encode())


def software(cgroup_id, kind, comm, components, flags=0, pid=4242, markers=0, ancestors=()):
    path = b"".join(c.encode() + b"\0" for c in components)
    head = struct.pack("<QIIQQQqqqIIIIII16s", cgroup_id, kind, pid, 123456789, 2049, 77,
                       4096, 1700000000, 1700000000, 0, 0, flags, markers, len(path), 0,
                       comm.encode())
    # ANCESTORS_MAX entries, nearest first; the rest zero.
    tail = b"".join(ancestors) + ancestor() * (ANCESTORS_MAX - len(ancestors))
    return frame(SOFTWARE, head + path.ljust(EXE_PATH_MAX, b"\0") + tail)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "events")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "tenant_life": [
            cgroup(MKDIR, 1001, "/t/alice"), cgroup(MKDIR, 1002, "/t/alice/job"),
            connect(1002, "10.0.0.1", 3333), connect(1002, "10.0.0.2", 25),
            software(1002, EXEC, "xmrig", ["xmrig", "tmp"], TMP),
            cgroup(RENAME, 1002, "/t/bob/job"), cgroup(RMDIR, 1002, ""),
            cgroup(RMDIR, 1001, ""),
        ],
        "port_scan": [cgroup(MKDIR, 7, "/system.slice/docker-abc.scope")] +
                     [connect(7, "192.168.0.%d" % i, 22) for i in range(1, 7)] +
                     [connect(7, "::1", 8080), connect(7, "2001:db8::1", 4444)],
        "software": [
            cgroup(MKDIR, 9, "/t/eve"),
            software(9, EXEC, "bash", ["bash", "bin", "usr"]),
            software(9, EXEC, "x", ["memfd:payload"], MEMFD),
            software(9, EXEC, "deep", ["leaf", "d"] * 16, PATH_TRUNCATED),
            software(9, MSR_WRITE, "miner", [], 0),
            software(9, HUGEPAGES, "miner", [], 0, markers=1),
            # A helper, its parent the tenant's and its grandparent another's.
            software(9, HUGEPAGES, "sysctl", [], 0,
                     ancestors=(ancestor(4241, "sh", 9, 5), ancestor(4240, "indexer", 9, 4),
                                ancestor(1000, "sshd", 1, 3))),
        ],
        # Cgroup events lost in a full ring buffer: the tree is scanned again.
        "lost": [cgroup(MKDIR, 21, "/t/zoe"), cgroup(MKDIR, 22, "/t/zoe/a"), frame(LOST, b""),
                 cgroup(RMDIR, 22, "")] + [connect(21, "10.0.0.9", 80)] * 8,
        # A cgroup path that fills the record (no NUL): the tracker asks the kernel.
        "long_path": [cgroup(MKDIR, 11, "/t/" + "n" * CGROUP_PATH_MAX), cgroup(MKDIR, 12, "")],
    }
    for name, records in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"".join(records))
    # Records cut short, as a stream of any length can end.
    with open(os.path.join(out, "short"), "wb") as f:
        f.write(cgroup(MKDIR, 5, "/t/x")[:40] + connect(5, "10.0.0.1", 80)[:10])


if __name__ == "__main__":
    main()
