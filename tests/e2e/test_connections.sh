#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Connections and packets, end to end: connect() calls of a tenant's tasks
# (TCP over IPv4 and IPv6, UDP) are counted exactly by cgroup/connect4|6;
# one-byte datagrams are counted exactly as transmitted packets; a tenant
# opening connections to a local listener faster than its plan allows
# raises AbusewatchOveruse for `connections` in a real Alertmanager, and a
# flood of small datagrams raises `net_tx_packets` while its bytes stay far
# under the byte limit; a tenant connecting slowly raises nothing. The
# test's own call counts are the ground truth. Loopback only.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases connections_counted packets_counted connections_alert connections_quiet \
	packets_alert
e2e_require_root_bpf || e2e_finish
e2e_require_build incg netload || e2e_finish
e2e_setup || e2e_finish

WINDOW=2
FOR=1
BOUND=$(awk -v w="$WINDOW" -v f="$FOR" -v i="$AW_INTERVAL" 'BEGIN { print w + f + 2 * i }')

require_alertmanager || e2e_finish
write_config connections "plans:
  default:
    connections: 100/s
    net_tx_packets: 2000/s
    net_tx: 1MiB/s
    window: ${WINDOW}s
    for: ${FOR}s
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
DIALER=$(tenant_cgroup dialer) && SPRAYER=$(tenant_cgroup sprayer) &&
	FLOODER=$(tenant_cgroup flooder) && POLITE=$(tenant_cgroup polite) &&
	BLASTER=$(tenant_cgroup blaster) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}

# A listener outside every tenant, on IPv4 and IPv6 loopback.
if ! start_listener listen netload listen PORT 120; then
	fail_all "the listener did not start: $(tail -n 1 "$E2E_TMP/listen.err" 2>/dev/null)"
	e2e_finish
fi
PORT=$LISTEN_PORT
# Datagrams go to a port nobody listens on: only what is sent matters.
UDP_PORT=$(free_port)

agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# ---- exact counts: 300 TCP/IPv4 + 100 TCP/IPv6 + 50 UDP connect() calls
made4=$("$AW_TOOLS/incg" "$DIALER" "$AW_TOOLS/netload" tcp4 "$PORT" 300 2>>"$E2E_TMP/dialer.err")
made6=$("$AW_TOOLS/incg" "$DIALER" "$AW_TOOLS/netload" tcp6 "$PORT" 100 2>>"$E2E_TMP/dialer.err")
madeu=$("$AW_TOOLS/incg" "$DIALER" "$AW_TOOLS/netload" udp4 "$UDP_PORT" 50 2>>"$E2E_TMP/dialer.err")
made=$((${made4:-0} + ${made6:-0} + ${madeu:-0}))
counted=$(wait_metric 5 abusewatch_tenant_connections_total dialer == "$made")
check connections_counted "$?" "dialer made $made connect() calls ($made4 tcp4, $made6 tcp6, $madeu udp4); abusewatch_tenant_connections_total says $counted"

# ---- exact packets: 2000 one-byte datagrams from one socket
sent=$("$AW_TOOLS/incg" "$SPRAYER" "$AW_TOOLS/netload" send4 "$UDP_PORT" 2000 2>"$E2E_TMP/sprayer.err")
counted=$(wait_metric 5 abusewatch_tenant_network_transmit_packets_total sprayer == "${sent:-0}")
status=$?
conns=$(metric abusewatch_tenant_connections_total sprayer)
((status == 0)) && num_cmp "$conns" "==" 0
check packets_counted "$?" "sprayer sent ${sent:-none} datagrams; transmit_packets_total says $counted, connections_total ${conns:-missing} (want 0: sendto is no connect)"

# ---- a connection flood: 400/s for 6 s on a 100/s plan, next to a polite tenant
"$AW_TOOLS/incg" "$POLITE" "$AW_TOOLS/netload" tcp4 "$PORT" 60 10 >/dev/null 2>&1 &
POLITE_PID=$!
on_cleanup kill "$POLITE_PID"
flood_start=$(date +%s.%N)
"$AW_TOOLS/incg" "$FLOODER" "$AW_TOOLS/netload" tcp4 "$PORT" 2400 400 >"$E2E_TMP/flood.out" \
	2>"$E2E_TMP/flood.err" &
FLOOD_PID=$!
on_cleanup kill "$FLOOD_PID"
waited=$(wait_am_alert 15 alertname=AbusewatchOveruse tenant=flooder resource=connections)
found=$?
record=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == "flooder" and r.get("resource") == "connections" and r.get("state") == "firing":
        print("ok" if r["limit"] == 100 and r["value"] > 100 and r["rule"] == "plan" else "bad: " + line.strip())
        break
else:
    print("missing")' "$AW_EVENTS" 2>&1)
((found == 0)) && num_cmp "$waited" "<=" "$BOUND" && [[ $record == ok ]]
check connections_alert "$?" "AbusewatchOveruse for flooder/connections in Alertmanager ${waited:-not within 15} s after the flood started (want <= $BOUND s = window + for + 2 intervals); record: $record"
e2e_log "connection flood (400/s on a 100/s plan, window ${WINDOW}s, for ${FOR}s): flood start to alert in Alertmanager: ${waited:-none} s"
wait "$FLOOD_PID"
wait "$POLITE_PID"
# The last connects reach the textfile at the next tick.
polite=$(wait_metric 5 abusewatch_tenant_connections_total polite == 60)
status=$?
(($(events_count "$AW_EVENTS" tenant=polite) == 0)) && ! am_alert tenant=polite >/dev/null &&
	((status == 0))
check connections_quiet "$?" "polite (60 connects at 10/s): $(events_count "$AW_EVENTS" tenant=polite) records, connections_total ${polite:-missing} (want 0 records, 60)"

# ---- a packet flood: 10000 small datagrams/s for 4 s on a 2000/s plan; bytes stay low
start=$(date +%s.%N)
sent=$("$AW_TOOLS/incg" "$BLASTER" "$AW_TOOLS/netload" send4 "$UDP_PORT" 40000 10000 2>"$E2E_TMP/blaster.err")
waited=$(wait_am_alert 10 alertname=AbusewatchOveruse tenant=blaster resource=net_tx_packets)
found=$?
since=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
bytes=$(metric abusewatch_tenant_network_transmit_bytes_total blaster)
((found == 0)) && (($(events_count "$AW_EVENTS" tenant=blaster resource=net_tx) == 0)) &&
	num_cmp "$bytes" "<" $((2 << 20))
check packets_alert "$?" "blaster sent ${sent:-none} one-byte datagrams: net_tx_packets alert $( ((found == 0)) && echo "after $since s" || echo "missing"), net_tx records $(events_count "$AW_EVENTS" tenant=blaster resource=net_tx) (want 0: ${bytes:-?} bytes in all)"

stop_agent
e2e_finish
