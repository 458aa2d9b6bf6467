#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# SIGHUP: a new plan applies to a running tenant without losing its
# counters; a reload that changes other things keeps a firing alert firing
# (no second alert, no resolution); an invalid file is refused with
# FILE:LINE:COL and the old configuration keeps running.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases reload_new_plan_applies reload_counters_kept reload_keeps_firing reload_invalid_refused
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
e2e_setup || e2e_finish

# plan_yaml CPU [EXTRA]: the plans and alerts sections.
plan_yaml() {
	printf 'plans:\n  default:\n    cpu: %s\n    window: 2s\n    for: 1s\n%s\nalerts:\n  alertmanager: []\n' \
		"$1" "${2:-}"
}

write_config reload "$(plan_yaml 100)" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
CG=$(tenant_cgroup hog) || {
	fail_all "cannot create the tenant cgroup"
	e2e_finish
}
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish
"$AW_TOOLS/incg" "$CG" "$AW_TOOLS/burn" 25 &
BURN_PID=$!
on_cleanup kill "$BURN_PID"

# ---- a plan of 100 cores: nothing; then 0.5 cores by SIGHUP
sleep 3
before_alerts=$(events_count "$AW_EVENTS" tenant=hog)
before=$(metric abusewatch_tenant_cpu_seconds_total hog)
write_config reload "$(plan_yaml 0.5)"
kill -HUP "$AGENT_PID"
fired=$(wait_events 10 "$AW_EVENTS" tenant=hog resource=cpu state=firing)
[[ $before_alerts == 0 && -n $fired ]] && grep -q "configuration reloaded" "$AGENT_LOG"
check reload_new_plan_applies "$?" "records before the reload: $before_alerts (want 0); firing record ${fired:-not within 10} s after SIGHUP with cpu 0.5"

lowest=""
for ((i = 0; i < 5; i++)); do
	value=$(metric abusewatch_tenant_cpu_seconds_total hog)
	[[ -z $lowest ]] || num_cmp "$value" "<" "$lowest" && lowest=$value
	wait_intervals 1
done
num_cmp "$before" ">" 1 && num_cmp "$lowest" ">=" "$before"
check reload_counters_kept "$?" "cpu_seconds_total{hog}: ${before:-missing} before the reload, lowest after: ${lowest:-missing}"

# ---- another reload while it fires: another plan added, nothing else
write_config reload "$(plan_yaml 0.5 '  other:
    cpu: 4')"
kill -HUP "$AGENT_PID"
wait_intervals 5
over=$(awk '$1 == "abusewatch_tenant_over_limit{tenant=\"hog\",plan=\"default\",resource=\"cpu\"}" { print $2 }' "$AW_TEXTFILE")
firing=$(events_count "$AW_EVENTS" tenant=hog state=firing)
resolved=$(events_count "$AW_EVENTS" tenant=hog state=resolved)
reloads=$(grep -c "configuration reloaded" "$AGENT_LOG")
[[ $firing == 1 && $resolved == 0 && $over == 1 && $reloads == 2 ]]
check reload_keeps_firing "$?" "after a second reload: firing records $firing (want 1), resolved $resolved (want 0), over_limit ${over:-missing} (want 1), reloads logged $reloads (want 2)"

# ---- an invalid file: refused, the running configuration stays
cp "$AW_CONFIG" "$AW_DIR/good.yaml"
printf 'plans:\n  default:\n    cpu: -1\n' >"$AW_DIR/bad.tail"
sed '/^plans:/,$d' "$AW_DIR/good.yaml" >"$AW_CONFIG"
cat "$AW_DIR/bad.tail" >>"$AW_CONFIG"
line=$(grep -n 'cpu: -1' "$AW_CONFIG" | cut -d: -f1)
kill -HUP "$AGENT_PID"
wait_intervals 5
error=$(grep -F "$AW_CONFIG:$line:" "$AGENT_LOG" | tail -n 1)
over=$(awk '$1 == "abusewatch_tenant_over_limit{tenant=\"hog\",plan=\"default\",resource=\"cpu\"}" { print $2 }' "$AW_TEXTFILE")
kill -0 "$AGENT_PID" 2>/dev/null && [[ -n $error && $over == 1 ]] &&
	[[ $(events_count "$AW_EVENTS" tenant=hog state=resolved) == 0 ]] &&
	grep -q "reload refused" "$AGENT_LOG"
check reload_invalid_refused "$?" "agent alive: $(kill -0 "$AGENT_PID" 2>/dev/null && echo yes || echo no), error naming $AW_CONFIG:$line: ${error:-none}, over_limit ${over:-missing} (want 1, the old plan)"

kill "$BURN_PID" 2>/dev/null
stop_agent
e2e_finish
