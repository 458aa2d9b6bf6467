#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Exec of a denied binary to its record in the events log (tests/bench/agent.sh).

  exec_latency.py BIN_ROOT EVENTS INCG TENANTS_DIR COUNT GROUPS LIMIT_S

COUNT times, one after the other: runs BIN_ROOT/I/xmrig (one path each, so
that each is an alert of its own) in the cgroup TENANTS_DIR/lat-(I % GROUPS)
through INCG, and times from starting it to its firing record in EVENTS (a
tenant has at most 64 alerts firing at once: GROUPS spreads them). Stops
trying after LIMIT_S seconds in all. Prints one line:

  p50 MS p99 MS found N of COUNT tried T

A record that does not come within 5 s, or an exec not tried, counts as
infinitely late: a percentile it falls on is "null". The time includes
spawning incg and the program, as an operator's clock would.
"""
import json
import math
import os
import subprocess
import sys
import time

RECORD_WAIT_S = 5


def main():
    root, events, incg, tenants = sys.argv[1:5]
    count, groups, limit = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    log = open(events)
    log.seek(0, os.SEEK_END)
    pending = ""
    latencies = []
    stop = time.monotonic() + limit
    for i in range(count):
        if time.monotonic() > stop:
            break
        exe = os.path.join(root, str(i), "xmrig")
        start = time.monotonic()
        subprocess.run([incg, os.path.join(tenants, "lat-%d" % (i % groups)), exe, "0"])
        found = None
        while found is None and time.monotonic() < start + RECORD_WAIT_S:
            chunk = log.read()
            if not chunk:
                time.sleep(0.0002)
                continue
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                record = json.loads(line)
                if record.get("exe") == exe and record.get("state") == "firing":
                    found = time.monotonic() - start
        latencies.append(math.inf if found is None else found)
    tried = len(latencies)
    latencies += [math.inf] * (count - tried)
    latencies.sort()

    def rank(p):
        # Nearest rank: the smallest value with at least p% at or below it.
        value = latencies[max(0, math.ceil(p / 100 * count) - 1)]
        return "null" if math.isinf(value) else "%.2f" % (value * 1000)

    found = sum(1 for value in latencies if not math.isinf(value))
    print("p50 %s p99 %s found %d of %d tried %d" % (rank(50), rank(99), found, count, tried))


if __name__ == "__main__":
    main()
