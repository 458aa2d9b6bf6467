#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Network traffic and scans that never call connect(), end to end, with the
# real tools in tenant cgroups:
# - raw IP sockets (cgroup_skb egress): `nmap -sS` over 300 ports of
#   127.0.0.1 and of ::1, and `hping3` SYN and UDP runs over 300 ports each raise
#   port_scan; hping3's bytes and packets on a veth of a network namespace
#   the test creates equal what the veth sent (its tx counters, less the
#   Ethernet headers), within 2%;
# - packet sockets (tp_btf/net_dev_queue): `masscan` over 300 ports of the
#   veth's peer raises port_scan and its traffic is counted within 2% of the
#   veth's; tests/tools/pktsend's frames of known size, one a send() and
#   through a TX ring, through the device queue and with
#   PACKET_QDISC_BYPASS (tp_btf/sock_send_length), are counted within 2%;
#   its SYN frames to 300 ports raise port_scan, one a send() and through a
#   TX ring (whose headers the kernel leaves in the ring's pages);
# - the bypass probe is attached lazily: after all the traffic above, no
#   link on sock_send_length; the first PACKET_QDISC_BYPASS socket of a
#   tenant makes the agent attach (and pin) it, and that socket's frames,
#   sent after a short wait, are counted exactly;
# - benign traffic (TCP connects and UDP datagrams to one listener, HTTP
#   requests, ping) raises nothing, and none of these probes counts as a
#   connect() call.
# Only 127.0.0.0/8 and a namespace of the test's own (192.0.2.0/24 there, on
# a veth pair with IPv6 off and static neighbours, so that nothing but the
# tenant's frames leaves the sending end). Every load is bounded.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases rawnet_nmap_scan rawnet_nmap6_scan rawnet_hping_syn_scan rawnet_hping_udp_scan rawnet_raw_counted \
	rawnet_masscan_scan rawnet_masscan_counted rawnet_packet_counted rawnet_ring_counted \
	rawnet_bypass_lazy rawnet_bypass_lazy_counted rawnet_bypass_counted rawnet_bypass_ring_counted rawnet_packet_scan rawnet_ring_scan \
	rawnet_benign
e2e_require_root_bpf || e2e_finish
e2e_require_build incg netload pktsend || e2e_finish
e2e_require_commands ip || e2e_finish
e2e_setup || e2e_finish

NS=aw-rawnet-$$
PEER_NS=aw-rawnet-peer-$$
NS_UP=""
SCAN_PORTS=300

# Removes the namespaces (and the veth pair, which goes with them).
# shellcheck disable=SC2317 # run at exit, through on_cleanup
remove_netns() {
	[[ -n $NS_UP ]] || return 0
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PEER_NS" 2>/dev/null
	NS_UP=""
}
on_cleanup remove_netns

# make_netns: two namespaces joined by the veth pair aw0 (192.0.2.1, the
# senders' end, in $NS) - aw1 (192.0.2.2, in $PEER_NS, where the scans and
# frames go), up, IPv6 off and each end's neighbour static, so that aw0
# sends only what the tenants send. Sets AW0_MAC and AW1_MAC.
make_netns() {
	local ns
	NS_UP=1
	ip netns add "$NS" && ip netns add "$PEER_NS" || return 1
	for ns in "$NS" "$PEER_NS"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null &&
			ip -n "$ns" link set lo up || return 1
	done
	ip -n "$NS" link add aw0 type veth peer name aw1 netns "$PEER_NS" &&
		ip -n "$NS" link set aw0 up && ip -n "$PEER_NS" link set aw1 up &&
		ip -n "$NS" addr add 192.0.2.1/24 dev aw0 &&
		ip -n "$PEER_NS" addr add 192.0.2.2/24 dev aw1 || return 1
	AW0_MAC=$(ip netns exec "$NS" cat /sys/class/net/aw0/address) &&
		AW1_MAC=$(ip netns exec "$PEER_NS" cat /sys/class/net/aw1/address) || return 1
	ip -n "$NS" neigh replace 192.0.2.2 lladdr "$AW1_MAC" dev aw0 nud permanent &&
		ip -n "$PEER_NS" neigh replace 192.0.2.1 lladdr "$AW0_MAC" dev aw1 nud permanent
}

# aw0_sent: "PACKETS BYTES" aw0 has sent, bytes from the network header on
# (the kernel's tx_bytes counts each frame's 14-byte Ethernet header).
aw0_sent() {
	ip netns exec "$NS" sh -c 'cat /sys/class/net/aw0/statistics/tx_packets \
		/sys/class/net/aw0/statistics/tx_bytes' | {
		read -r packets && read -r bytes && echo "$packets $((bytes - 14 * packets))"
	}
}

