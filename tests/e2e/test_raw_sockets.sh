#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The raw-socket policy (software.<policy>.raw_sockets, bpf/sockets.bpf.c),
# with a tool that tries every kind of socket it is about (rawsock: raw
# IP sockets of both families, packet sockets raw and datagram, each then
# set up with setsockopt(SOL_PACKET) as libpcap does, an ICMP datagram
# socket, a TCP socket), in tenant cgroups this test creates. What the
# kernel did is the tool's errno; what the agent said is the events log.
# - alert: every socket is created, and the record (rule raw_socket) names
#   the socket and its process;
# - deny: raw IP sockets and packet-socket setup fail with EPERM, the
#   record says refused; packet sockets themselves, ICMP datagram and TCP
#   sockets are created (the creation of a packet socket runs no hook);
# - a packet socket is reported and refused at setsockopt(SOL_PACKET);
# - a cgroup made inside a denying tenant after the agent started refuses
#   at once (the kernel copies the parent's policy at mkdir);
# - a tenant whose policy lacks the key, and a cgroup of no tenant,
#   are untouched and reported by no record;
# - a reload from alert to deny applies to the running tenants;
# - with the agent stopped, its pinned probes go on refusing, in a cgroup
#   made meanwhile too.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases raw_alert raw_deny raw_packet_deny raw_nested_deny raw_no_option raw_non_tenant \
	raw_reload raw_agent_stopped
e2e_require_root_bpf || e2e_finish
e2e_require_build incg rawsock || e2e_finish
e2e_setup || e2e_finish

# policies_yaml SWITCH: plans and policies; the tenant "switch" (and
# "switched") gets raw_sockets: SWITCH.
policies_yaml() {
	printf '%s\n' "plans:
  default:
    window: 60s
    software: plain
  watch: {window: 60s, software: watch}
  strict: {window: 60s, software: strict}
  switch: {window: 60s, software: switch}
software:
  plain: {deny: [xmrig]}
  watch: {deny: [xmrig], raw_sockets: alert}
  strict: {deny: [xmrig], raw_sockets: deny}
  switch: {raw_sockets: $1}
alerts:
  alertmanager: []"
}

# One rule per tenant of a plan other than default: tried before the
# default rule of write_config.
rule() {
	printf '  - cgroup: "%s/tenants/%s/**"\n    tenant: %s\n    plan: %s\n' \
		"$AWTEST_REL" "$1" "$1" "$2"
}
AW_RULES_EXTRA=$(rule watch watch; rule strict strict; rule packet strict; rule nested strict
	rule switch switch; rule switched switch)
write_config raw "$(policies_yaml alert)" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in watch strict packet nested plain switch switched; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
T=$AW_TENANTS
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# run_in DIR [KIND...]: rawsock's lines in cgroup DIR, joined by spaces.
run_in() {
	local dir=$1
	shift
	"$AW_TOOLS/incg" "$dir" "$AW_TOOLS/rawsock" --netns "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//'
}

# found TENANT CONDITION: waits (<= 10 s) for the tenant's firing
# raw_socket record; prints what it found, status 0 when it satisfies
# CONDITION (Python, on the record r).
found() {
	local waited record
	waited=$(wait_events 10 "$AW_EVENTS" tenant="$1" rule=raw_socket state=firing)
	record=$(first_record_check unauthorized_software "$1" raw_socket "$2")
	printf 'record %s%s' "$record" "${waited:+ after $waited s}"
	[[ $record == ok ]]
}

# quiet TENANT: no raw_socket record of TENANT after the agent drained (2 intervals and a second).
quiet() {
	sleep 1.5
	(($(events_count "$AW_EVENTS" tenant="$1" rule=raw_socket) == 0))
}

ALL_OK="inet_raw ok inet6_raw ok packet_raw ok packet_raw_setup ok packet_dgram ok packet_dgram_setup ok icmp_dgram ok tcp ok"
DENIED="inet_raw EPERM inet6_raw EPERM packet_raw ok packet_raw_setup EPERM packet_dgram ok packet_dgram_setup EPERM icmp_dgram ok tcp ok"

