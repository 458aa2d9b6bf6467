#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Network abuse alerts across agent restarts (state_dir/firing-network.json):
# - a tenant scanning closed loopback ports fires port_scan once;
# - the agent stopped (SIGTERM, then kill -9) and started while the scan
#   goes on: no second firing record, no resolve, the alert taken up (one
#   log line), the same startsAt in Alertmanager; the file is mode 0600;
# - the scan stops: one resolve record;
# - a new scan fires again, the agent is killed, the scan stops and its
#   window passes while no agent runs: exactly one resolve record after the
#   start, and no firing record.
# Loopback only (127.0.0.1, closed ports); every scan is bounded.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases netrestart_fired netrestart_term netrestart_kill9 netrestart_resolved \
	netrestart_stopped_while_down
e2e_require_root_bpf || e2e_finish
e2e_require_build incg netload || e2e_finish
e2e_setup || e2e_finish

alertmanager_or_none
# Ports nobody listens on, away from the ephemeral range.
SCAN_FROM=20000
WINDOW=3

write_config netrestart "plans:
  default:
    window: 60s
network:
  scan: {destinations: 20, window: ${WINDOW}s}
alerts:
  $AM_CONFIG" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
SCANNER=$(tenant_cgroup scanner) || {
	fail_all "cannot create the tenant cgroup"
	e2e_finish
}
STATE_FILE=$AW_DIR/state/firing-network.json
ALL_CASES="${E2E_CASES[*]}"

SCAN_PID=""
# start_scan: scans 1200 ports, 40 a second (30 s), in the background.
start_scan() {
	"$AW_TOOLS/incg" "$SCANNER" "$AW_TOOLS/netload" scan4 "$SCAN_FROM" 1200 40 >/dev/null 2>&1 &
	SCAN_PID=$!
}
stop_scan() {
	[[ -n $SCAN_PID ]] || return 0
	kill "$SCAN_PID" 2>/dev/null
	wait "$SCAN_PID" 2>/dev/null
	SCAN_PID=""
}
on_cleanup stop_scan

scan_records() {
	events_count "$AW_EVENTS" kind=network_abuse tenant=scanner rule=port_scan state="$1"
}
# am_scan: "STATE STARTS_AT" of scanner's port_scan alert in Alertmanager, or nothing.
am_scan() {
	am_alert alertname=AbusewatchNetworkAbuse tenant=scanner rule=port_scan |
		python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["status"]["state"], a["startsAt"])' 2>/dev/null
}
kill9_agent() {
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
}

agent_or_report "$ALL_CASES" "$AW_CONFIG" || e2e_finish

# ---- the scan fires port_scan
start_scan
waited=$(wait_events 10 "$AW_EVENTS" kind=network_abuse tenant=scanner rule=port_scan state=firing)
status=$?
check netrestart_fired "$status" "port_scan fired for the scanner: after ${waited:-more than 10} s"
AM_STARTS=""
if [[ -n $AM ]]; then
	for ((i = 0; i < 50; i++)); do
		AM_STARTS=$(am_scan) && [[ -n $AM_STARTS ]] && break
		sleep 0.2
	done
	AM_STARTS=${AM_STARTS#* }
	[[ -n $AM_STARTS ]] || { e2e_log "scanner's port_scan alert never reached Alertmanager"; AM=""; }
fi

# restart_scanning CASE HOW: stops the agent (HOW: TERM or KILL) while the
# scan goes on, starts it again, and checks that the alert neither fired
# again nor resolved.
restart_scanning() {
	local case=$1 how=$2 firing resolved started mode am_state=""
	if [[ $how == TERM ]]; then
		stop_agent
	else
		# An interval or two after the last save: what kill -9 finds.
		wait_intervals 2
		kill9_agent
	fi
	mode=$(stat -c %a "$STATE_FILE" 2>/dev/null)
	sleep 1
	agent_or_report "$case netrestart_resolved netrestart_stopped_while_down" "$AW_CONFIG" || e2e_finish
	# Longer than the window: what the restart forgot would have resolved it.
	sleep $((WINDOW + 2))
	firing=$(scan_records firing)
	resolved=$(scan_records resolved)
	started=$(grep -c 'network abuse: tenant scanner, rule port_scan, firing again' "$AGENT_LOG")
	if [[ -n $AM ]]; then
		am_state=$(am_scan)
		[[ ${am_state%% *} == active && ${am_state#* } == "$AM_STARTS" ]] || am_state="bad: ${am_state:-none} (want active since $AM_STARTS)"
	fi
	((firing == 1 && resolved == 0 && started == 1)) && [[ $mode == 600 && $am_state != bad* ]]
	check "$case" "$?" "after a restart (SIG$how) with the scan going on: port_scan firing records $firing (want 1), resolved $resolved (want 0), log lines of the alert taken up $started (want 1), $STATE_FILE mode ${mode:-missing} (want 600), Alertmanager ${am_state:-not checked}"
}
restart_scanning netrestart_term TERM
restart_scanning netrestart_kill9 KILL

# ---- the scan stops: one resolve record
stop_scan
waited=$(wait_events $((WINDOW + 10)) "$AW_EVENTS" kind=network_abuse tenant=scanner rule=port_scan state=resolved)
status=$?
wait_intervals 5
resolved=$(scan_records resolved)
((status == 0 && resolved == 1 && $(scan_records firing) == 1))
check netrestart_resolved "$?" "the scan stopped: port_scan resolved after ${waited:-more than $((WINDOW + 10))} s, resolved records $resolved (want 1), firing $(scan_records firing) (want 1)"

# ---- the scan stops while no agent runs: resolved once at the start
firing_before=$(scan_records firing)
resolved_before=$(scan_records resolved)
start_scan
for ((i = 0; i < 50; i++)); do
	(($(scan_records firing) > firing_before)) && break
	sleep 0.2
done
firing=$(scan_records firing)
if ((firing == firing_before + 1)); then
	wait_intervals 2
	kill9_agent
	stop_scan
	sleep $((WINDOW + 1))
	agent_or_report netrestart_stopped_while_down "$AW_CONFIG" || e2e_finish
	for ((i = 0; i < 25; i++)); do
		(($(scan_records resolved) > resolved_before)) && break
		sleep 0.2
	done
	wait_intervals 5
	firing=$(scan_records firing)
	resolved=$(scan_records resolved)
	((firing == firing_before + 1 && resolved == resolved_before + 1))
	check netrestart_stopped_while_down "$?" "scan again (a new alert), the agent killed, the scan stopped, its window over, the agent started: port_scan firing records $firing (want $((firing_before + 1))), resolved $resolved (want $((resolved_before + 1)))"
else
	fail netrestart_stopped_while_down "the second scan raised no new alert (firing records $firing, $firing_before before)"
fi

stop_agent
e2e_finish
