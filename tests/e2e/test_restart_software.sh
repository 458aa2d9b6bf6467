#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Unauthorized-software alerts keep their state across restarts
# (state_dir/firing-software.json, user/rules/software_tracker.c). A miner
# by name (a copy of tests/tools/linger called xmrig, sleeping) runs in
# tenant "runner" for the whole test, another in tenant "quitter". Both
# fire; the agent is stopped with SIGTERM, quitter's miner exits while no
# agent runs, and the agent starts again:
# - the state file is there, mode 0600, naming both alerts;
# - runner's alert goes on: one firing record, no resolved one, and the
#   same alert (same startsAt) active in Alertmanager;
# - quitter's alert resolves: exactly one resolved record, no new firing;
# - new evidence for runner (the miner run again) joins the alert: no
#   second firing record.
# Then the same with kill -9 (tenant "dropper" fires, its miner exits while
# the agent is down). Then runner's miner exits: exactly one resolved
# record, and the alert leaves Alertmanager. A damaged state file is said
# and started clean.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases swrestart_file swrestart_term_kept swrestart_term_exited swrestart_term_joined \
	swrestart_kill9_kept swrestart_kill9_exited swrestart_resolved swrestart_damaged
e2e_require_root_bpf || e2e_finish
e2e_require_build incg linger || e2e_finish
e2e_setup || e2e_finish

BIN=$E2E_TMP/bin
mkdir -p "$BIN" && cp "$AW_TOOLS/linger" "$BIN/xmrig" || {
	fail_all "cannot copy linger"
	e2e_finish
}
alertmanager_or_none
export ABUSEWATCH_TEST_RESEND_MS=500

write_config swrestart "plans:
  default:
    window: 2s
    software: standard
software:
  standard:
    deny: [builtin:miners]
alerts:
  $AM_CONFIG" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
T=$AW_TENANTS
for name in runner quitter dropper; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
STATE=$AW_DIR/state/firing-software.json

# records TENANT STATE: how many unauthorized_software records of rule name.
records() {
	events_count "$AW_EVENTS" kind=unauthorized_software tenant="$1" rule=name state="$2"
}

# am_starts TENANT: "active STARTS" of the tenant's alert in Alertmanager, or nothing.
am_starts() {
	am_alert alertname=AbusewatchUnauthorizedSoftware tenant="$1" rule=name |
		python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["status"]["state"], a["startsAt"])' 2>/dev/null
}

# fired TENANT: waits (<= 10 s) for the firing record; status 1 on time-out.
fired() {
	wait_events 10 "$AW_EVENTS" kind=unauthorized_software tenant="$1" rule=name state=firing >/dev/null
}

# check_kept CASE: runner's alert fired once, never resolved, and is the same in Alertmanager.
check_kept() {
	local case=$1 firing resolved am_state=""
	firing=$(records runner firing)
	resolved=$(records runner resolved)
	if [[ -n $AM ]]; then
		am_state=$(am_starts runner)
		[[ $am_state == "active $AM_STARTS" ]] || am_state="bad: ${am_state:-none} (want active $AM_STARTS)"
	fi
	[[ $firing == 1 && $resolved == 0 && $am_state != bad* ]]
	check "$case" "$?" "runner's miner still runs: firing records $firing (want 1), resolved $resolved (want 0), Alertmanager ${am_state:-not checked}"
}

# check_exited CASE TENANT: TENANT's alert, whose miner exited while no
# agent ran, resolved exactly once (waited <= 10 s), and fired only once.
check_exited() {
	local case=$1 tenant=$2 waited firing resolved
	waited=$(wait_events 10 "$AW_EVENTS" kind=unauthorized_software tenant="$tenant" rule=name state=resolved)
	wait_intervals 3
	firing=$(records "$tenant" firing)
	resolved=$(records "$tenant" resolved)
	[[ $firing == 1 && $resolved == 1 ]]
	check "$case" "$?" "$tenant's miner exited while the agent was down: resolved records $resolved (want 1, first after ${waited:-no record within 10} s), firing $firing (want 1); log: $(grep -i 'unauthorized software' "$AGENT_LOG" | tail -n 3 | tr '\n' ' ')"
}

# ---- first run: runner's and quitter's miners fire
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish
"$AW_TOOLS/incg" "$T/runner" "$BIN/xmrig" 600 &
RUNNER=$!
"$AW_TOOLS/incg" "$T/quitter" "$BIN/xmrig" 600 &
QUITTER=$!
on_cleanup kill "$RUNNER" "$QUITTER"
if ! fired runner || ! fired quitter; then
	fail_all "the miners' alerts did not fire within 10 s: $(agent_last_log)"
	e2e_finish