# in_ns TENANT_CG COMMAND...: COMMAND in the tenant's cgroup and the namespace.
in_ns() {
	local cg=$1
	shift
	"$AW_TOOLS/incg" "$cg" ip netns exec "$NS" "$@"
}

# tx_check CASE TENANT WHAT BEFORE_PACKETS BEFORE_BYTES: the tenant's
# transmit counters against what aw0 sent since BEFORE (within 2%).
tx_check() {
	local name=$1 tenant=$2 what=$3 p0=$4 b0=$5 packets bytes want_p want_b
	read -r want_p want_b < <(aw0_sent)
	want_p=$((want_p - p0))
	want_b=$((want_b - b0))
	wait_metric 5 abusewatch_tenant_network_transmit_packets_total "$tenant" ">=" "$want_p" >/dev/null
	wait_intervals 3
	packets=$(metric abusewatch_tenant_network_transmit_packets_total "$tenant")
	bytes=$(metric abusewatch_tenant_network_transmit_bytes_total "$tenant")
	((want_p > 0)) && within_pct "$packets" "$want_p" 2 && within_pct "$bytes" "$want_b" 2
	check "$name" "$?" "$what: tenant $tenant counted ${packets:-missing} packets, ${bytes:-missing} bytes; aw0 sent $want_p packets, $want_b bytes past the link header (want within 2%)"
	e2e_log "$what: counted $packets packets / $bytes bytes, aw0 sent $want_p / $want_b"
}

# scan_check CASE TENANT WHAT: port_scan fired for TENANT (<= 10 s) with
# more destinations than the threshold; the probes were not counted as
# connect() calls.
scan_check() {
	local name=$1 tenant=$2 what=$3 waited record connects
	waited=$(wait_events 10 "$AW_EVENTS" tenant="$tenant" rule=port_scan state=firing)
	record=$(first_record_check network_abuse "$tenant" port_scan "r['destinations'] > 100")
	connects=$(metric abusewatch_tenant_connections_total "$tenant")
	# hping3 connects a UDP socket once to learn its source address.
	[[ -n $waited && $record == ok ]] && num_cmp "${connects:-0}" "<=" 2
	check "$name" "$?" "$what: port_scan ${waited:+after $waited s}${waited:-missing}; record: $record; connections_total ${connects:-0} (want <= 2: probes are no connect() calls)"
}

if ! make_netns; then
	fail_all "cannot create the network namespace $NS with a veth pair"
	e2e_finish
fi
if ! start_listener listen netload listen PORT 120; then
	fail_all "the listener did not start: $(tail -n 1 "$E2E_TMP/listen.err" 2>/dev/null)"
	e2e_finish
fi
write_config rawnet "plans:
  default:
    window: 60s
network:
  scan: {destinations: 100, window: 30s}
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
NMAP=$(tenant_cgroup nmap) && NMAP6=$(tenant_cgroup nmap6) && HPING_SYN=$(tenant_cgroup hpingsyn) &&
	HPING_UDP=$(tenant_cgroup hpingudp) && HPING_RAW=$(tenant_cgroup hpingraw) &&
	MASSCAN=$(tenant_cgroup masscan) && PACKET=$(tenant_cgroup packet) &&
	RING=$(tenant_cgroup ring) && PSCAN=$(tenant_cgroup pscan) &&
	BYPASS=$(tenant_cgroup bypass) && BYPASS_RING=$(tenant_cgroup bypassring) &&
	BYPASS_FIRST=$(tenant_cgroup bypassfirst) &&
	RING_SCAN=$(tenant_cgroup ringscan) &&
	BENIGN=$(tenant_cgroup benign) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# ---- raw IP sockets: nmap -sS and hping3 on 127.0.0.1
if command -v nmap >/dev/null; then
	"$AW_TOOLS/incg" "$NMAP" timeout 60 nmap -n -Pn -sS -p "1-$SCAN_PORTS" --max-retries 0 \
		127.0.0.1 >"$E2E_TMP/nmap.out" 2>&1
	scan_check rawnet_nmap_scan nmap "nmap -sS over $SCAN_PORTS ports of 127.0.0.1"
	"$AW_TOOLS/incg" "$NMAP6" timeout 60 nmap -6 -n -Pn -sS -p "1-$SCAN_PORTS" --max-retries 0 \
		::1 >"$E2E_TMP/nmap6.out" 2>&1
	scan_check rawnet_nmap6_scan nmap6 "nmap -6 -sS over $SCAN_PORTS ports of ::1"
else
	skip rawnet_nmap_scan "needs nmap (scripts/install-deps)"
	skip rawnet_nmap6_scan "needs nmap (scripts/install-deps)"
