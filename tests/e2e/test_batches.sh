#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Counts batched per CPU (struct cpu_slot, bio_slot, skb_slot and
# connect_slot in include/usage.h) stay exact where the batch is still in a
# CPU slot when the agent reads it, and where its cgroup is removed with the
# batch still there: O_DIRECT bytes exactly as written, network bytes and
# packets exactly as sent and received, connect() calls exactly as made,
# CPU time within 0.1% of cpu.stat. Each load runs pinned to one CPU,
# so its batch waits in that CPU's slot until another tenant works there;
# after a removal another tenant does, which moves the removed cgroup's
# batch to the maps after its final count: it must not count twice (two
# tenants do, as a slot holds two cgroups' network batches). The
# agent's .bss, read with bpftool, says whether the batch was still
# pending when the first count was checked (logged: other work on a shared
# machine may have moved it already, which the test cannot prevent).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases disk_batch_pending disk_batch_removed net_batch_pending net_batch_two_pending \
	net_batch_removed \
	connect_batch_pending connect_batch_removed cpu_batch_removed
e2e_require_root_bpf || e2e_finish
e2e_require_build incg netload benchload burn || e2e_finish
e2e_setup || e2e_finish

for tool in taskset dd bpftool; do
	if ! command -v "$tool" >/dev/null; then
		skip_all "$tool is not installed"
		e2e_finish
	fi
done
# The last CPU: the one least busy with everything else here.
CPU=$(($(nproc) - 1))
CHUNK=65536
WRITE_BYTES=$((8 * 1024 * 1024))
REMOVED_BYTES=$((4 * 1024 * 1024))
CONNECTS=300
# UDP payload bytes of each datagram; on the wire 20 + 8 more (IPv4, UDP).
DATAGRAM=16

disk_backed_dir batches && DIR=$DISK_BACKED_DIR || {
	skip_all "no disk-backed directory (build/ and /var/tmp are tmpfs or not writable)"
	e2e_finish
}
write_config batches || {
	fail_all "cannot write the configuration"
	e2e_finish
}
WRITER=$(tenant_cgroup writer) && JOBS=$(tenant_cgroup jobs job) && OTHER=$(tenant_cgroup other) &&
	TALKER=$(tenant_cgroup talker) && CHATTERS=$(tenant_cgroup chatters chat) &&
	BYSTANDER=$(tenant_cgroup bystander) && PINGER=$(tenant_cgroup pinger) &&
	ECHO=$(tenant_cgroup echo) && DIALER=$(tenant_cgroup dialer) &&
	CALLERS=$(tenant_cgroup callers call) && BURNERS=$(tenant_cgroup burners burn) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
# The files exist, allocated, before a tenant writes them (conv=notrunc):
# no metadata I/O of the file system is charged to the tenant, and what it
# runs is in the page cache, so a tenant's bytes are its file's.
taskset -c 0 true && cat "$AW_TOOLS/incg" "$AW_TOOLS/netload" "$AW_TOOLS/benchload" \
	"$AW_TOOLS/burn" >/dev/null
for name in pending removed other; do
	dd if=/dev/zero of="$DIR/$name" bs=1M count=8 conv=fsync 2>/dev/null || {
		skip_all "cannot write $DIR/$name"
		e2e_finish
	}
done
if ! start_listener listen netload listen PORT 120; then
	fail_all "the listener did not start: $(tail -n 1 "$E2E_TMP/listen.err" 2>/dev/null)"
	e2e_finish
fi
PORT=$LISTEN_PORT
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# in_tenant_on_cpu CGROUP COMMAND...: runs COMMAND in CGROUP, pinned to $CPU.
in_tenant_on_cpu() {
	local cgroup=$1
	shift
	"$AW_TOOLS/incg" "$cgroup" taskset -c "$CPU" "$@"
}

# direct_write CGROUP FILE BYTES: BYTES in CHUNK-sized O_DIRECT writes.
direct_write() {
	in_tenant_on_cpu "$1" dd if=/dev/zero of="$2" bs="$CHUNK" count=$(($3 / CHUNK)) \
		oflag=direct conv=notrunc 2>>"$E2E_TMP/dd.err"
}