got=$(run_in "$T/watch")
what=$(found watch "(r['reason'] == 'raw IP socket (AF_INET, SOCK_RAW, protocol 6) created'
 and r['action'] == 'alert' and 'action_result' not in r and r['comm'] == 'rawsock'
 and r['exe'] == '$AW_TOOLS/rawsock' and r['pid'] > 0)")
status=$?
[[ $status == 0 && $got == "$ALL_OK" ]]
check raw_alert "$?" "alert: sockets: $got; $what"

got=$(run_in "$T/strict")
what=$(found strict "(r['reason'] == 'raw IP socket (AF_INET, SOCK_RAW, protocol 6) refused with EPERM'
 and r['action'] == 'deny' and r['action_result'] == 'refused with EPERM')")
status=$?
[[ $status == 0 && $got == "$DENIED" ]]
check raw_deny "$?" "deny: sockets: $got (want $DENIED); $what"

got=$(run_in "$T/packet" packet_raw)
what=$(found packet "r['reason'] == 'packet socket (AF_PACKET, SOCK_RAW) set up with setsockopt(SOL_PACKET); refused with EPERM'")
status=$?
[[ $status == 0 && $got == "packet_raw ok packet_raw_setup EPERM" ]]
check raw_packet_deny "$?" "deny, packet socket: $got; $what"

# Made now, used at once: before the agent handles its mkdir event.
mkdir "$T/nested/job" && got=$(run_in "$T/nested/job" inet_raw icmp_dgram)
[[ $got == "inet_raw EPERM icmp_dgram ok" ]]
check raw_nested_deny "$?" "a cgroup made in a denying tenant, used at once: $got"

got=$(run_in "$T/plain")
quiet plain
status=$?
[[ $status == 0 && $got == "$ALL_OK" ]]
check raw_no_option "$?" "policy without raw_sockets: $got; records $(events_count "$AW_EVENTS" tenant=plain rule=raw_socket) (want 0)"

got=$(run_in "$AW_HOST_CG")
sleep 1.5
records=$(events_count "$AW_EVENTS" rule=raw_socket cgroup="$AWTEST_REL/host")
[[ $got == "$ALL_OK" && $records == 0 ]]
check raw_non_tenant "$?" "no tenant: $got; records $records (want 0)"

# ---- reload: the policy of a running tenant goes from alert to deny
before=$(run_in "$T/switch" inet_raw)
found switch "r['action'] == 'alert'" >/dev/null
n=$(grep -c "configuration reloaded" "$AGENT_LOG")
write_config raw "$(policies_yaml deny)" && kill -HUP "$AGENT_PID"
for ((i = 0; i < 100; i++)); do
	(($(grep -c "configuration reloaded" "$AGENT_LOG") > n)) && break
	sleep 0.1
done
after=$(run_in "$T/switch" inet_raw)
# The same executable's alert in "switch" still fires: a new tenant's record shows the deny.
other=$(run_in "$T/switched" inet_raw)
what=$(found switched "r['action'] == 'deny' and 'refused with EPERM' in r['reason']")
status=$?
[[ $before == "inet_raw ok" && $after == "inet_raw EPERM" && $other == "inet_raw EPERM" && $status == 0 ]]
check raw_reload "$?" "alert then deny by SIGHUP: before $before, after $after, other tenant $other; $what"

# ---- no agent: the pinned programs and policies stay (removed by unpin at cleanup)
stop_agent
mkdir "$T/nested/later" && got=$(run_in "$T/nested/later" inet_raw packet_raw)
plain=$(run_in "$T/plain" inet_raw)
[[ $got == "inet_raw EPERM packet_raw ok packet_raw_setup EPERM" && $plain == "inet_raw ok" ]]
check raw_agent_stopped "$?" "agent stopped: a new cgroup of a denying tenant: $got; a tenant without the option: $plain"

e2e_finish