fi
if command -v hping3 >/dev/null; then
	# ++PORT: the destination port goes up by one with each packet.
	"$AW_TOOLS/incg" "$HPING_SYN" timeout 60 hping3 -q -n -S -p ++20000 -c "$SCAN_PORTS" \
		-i u2000 127.0.0.1 >"$E2E_TMP/hping_syn.out" 2>&1
	scan_check rawnet_hping_syn_scan hpingsyn "hping3 -S over $SCAN_PORTS ports of 127.0.0.1"
	"$AW_TOOLS/incg" "$HPING_UDP" timeout 60 hping3 -q -n --udp -p ++20000 -c "$SCAN_PORTS" \
		-i u2000 127.0.0.1 >"$E2E_TMP/hping_udp.out" 2>&1
	scan_check rawnet_hping_udp_scan hpingudp "hping3 --udp over $SCAN_PORTS ports of 127.0.0.1"
	read -r p0 b0 < <(aw0_sent)
	in_ns "$HPING_RAW" timeout 60 hping3 -q -n -S -p 80 -d 100 -c 200 -i u2000 192.0.2.2 \
		>"$E2E_TMP/hping_raw.out" 2>&1
	tx_check rawnet_raw_counted hpingraw "hping3 raw IP socket, 200 SYNs of 140 bytes" "$p0" "$b0"
else
	for name in rawnet_hping_syn_scan rawnet_hping_udp_scan rawnet_raw_counted; do
		skip "$name" "needs hping3 (scripts/install-deps)"
	done
fi

# ---- packet sockets: masscan and pktsend on aw0
if command -v masscan >/dev/null; then
	read -r p0 b0 < <(aw0_sent)
	# masscan may wait on its receive thread for ever after --wait: the
	# time-out ends it (its frames are all sent by then).
	in_ns "$MASSCAN" timeout -s INT -k 2 8 masscan 192.0.2.2 -p "1-$SCAN_PORTS" --rate 2000 \
		--adapter aw0 --adapter-ip 192.0.2.1 --adapter-mac "$AW0_MAC" \
		--router-mac "$AW1_MAC" --wait 1 >"$E2E_TMP/masscan.out" 2>&1
	scan_check rawnet_masscan_scan masscan "masscan over $SCAN_PORTS ports of 192.0.2.2"
	tx_check rawnet_masscan_counted masscan "masscan's frames" "$p0" "$b0"
else
	skip rawnet_masscan_scan "needs masscan (scripts/install-deps)"
	skip rawnet_masscan_counted "needs masscan (scripts/install-deps)"
fi
read -r p0 b0 < <(aw0_sent)
in_ns "$PACKET" "$AW_TOOLS/pktsend" --dst-mac "$AW1_MAC" aw0 2000 700 >"$E2E_TMP/pktsend.out"
tx_check rawnet_packet_counted packet "pktsend, 2000 frames of 700 bytes, one a send()" "$p0" "$b0"
read -r p0 b0 < <(aw0_sent)
in_ns "$RING" "$AW_TOOLS/pktsend" --ring --dst-mac "$AW1_MAC" aw0 2000 300 >"$E2E_TMP/ring.out"
tx_check rawnet_ring_counted ring "pktsend --ring, 2000 frames of 300 bytes through a TX ring" \
	"$p0" "$b0"
# PACKET_QDISC_BYPASS: straight to the driver, counted at the send() instead,
# by count_direct_tx on sock_send_length, which the agent attaches only once
# a tenant sets the option (sockets.bpf.c tells it). Until then: no link.
PIN_DIR=$(grep -o 'probes pinned in [^:]*' "$AGENT_LOG" | head -n 1 | cut -d' ' -f4)
DIRECT_TX_PIN=$PIN_DIR/net-link-count_direct_tx
# direct_tx_link: the program name of the pinned count_direct_tx link, or nothing.
direct_tx_link() {
	local prog
	prog=$(bpftool -j link show pinned "$DIRECT_TX_PIN" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["prog_id"])' 2>/dev/null) &&
		bpftool -j prog show id "$prog" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])' 2>/dev/null
}
if [[ -z $PIN_DIR ]] || ! command -v bpftool >/dev/null; then
	skip rawnet_bypass_lazy "needs bpftool and the agent's pin directory (${PIN_DIR:-not in the log})"
	skip rawnet_bypass_lazy_counted "needs bpftool and the agent's pin directory"