fi
AM_STARTS=""
if [[ -n $AM ]]; then
	for ((i = 0; i < 50; i++)); do
		AM_STARTS=$(am_starts runner) && [[ -n $AM_STARTS ]] && break
		sleep 0.2
	done
	AM_STARTS=${AM_STARTS#active }
	[[ -n $AM_STARTS ]] || { e2e_log "runner's alert never reached Alertmanager"; AM=""; }
fi
wait_intervals 3

# ---- SIGTERM; quitter's miner exits while no agent runs
stop_agent
mode=$(stat -c %a "$STATE" 2>/dev/null)
saved=$(python3 -c '
import json, sys
alerts = json.load(open(sys.argv[1]))["alerts"]
print(" ".join(sorted("%s:%s:%d" % (a["tenant"], a["rule"], len(a["processes"])) for a in alerts)))' "$STATE" 2>&1)
[[ $mode == 600 && $saved == "quitter:name:1 runner:name:1" ]]
check swrestart_file "$?" "$STATE: mode ${mode:-missing} (want 600), alerts (tenant:rule:processes) ${saved:-none} (want quitter:name:1 runner:name:1)"
kill "$QUITTER" && wait "$QUITTER" 2>/dev/null
agent_or_report "swrestart_term_kept swrestart_term_exited swrestart_term_joined swrestart_kill9_kept swrestart_kill9_exited swrestart_resolved swrestart_damaged" "$AW_CONFIG" || e2e_finish
check_exited swrestart_term_exited quitter
check_kept swrestart_term_kept

# New evidence for runner's alert: the same miner run again, by the same path.
"$AW_TOOLS/incg" "$T/runner" "$BIN/xmrig" 0
execs=$(wait_metric 5 abusewatch_tenant_execs_total runner ">=" 2)
wait_intervals 5
firing=$(records runner firing)
suppressed=$(grep '^abusewatch_alerts_suppressed_total{kind="unauthorized_software"}' "$AW_TEXTFILE" | awk '{ print $2 }')
[[ $firing == 1 ]]
check swrestart_term_joined "$?" "runner's miner run again after the restart: firing records $firing (want 1; execs_total $execs, alerts_suppressed_total ${suppressed:-?})"

# ---- kill -9; dropper's miner fires, then exits while no agent runs
"$AW_TOOLS/incg" "$T/dropper" "$BIN/xmrig" 600 &
DROPPER=$!
on_cleanup kill "$DROPPER"
fired dropper || e2e_log "dropper's alert did not fire within 10 s: $(agent_last_log)"
wait_intervals 3
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=""
kill "$DROPPER" && wait "$DROPPER" 2>/dev/null
agent_or_report "swrestart_kill9_kept swrestart_kill9_exited swrestart_resolved swrestart_damaged" "$AW_CONFIG" || e2e_finish
check_exited swrestart_kill9_exited dropper
check_kept swrestart_kill9_kept

# ---- runner's miner exits: its alert resolves, once, and leaves Alertmanager
kill "$RUNNER" && wait "$RUNNER" 2>/dev/null
waited=$(wait_events 10 "$AW_EVENTS" kind=unauthorized_software tenant=runner rule=name state=resolved)
wait_intervals 3
firing=$(records runner firing)
resolved=$(records runner resolved)
in_am=""
if [[ -n $AM ]]; then
	for ((i = 0; i < 50; i++)); do
		in_am=$(am_starts runner)
		[[ -z $in_am ]] && break
		sleep 0.1
	done
fi
[[ $firing == 1 && $resolved == 1 && -z $in_am ]]
check swrestart_resolved "$?" "runner's miner exited after two restarts: resolved records $resolved (want 1, first after ${waited:-no record within 10} s), firing $firing (want 1), still in Alertmanager: ${in_am:-no}"

# ---- a damaged state file: said, started clean
stop_agent
printf '{"alerts": [' >"$STATE"
agent_or_report "swrestart_damaged" "$AW_CONFIG" || e2e_finish
wait_intervals 3
grep -q "unauthorized software: $STATE: not a state file" "$AGENT_LOG" && kill -0 "$AGENT_PID"
check swrestart_damaged "$?" "a damaged $STATE: log: $(grep -i "$STATE" "$AGENT_LOG" | tr '\n' ' ')"
stop_agent
e2e_finish
