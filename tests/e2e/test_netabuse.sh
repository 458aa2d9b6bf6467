#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Network abuse, end to end, from the destinations of connect() calls seen
# by cgroup/connect4|6, into a real Alertmanager (AbusewatchNetworkAbuse):
# - a tenant connecting to a pool port (a listener on 127.0.0.1 whose port
#   the configuration lists in pool_ports) raises rule=pool_port;
# - a scan of 300 loopback ports raises rule=port_scan once (not once per
#   port), with more than 200 destinations;
# - SMTP fan-out to 30 loopback addresses on port 25 raises smtp_fanout;
# - a busy but ordinary tenant (400 connects to one listener, 20 SMTP
#   connects to one address) raises nothing;
# - no record and no log line holds an address the tenants connected to.
# Loopback only; every load is bounded.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases netabuse_pool_port netabuse_port_scan netabuse_scan_once netabuse_smtp_fanout \
	netabuse_benign netabuse_no_addresses
e2e_require_root_bpf || e2e_finish
e2e_require_build incg netload || e2e_finish
e2e_setup || e2e_finish

require_alertmanager || e2e_finish
if ! start_listener listen netload listen PORT 120; then
	fail_all "the listener did not start: $(tail -n 1 "$E2E_TMP/listen.err" 2>/dev/null)"
	e2e_finish
fi
POOL=$LISTEN_PORT
# A run of 300 ports nobody listens on, away from the listener's.
SCAN_FROM=$((POOL < 40000 ? 50000 : 20000))

write_config netabuse "plans:
  default:
    window: 60s
network:
  pool_ports: [$POOL]
  scan: {destinations: 200, window: 10s}
  smtp: {destinations: 20, window: 60s}
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
MINER=$(tenant_cgroup miner) && SCANNER=$(tenant_cgroup scanner) &&
	SPAMMER=$(tenant_cgroup spammer) && BUILDER=$(tenant_cgroup builder) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

record_check() { first_record_check network_abuse "$@"; }

# ---- a pool port
start=$(date +%s.%N)
"$AW_TOOLS/incg" "$MINER" "$AW_TOOLS/netload" tcp4 "$POOL" 3 >/dev/null 2>&1
waited=$(wait_am_alert 10 alertname=AbusewatchNetworkAbuse tenant=miner rule=pool_port severity=critical)
found=$?
record=$(record_check miner pool_port "r['dst_port'] == $POOL")
((found == 0)) && [[ $record == ok ]]
check netabuse_pool_port "$?" "miner connected to pool port $POOL: alert in Alertmanager $( ((found == 0)) && echo "after $waited s" || echo missing); record: $record"
e2e_log "pool port connect to alert in Alertmanager: ${waited:-none} s"

# ---- a port scan: 300 closed loopback ports, 100 a second
"$AW_TOOLS/incg" "$SCANNER" "$AW_TOOLS/netload" scan4 "$SCAN_FROM" 300 100 >/dev/null 2>&1
waited=$(wait_am_alert 10 alertname=AbusewatchNetworkAbuse tenant=scanner rule=port_scan)
found=$?
record=$(record_check scanner port_scan "r['destinations'] > 200")
((found == 0)) && [[ $record == ok ]]
check netabuse_port_scan "$?" "scanner reached 300 ports: alert $( ((found == 0)) && echo found || echo missing); record: $record"
firing=$(events_count "$AW_EVENTS" tenant=scanner rule=port_scan state=firing)
((firing == 1))
check netabuse_scan_once "$?" "port_scan firing records for one scan of 300 ports: $firing (want 1)"

# ---- SMTP fan-out: port 25 on 30 loopback addresses
"$AW_TOOLS/incg" "$SPAMMER" "$AW_TOOLS/netload" fan4 25 30 >/dev/null 2>&1
waited=$(wait_am_alert 10 alertname=AbusewatchNetworkAbuse tenant=spammer rule=smtp_fanout)
found=$?
record=$(record_check spammer smtp_fanout "r['destinations'] > 20")
((found == 0)) && [[ $record == ok ]]
check netabuse_smtp_fanout "$?" "spammer reached 30 addresses on port 25: alert $( ((found == 0)) && echo found || echo missing); record: $record"

# ---- an ordinary busy tenant
"$AW_TOOLS/incg" "$BUILDER" "$AW_TOOLS/netload" tcp4 "$((POOL == 65535 ? POOL - 1 : POOL + 1))" 400 >/dev/null 2>&1
"$AW_TOOLS/incg" "$BUILDER" "$AW_TOOLS/netload" tcp4 25 20 >/dev/null 2>&1
wait_intervals 5
counted=$(metric abusewatch_tenant_connections_total builder)
(($(events_count "$AW_EVENTS" tenant=builder) == 0)) && ! am_alert tenant=builder >/dev/null &&
	num_cmp "$counted" "==" 420
check netabuse_benign "$?" "builder (420 connects to two destinations): $(events_count "$AW_EVENTS" tenant=builder) records (want 0), connections_total ${counted:-missing} (want 420)"

# ---- privacy: the destinations are compared, never written down
leaks=$(grep -hoE '127\.0\.0\.(2|17|30)\b' "$AW_EVENTS" "$AGENT_LOG" "$AW_TEXTFILE" 2>/dev/null | wc -l)
((leaks == 0))
check netabuse_no_addresses "$?" "$leaks occurrences of the fan-out's addresses in the events log, agent log and textfile (want 0)"

stop_agent
e2e_finish