else
	before=$(direct_tx_link)
	before_log=$(grep -c 'count_direct_tx attached' "$AGENT_LOG")
	read -r p0 b0 < <(aw0_sent)
	in_ns "$BYPASS_FIRST" "$AW_TOOLS/pktsend" --bypass --wait-ms 300 --dst-mac "$AW1_MAC" aw0 \
		1000 600 >"$E2E_TMP/bypass_first.out"
	after=$(direct_tx_link)
	after_log=$(grep -c 'count_direct_tx attached' "$AGENT_LOG")
	[[ -z $before && $before_log == 0 && $after == count_direct_tx && $after_log == 1 ]]
	check rawnet_bypass_lazy "$?" "sock_send_length link after ordinary, packet and ring traffic: '${before:-none}' (want none, $before_log log lines); after a tenant's PACKET_QDISC_BYPASS socket: '${after:-none}' (want count_direct_tx, pinned, logged once: $after_log)"
	# Sent 300 ms after the setsockopt: every frame counted, exactly.
	read -r want_p want_b < <(aw0_sent)
	want_p=$((want_p - p0))
	want_b=$((want_b - b0))
	wait_metric 5 abusewatch_tenant_network_transmit_packets_total bypassfirst ">=" "$want_p" >/dev/null
	wait_intervals 2
	packets=$(metric abusewatch_tenant_network_transmit_packets_total bypassfirst)
	bytes=$(metric abusewatch_tenant_network_transmit_bytes_total bypassfirst)
	((want_p == 1000)) && [[ $packets == "$want_p" && $bytes == "$want_b" ]]
	check rawnet_bypass_lazy_counted "$?" "the first bypass socket, 1000 frames of 600 bytes sent 300 ms after PACKET_QDISC_BYPASS: counted ${packets:-missing} packets, ${bytes:-missing} bytes; aw0 sent $want_p, $want_b past the link header (want exactly)"
	e2e_log "bypass attach: $(grep 'count_direct_tx attached' "$AGENT_LOG" | head -n 1)"
fi
read -r p0 b0 < <(aw0_sent)
in_ns "$BYPASS" "$AW_TOOLS/pktsend" --bypass --dst-mac "$AW1_MAC" aw0 2000 500 >"$E2E_TMP/bypass.out"
tx_check rawnet_bypass_counted bypass "pktsend --bypass, 2000 frames of 500 bytes past the qdisc" \
	"$p0" "$b0"
read -r p0 b0 < <(aw0_sent)
in_ns "$BYPASS_RING" "$AW_TOOLS/pktsend" --bypass --ring --dst-mac "$AW1_MAC" aw0 2000 400 \
	>"$E2E_TMP/bypass_ring.out"
tx_check rawnet_bypass_ring_counted bypassring \
	"pktsend --bypass --ring, 2000 frames of 400 bytes through a TX ring past the qdisc" "$p0" "$b0"
in_ns "$PSCAN" "$AW_TOOLS/pktsend" --syn 30000 --rate 2000 --dst-mac "$AW1_MAC" aw0 \
	"$SCAN_PORTS" 54 >"$E2E_TMP/pscan.out"
scan_check rawnet_packet_scan pscan "pktsend --syn over $SCAN_PORTS ports of 192.0.2.2"
in_ns "$RING_SCAN" "$AW_TOOLS/pktsend" --ring --syn 30000 --rate 2000 --dst-mac "$AW1_MAC" aw0 \
	"$SCAN_PORTS" 54 >"$E2E_TMP/ringscan.out"
scan_check rawnet_ring_scan ringscan "pktsend --ring --syn over $SCAN_PORTS ports of 192.0.2.2"

# ---- benign: connects and datagrams to one listener, HTTP, ping
"$AW_TOOLS/incg" "$BENIGN" "$AW_TOOLS/netload" tcp4 "$LISTEN_PORT" 300 >/dev/null 2>&1
"$AW_TOOLS/incg" "$BENIGN" "$AW_TOOLS/netload" send4 "$LISTEN_PORT" 500 >/dev/null 2>&1
"$AW_TOOLS/incg" "$BENIGN" timeout 30 python3 -c '
import http.server, socketserver, threading, urllib.request
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
server = socketserver.TCPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
for _ in range(50):
    urllib.request.urlopen("http://127.0.0.1:%d/" % server.server_address[1]).read()
server.shutdown()' >/dev/null 2>&1
benign_ping=""
if command -v ping >/dev/null; then
	"$AW_TOOLS/incg" "$BENIGN" timeout 20 ping -n -c 20 -i 0.05 127.0.0.1 >/dev/null 2>&1
	benign_ping=", 20 pings"
fi
wait_intervals 10
records=$(events_count "$AW_EVENTS" tenant=benign)
connects=$(metric abusewatch_tenant_connections_total benign)
((records == 0)) && num_cmp "${connects:-0}" ">=" 300
check rawnet_benign "$?" "benign (300 connects, 500 datagrams to one port, 50 HTTP requests$benign_ping): $records records (want 0), connections_total ${connects:-missing} (want >= 300)"

stop_agent
e2e_finish