direct_read() {
	in_tenant_on_cpu "$1" dd if="$2" of=/dev/null bs="$CHUNK" count=$(($3 / CHUNK)) \
		iflag=direct 2>>"$E2E_TMP/dd.err"
}

# udp_talk CGROUP SECONDS: DATAGRAM-byte datagrams between two sockets of
# one process in CGROUP on $CPU, one at a time (benchload udp): each passes
# cgroup_skb egress, then ingress in the softirq of the same CPU. Prints
# how many went each way; fails when one was lost (sent, maybe counted
# coming in, never received).
udp_talk() {
	local out
	out=$(in_tenant_on_cpu "$1" "$AW_TOOLS/benchload" udp "$2" "$DATAGRAM" 2>"$E2E_TMP/udp.err") &&
		! grep -q lost "$E2E_TMP/udp.err" && [[ ${out%% *} =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "${out%% *}"
}

# net_counted TENANT DATAGRAMS: waits (<= 5 s each) until the tenant's four
# network counters say DATAGRAMS datagrams of udp_talk each way, exactly;
# prints what they say.
net_counted() {
	local tenant=$1 packets=$2 bytes=$(($2 * (20 + 8 + DATAGRAM))) tx tx_packets rx rx_packets status=0
	tx=$(wait_metric 5 abusewatch_tenant_network_transmit_bytes_total "$tenant" == "$bytes") || status=1
	tx_packets=$(wait_metric 5 abusewatch_tenant_network_transmit_packets_total "$tenant" == "$packets") ||
		status=1
	rx=$(wait_metric 5 abusewatch_tenant_network_receive_bytes_total "$tenant" == "$bytes") || status=1
	rx_packets=$(wait_metric 5 abusewatch_tenant_network_receive_packets_total "$tenant" == "$packets") ||
		status=1
	printf 'transmit %s bytes in %s packets, receive %s bytes in %s packets\n' "$tx" "$tx_packets" "$rx" "$rx_packets"
	return "$status"
}

# pending KIND CGROUP_DIR: what the agent's slot of $CPU holds for that
# cgroup, from its .bss (KIND: bio, skb, connect or cpu); "none" when it
# holds another cgroup's batch.
pending() {
	python3 - "$AGENT_PID" "$1" "$(stat -c %i "$2")" "$CPU" <<'PY' 2>/dev/null || echo unknown
import glob, json, subprocess, sys

pid, kind, cgroup_id, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ids = set()
for path in glob.glob("/proc/%s/fdinfo/*" % pid):
    try:
        for line in open(path):
            if line.startswith("map_id:"):
                ids.add(int(line.split()[1]))
    except OSError:
        pass
for map_id in sorted(ids):
    info = json.loads(subprocess.run(["bpftool", "map", "show", "id", str(map_id), "-j"],
                                     capture_output=True, check=True).stdout)
    if not info.get("name", "").endswith(".bss"):
        continue
    dump = json.loads(subprocess.run(["bpftool", "map", "dump", "id", str(map_id), "-j"],
                                     capture_output=True, check=True).stdout)
    # {"formatted": {"value": {".bss": [{VARIABLE: VALUE}, ...]}}}
    for section in dump[0]["formatted"]["value"].values():
        for var in section:
            slots = var.get(kind + "_slots")
            if slots is None:
                continue
            slot = slots[cpu]
            if kind == "skb":
                # Two batches (struct skb_batch), either may be this cgroup's.
                mine = [b for b in slot["batches"] if b["id"] == cgroup_id]
                print(" ".join("%s=%s" % (k, v) for k, v in mine[0].items() if k != "id")
                      if mine else "none")
            elif slot["pending_id"] != cgroup_id:
                print("none")
            else:
                print(" ".join("%s=%s" % (k, v) for k, v in slot.items()
                               if k.startswith("pending_") and k not in ("pending_id", "pending_cgroup")))
            sys.exit(0)
print("unknown")
PY
}

# ---- disk: a batch still pending when read
direct_write "$WRITER" "$DIR/pending" "$WRITE_BYTES" && direct_read "$WRITER" "$DIR/pending" "$WRITE_BYTES"
written=$(wait_metric 5 abusewatch_tenant_disk_written_bytes_total writer == "$WRITE_BYTES")
status=$?
read_bytes=$(wait_metric 2 abusewatch_tenant_disk_read_bytes_total writer == "$WRITE_BYTES")
((status == 0 && $? == 0))
check disk_batch_pending "$?" "writer wrote and read $WRITE_BYTES bytes O_DIRECT on CPU $CPU: written_bytes_total ${written:-missing}, read_bytes_total ${read_bytes:-missing} (want both exact)"
e2e_log "disk batch of writer on CPU $CPU when counted: $(pending bio "$WRITER")"

# ---- disk: a batch pending when its cgroup goes; then moved to the maps by another tenant
direct_write "$JOBS/job" "$DIR/removed" "$REMOVED_BYTES"
e2e_log "disk batch of jobs/job on CPU $CPU before its removal: $(pending bio "$JOBS/job")"
rmdir "$JOBS/job"
written=$(wait_metric 5 abusewatch_tenant_disk_written_bytes_total jobs == "$REMOVED_BYTES")
status=$?
direct_write "$OTHER" "$DIR/other" "$CHUNK"
other=$(wait_metric 5 abusewatch_tenant_disk_written_bytes_total other == "$CHUNK")
((status == 0 && $? == 0)) && wait_intervals 3 &&
	after=$(metric abusewatch_tenant_disk_written_bytes_total jobs) && num_cmp "$after" == "$REMOVED_BYTES"
check disk_batch_removed "$?" "jobs/job wrote $REMOVED_BYTES bytes on CPU $CPU and was removed: jobs says ${written:-missing}, then ${after:-missing} after other wrote $CHUNK on that CPU (other says ${other:-missing}; want exact throughout)"

# ---- network: bytes and packets still pending when read
talked=$(udp_talk "$TALKER" 0.3)
e2e_log "network batch of talker on CPU $CPU after the load: $(pending skb "$TALKER")"
counted=$(net_counted talker "${talked:-0}")
check net_batch_pending "$?" "talker sent and received ${talked:-no (one was lost)} $DATAGRAM-byte datagrams on CPU $CPU ($((${talked:-0} * (28 + DATAGRAM))) bytes each way): $counted (want exact)"
e2e_log "network batch of talker on CPU $CPU when counted: $(pending skb "$TALKER")"

# ---- network: two cgroups alternating on one CPU, both batches pending when read
# pinger's datagrams go to echo's socket and back, one at a time on $CPU:
# egress is charged to the sender's cgroup, ingress (the same CPU's
# softirq) to the receiver's, so the two alternate in the slot, each in a
# batch of its own (struct skb_slot), neither moved to the maps.
echo_port=""
in_tenant_on_cpu "$ECHO" python3 "$E2E_REPO/tests/tools/udp_echo.py" serve 30 \
	>"$E2E_TMP/echo.out" 2>"$E2E_TMP/echo.err" &
ECHO_PID=$!
on_cleanup kill "$ECHO_PID"
for ((i = 0; i < 50; i++)); do
	echo_port=$(sed -n 's/^listening //p' "$E2E_TMP/echo.err")
	[[ -n $echo_port ]] && break
	sleep 0.1
done
# udp_ping CGROUP COUNT: COUNT DATAGRAM-byte datagrams from CGROUP on $CPU
# to echo's socket and back; prints COUNT, fails when one was lost.
udp_ping() {
	[[ -n $echo_port ]] &&
		in_tenant_on_cpu "$1" python3 "$E2E_REPO/tests/tools/udp_echo.py" ping "$echo_port" "$2" \
			"$DATAGRAM" 2>>"$E2E_TMP/ping.err"
}
pinged=$(udp_ping "$PINGER" 300)
e2e_log "network batches on CPU $CPU after the load: pinger $(pending skb "$PINGER"), echo $(pending skb "$ECHO")"
counted=$(net_counted pinger "${pinged:-0}")
status=$?
echo_counted=$(net_counted echo "${pinged:-0}")
((status == 0 && $? == 0))
check net_batch_two_pending "$?" "pinger sent ${pinged:-no (one was lost)} $DATAGRAM-byte datagrams to echo's socket and got them back, both on CPU $CPU ($((${pinged:-0} * (28 + DATAGRAM))) bytes each way for each): pinger $counted, echo $echo_counted (want exact)"
e2e_log "network batches on CPU $CPU when counted: pinger $(pending skb "$PINGER"), echo $(pending skb "$ECHO")"

# ---- network: a batch pending when its cgroup goes; then two other tenants talk on that CPU
talked=$(udp_talk "$CHATTERS/chat" 0.2)
e2e_log "network batch of chatters/chat on CPU $CPU before its removal: $(pending skb "$CHATTERS/chat")"
rmdir "$CHATTERS/chat"
counted=$(net_counted chatters "${talked:-0}")
status=$?
# Two cgroups, taking both batches of the slot: chatters/chat's moves.
other_talked=$(udp_ping "$BYSTANDER" 100)
other=$(net_counted bystander "${other_talked:-0}")
((status == 0 && $? == 0)) && wait_intervals 3 && after=$(net_counted chatters "${talked:-0}")
check net_batch_removed "$?" "chatters/chat sent and received ${talked:-no (one was lost)} datagrams on CPU $CPU and was removed: chatters says $counted, then ${after:-not checked} after bystander talked on that CPU (bystander: ${other_talked:-none lost}, $other; want exact throughout)"

# ---- connect(): calls still pending when read
made=$(in_tenant_on_cpu "$DIALER" "$AW_TOOLS/netload" tcp4 "$PORT" "$CONNECTS" 2>>"$E2E_TMP/netload.err")
counted=$(wait_metric 5 abusewatch_tenant_connections_total dialer == "${made:-0}")
check connect_batch_pending "$?" "dialer made ${made:-no} connect() calls to one destination on CPU $CPU; connections_total says $counted"
e2e_log "connect batch of dialer on CPU $CPU when counted: $(pending connect "$DIALER")"

# ---- connect(): calls pending when their cgroup goes; then another tenant calls on that CPU
made=$(in_tenant_on_cpu "$CALLERS/call" "$AW_TOOLS/netload" tcp6 "$PORT" "$CONNECTS" 2>>"$E2E_TMP/netload.err")
rmdir "$CALLERS/call"
counted=$(wait_metric 5 abusewatch_tenant_connections_total callers == "${made:-0}")
status=$?
in_tenant_on_cpu "$OTHER" "$AW_TOOLS/netload" tcp4 "$PORT" 10 >/dev/null 2>>"$E2E_TMP/netload.err"
other=$(wait_metric 5 abusewatch_tenant_connections_total other == 10)
((status == 0 && $? == 0)) && wait_intervals 3 &&
	after=$(metric abusewatch_tenant_connections_total callers) && num_cmp "$after" == "${made:-0}"
check connect_batch_removed "$?" "callers/call made ${made:-no} calls on CPU $CPU and was removed: callers says $counted, then ${after:-missing} after other called on that CPU (other says $other; want exact throughout)"

# ---- CPU time: a batch pending when its cgroup goes; then another tenant runs on that CPU
in_tenant_on_cpu "$BURNERS/burn" "$AW_TOOLS/burn" 1
rmdir "$BURNERS/burn"
# The parent's cpu.stat keeps its removed children's time.
expected=$(cgroup_cpu_seconds "$BURNERS")
wait_intervals 3
counted=$(metric abusewatch_tenant_cpu_seconds_total burners)
within_pct "$counted" "$expected" 0.1
status=$?
in_tenant_on_cpu "$OTHER" "$AW_TOOLS/burn" 0.2
wait_intervals 3
after=$(metric abusewatch_tenant_cpu_seconds_total burners)
((status == 0)) && within_pct "$after" "$expected" 0.1
check cpu_batch_removed "$?" "burners/burn ran on CPU $CPU and was removed: burners says ${counted:-missing} s, then ${after:-missing} s after other ran on that CPU; cpu.stat says $expected s (want within 0.1%)"

stop_agent
e2e_finish
