#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Overuse relative to the other tenants, end to end, for cpu. Six tenants
# on a plan with no cpu limit, relative factor 4, min_tenants 5, floor 0.15
# cores. First all six use a quarter of a core each: equally busy, above
# the floor, and nobody alerts. Then five use 5% of a core and one a whole
# core: the busy one raises AbusewatchOveruse with rule=relative in a real
# Alertmanager (limit = 4 x the median of the others, from the record), no
# quiet one does, and it resolves once the busy one stops.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases relative_equal_no_alert relative_busy_alertmanager relative_busy_record \
	relative_quiet_no_alert relative_resolves
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
e2e_setup || e2e_finish

WINDOW=3
FOR=2
QUIET="q1 q2 q3 q4 q5"

require_alertmanager || e2e_finish
write_config relative "plans:
  default:
    window: ${WINDOW}s
    for: ${FOR}s
    hysteresis: 0.9
relative:
  factor: 4
  min_tenants: 5
  floor: {cpu: 0.15}
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
declare -A CG=()
for name in $QUIET busy; do
	CG[$name]=$(tenant_cgroup "$name") || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# load NAME SECONDS DUTY: a burn in tenant NAME, in the background.
PIDS=()
load() {
	"$AW_TOOLS/incg" "${CG[$1]}" "$AW_TOOLS/burn" "$2" "$3" &
	PIDS+=($!)
	on_cleanup kill "$!"
}

# ---- all equally busy: 6 x 0.25 cores (1.5 of 2 CPUs) for window + for + 3 s
for name in $QUIET busy; do
	load "$name" 8 0.25
done
wait "${PIDS[@]}"
PIDS=()
records=$(events_count "$AW_EVENTS" kind=overuse)
usage=$(metric abusewatch_tenant_cpu_seconds_total busy)
((records == 0)) && ! am_alert alertname=AbusewatchOveruse >/dev/null && num_cmp "$usage" ">" 1
check relative_equal_no_alert "$?" "six tenants at 0.25 cores for 8 s (busy used ${usage:-?} s): $records overuse records (want 0)"

# ---- one busy among five quiet: 1 core against 0.05
for name in $QUIET; do
	load "$name" 14 0.05
done
"$AW_TOOLS/incg" "${CG[busy]}" "$AW_TOOLS/burn" 9 &
BUSY_PID=$!
on_cleanup kill "$BUSY_PID"
waited=$(wait_am_alert 15 alertname=AbusewatchOveruse tenant=busy resource=cpu rule=relative)
found=$?
check relative_busy_alertmanager "$found" "AbusewatchOveruse{tenant=busy,resource=cpu,rule=relative} in Alertmanager after ${waited:-no alert within 15} s"
record=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == "busy" and r.get("state") == "firing":
        # The others use ~0.05 cores: 4 x their median is far under the 1 core burnt.
        ok = (r["kind"] == "overuse" and r["rule"] == "relative" and r["resource"] == "cpu"
              and 0.05 < r["limit"] < 0.6 and r["value"] > 0.6 and r["value"] > r["limit"]
              and r["window_s"] == 3)
        print(("ok " if ok else "bad ") + "value %.3f limit %.3f" % (r["value"], r["limit"]))
        break
else:
    print("missing")' "$AW_EVENTS" 2>&1)
[[ $record == ok* ]]
check relative_busy_record "$?" "firing record for busy: $record (want rule relative, value > 0.6, 0.05 < limit = 4 x median < 0.6)"
e2e_log "relative: busy's record: $record; alert after ${waited:-none} s"

wait "$BUSY_PID"
resolved=$(wait_events 12 "$AW_EVENTS" tenant=busy rule=relative state=resolved)
check relative_resolves "$?" "resolved record for busy ${resolved:-not within 12 s} after its burn ended"
wait "${PIDS[@]}"
quiet_records=0
for name in $QUIET; do
	quiet_records=$((quiet_records + $(events_count "$AW_EVENTS" tenant="$name")))
done
((quiet_records == 0)) && ! am_alert alertname=AbusewatchOveruse tenant=q1 >/dev/null
check relative_quiet_no_alert "$?" "records for the five quiet tenants: $quiet_records (want 0)"

stop_agent
e2e_finish
