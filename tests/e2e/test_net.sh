#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Network per tenant: tenant "net" sends 32 MiB over loopback TCP to a sink
# that is no tenant. Its transmit bytes are the payload plus headers; what
# it receives is only the sink's ACKs. An idle tenant shows nothing.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases net_transmit_bytes net_transmit_packets net_receive net_idle_tenant
e2e_require_root_bpf || e2e_finish
e2e_require_build incg tcpsink tcpsend || e2e_finish
e2e_setup || e2e_finish

SIZE=33554432

write_config net || { fail_all "cannot write the configuration"; e2e_finish; }
NET=$(tenant_cgroup net) || { fail_all "cannot create cgroup net"; e2e_finish; }
QUIET=$(tenant_cgroup quiet) || { fail_all "cannot create cgroup quiet"; e2e_finish; }
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

if ! start_listener sink tcpsink PORT 60; then
	fail_all "tcpsink did not start: $(tail -n 1 "$E2E_TMP/sink.err" 2>/dev/null)"
	e2e_finish
fi
PORT=$LISTEN_PORT
SINK_PID=$LISTEN_PID
"$AW_TOOLS/incg" "$QUIET" sleep 3 &
QUIET_PID=$!
sent=$("$AW_TOOLS/incg" "$NET" "$AW_TOOLS/tcpsend" "$PORT" "$SIZE")
send_status=$?
wait "$SINK_PID"
received=$(cat "$E2E_TMP/sink.out")
wait "$QUIET_PID"
wait_intervals 3
stop_agent

if ((send_status != 0)) || [[ $sent != "$SIZE" || $received != "$SIZE" ]]; then
	fail_all "workload failed: tcpsend status $send_status, sent ${sent:-?}, sink received ${received:-?}"
	e2e_finish
fi

tx=$(metric abusewatch_tenant_network_transmit_bytes_total net)
num_cmp "$tx" ">=" "$SIZE" && within_pct "$tx" "$SIZE" 5
check net_transmit_bytes "$?" "network_transmit_bytes_total = ${tx:-missing}, want $SIZE to +5%"

tx_packets=$(metric abusewatch_tenant_network_transmit_packets_total net)
num_cmp "$tx_packets" ">=" 1
check net_transmit_packets "$?" "network_transmit_packets_total = ${tx_packets:-missing}, want >= 1"

rx=$(metric abusewatch_tenant_network_receive_bytes_total net)
rx_packets=$(metric abusewatch_tenant_network_receive_packets_total net)
# The sink sends nothing but ACKs (and the handshake): a few percent at most.
num_cmp "$rx" ">" 0 && num_cmp "$rx" "<" "$((SIZE / 20))" && num_cmp "$rx_packets" ">=" 1
check net_receive "$?" "network_receive_bytes_total = ${rx:-missing} (want > 0 and < $((SIZE / 20))), packets = ${rx_packets:-missing} (want >= 1)"

problems=""
for name in network_receive_bytes_total network_transmit_bytes_total \
	network_receive_packets_total network_transmit_packets_total; do
	value=$(metric "abusewatch_tenant_$name" quiet)
	num_cmp "$value" "==" 0 || problems+=" $name=${value:-missing}"
done
[[ -z $problems ]]
check net_idle_tenant "$?" "idle tenant quiet, want 0:$problems"
e2e_finish
