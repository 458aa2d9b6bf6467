#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads a running agent's BPF maps for tests/bench/agent.sh (needs bpftool).

  agent_maps.py PID entries V2_ROOT [SUBTREE]
                                      "TOTAL STALE": entries of usage_by_id
                                      and net_by_id, and how many of them
                                      belong to cgroups that no longer exist;
                                      with SUBTREE, "TOTAL STALE MINE": MINE
                                      of live cgroups under SUBTREE (other
                                      cgroups of a shared host come and go)
  agent_maps.py PID lost              "TOTAL name=N ...": the kernel's lost-
                                      event counters (what the textfile sums
                                      into abusewatch_events_lost_total)
  agent_maps.py PID execs CGROUP_ID   execs of that cgroup in usage_by_id

The maps are found through the agent's own descriptors: other agents on the
host (tests running beside the bench) have maps of the same names.
"""
import json
import os
import subprocess
import sys

# enum lost_reason in include/usage.h, in order.
LOST_REASONS = ["usage_map_full", "cpu_storage", "task_storage", "cgroup_events",
                "net_map_full"]


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else None


def agent_maps(pid):
    """{name: id} of the BPF maps PID holds open."""
    ids = set()
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)) != "anon_inode:bpf-map":
                continue
            with open("/proc/%s/fdinfo/%s" % (pid, fd)) as info:
                for line in info:
                    if line.startswith("map_id:"):
                        ids.add(line.split()[1])
        except OSError:
            pass
    maps = {}
    for map_id in ids:
        info = bpftool("map", "show", "id", map_id) or {}
        if "name" in info:
            maps[info["name"]] = map_id
    return maps


def dump(map_id):
    return bpftool("map", "dump", "id", map_id) or []


def key_of(entry):
    """A per-cgroup map's key: the cgroup id, 8 bytes little-endian."""
    return int.from_bytes(bytes(int(b, 16) for b in entry["key"]), "little")


def cgroup_ids(root):
    ids = set()
    for directory, _, _ in os.walk(root):
        try:
            ids.add(os.stat(directory).st_ino)
        except OSError:
            pass
    return ids


def entries(maps, root, subtree=None):
    keys = []
    for name in ("usage_by_id", "net_by_id"):
        if name in maps:
            keys += [key_of(entry) for entry in dump(maps[name])]
    live = cgroup_ids(root)
    counts = "%d %d" % (len(keys), sum(1 for key in keys if key not in live))
    if subtree:
        mine = cgroup_ids(subtree)
        counts += " %d" % sum(1 for key in keys if key in mine)
    return counts


def bss(maps, suffix):
    """The variables of the .bss map whose (truncated) name ends in SUFFIX."""
    variables = {}
    for name, map_id in maps.items():
        if name.endswith(suffix):
            for entry in dump(map_id):
                for variable in entry.get("formatted", {}).get("value", {}).get(".bss", []):
                    variables.update(variable)
    return variables


def lost(maps):
    counts = {}
    usage = bss(maps, "usage_bp.bss").get("lost_events", [])
    for i, value in enumerate(usage):
        counts[LOST_REASONS[i] if i < len(LOST_REASONS) else "usage_%d" % i] = value
    counts["software_ringbuf"] = bss(maps, "software.bss").get("software_lost_events", 0)
    counts["net"] = bss(maps, "net_bpf.bss").get("net_lost_events", 0)
    return "%d %s" % (sum(counts.values()),
                      " ".join("%s=%d" % (name, value) for name, value in counts.items()))


def execs(maps, cgroup_id):
    for entry in dump(maps.get("usage_by_id", "0")):
        if key_of(entry) == cgroup_id:
            return str(entry["formatted"]["value"]["execs"])
    return "0"


def main():
    pid, mode = sys.argv[1:3]
    maps = agent_maps(pid)
    if mode == "entries":
        print(entries(maps, *sys.argv[3:5]))
    elif mode == "lost":
        print(lost(maps))
    elif mode == "execs":
        print(execs(maps, int(sys.argv[3])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
