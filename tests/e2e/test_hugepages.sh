#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Huge pages per tenant from the hugetlb controller, as a resource and as a
# miner signal. A tenant process does what a RandomX miner does as root:
# raises the 2 MiB pool through sysfs (no sysctl), maps huge pages with
# MAP_HUGETLB and touches them (tests/tools/hugehold.c). Then:
# - the hugepages gauge equals the controller's own counter for the
#   cgroup (hugetlb.<size>.current, or usage_in_bytes in v1);
# - a plan with `hugepages: 0` fires overuse for resource hugepages, which
#   resolves once the pages are freed;
# - with builtin:miners the tenant raises miner_behavior while it holds
#   them ("huge pages", the MiB), resolved once they are freed;
# - that alert survives restarts (SIGTERM, then kill -9) while the pages
#   are still held: no second firing record, no resolved one, and one
#   resolved record once they are freed; pages freed while no agent runs
#   resolve it at the next start (state_dir/firing-hugepages.json);
# - a tenant of the same plan that holds none shows 0 and raises nothing;
# - a tenant whose cgroup no hugetlb controller accounts has no series,
#   and the agent says why in its log.
# The controller: the v2 one down the test's own tree (enabled in the v2
# root's cgroup.subtree_control only when it was not, and put back), else
# the v1 hugetlb hierarchy at the same path (hybrid hosts). The pool's
# nr_hugepages is put back at exit, also on failure.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases hugepages_bytes hugepages_overuse hugepages_overuse_resolved hugepages_miner \
	hugepages_miner_resolved hugepages_none hugepages_no_controller \
	hugepages_miner_restart_term hugepages_miner_restart_kill9 hugepages_miner_freed_while_down
e2e_require_root_bpf || e2e_finish
e2e_require_build incg hugehold linger || e2e_finish

POOL=/sys/kernel/mm/hugepages/hugepages-2048kB
PAGES=4
if [[ ! -w $POOL/nr_hugepages ]]; then
	skip_all "no 2 MiB huge-page pool to raise ($POOL/nr_hugepages)"
	e2e_finish
fi
e2e_setup || e2e_finish

V2=$(dirname "$AWTEST")
V1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)hugetlb(,|$)/ { print $2; exit }' /proc/mounts)
POOL_BEFORE=$(cat "$POOL/nr_hugepages")
ROOT_ENABLED=""
HOLD_PID=""
QUIET_PID=""

# At exit, in this order: the holders (their pages go back to the pool),
# the test's cgroups (a controller cannot be disabled in the root while a
# child enables it), the root's subtree_control, the pool.
restore() {
	[[ -n $HOLD_PID ]] && kill -KILL "$HOLD_PID" 2>/dev/null && wait "$HOLD_PID"
	[[ -n $QUIET_PID ]] && kill -KILL "$QUIET_PID" 2>/dev/null && wait "$QUIET_PID"
	cgroup_remove_tree "$AWTEST"
	[[ -n $V1 && -d $V1$AWTEST_REL ]] && find "$V1$AWTEST_REL" -depth -type d -exec rmdir {} +
	if [[ -n $ROOT_ENABLED ]]; then
		echo -hugetlb >"$V2/cgroup.subtree_control" ||
			e2e_log "cannot disable hugetlb again in $V2/cgroup.subtree_control"
	fi
	echo "$POOL_BEFORE" >"$POOL/nr_hugepages" ||
		e2e_log "cannot put $POOL/nr_hugepages back to $POOL_BEFORE"
}
on_cleanup restore

alertmanager_or_none
export ABUSEWATCH_TEST_RESEND_MS=500

# A tenant outside tenants/: host/bare, whose parent enables no controller.
AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/host/bare\"
    tenant: bare
    plan: default" write_config hugepages "plans:
  default:
    hugepages: 0
    window: 2s
    for: 1s
    software: miners
software:
  miners:
    deny: [builtin:miners]
alerts:
  $AM_CONFIG" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
CG=$(tenant_cgroup holder) && QUIET_CG=$(tenant_cgroup quiet) && mkdir "$AW_HOST_CG/bare" || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}

# The hugetlb controller for tenants/*: v2 down the test's tree, else v1.
MODE=""
if grep -qw hugetlb "$V2/cgroup.controllers" 2>/dev/null; then
	if ! grep -qw hugetlb "$V2/cgroup.subtree_control" &&
		echo +hugetlb >"$V2/cgroup.subtree_control" 2>/dev/null; then
		ROOT_ENABLED=1
		e2e_log "enabled hugetlb in $V2/cgroup.subtree_control for the test (put back at exit)"
	fi
	if grep -qw hugetlb "$V2/cgroup.subtree_control" &&
		echo +hugetlb >"$AWTEST/cgroup.subtree_control" 2>/dev/null &&
		echo +hugetlb >"$AW_TENANTS/cgroup.subtree_control" 2>/dev/null &&
		[[ -e $CG/hugetlb.2MB.current ]]; then
		MODE=v2
	fi
fi
if [[ -z $MODE && -n $V1 ]] && mkdir -p "$V1$AWTEST_REL/tenants/holder" "$V1$AWTEST_REL/tenants/quiet"; then
	MODE=v1
fi
if [[ -z $MODE ]]; then
	skip_all "no hugetlb controller: not in $V2/cgroup.controllers (or cannot be enabled) and no v1 hugetlb hierarchy"
	e2e_finish
fi

# The controller's own figure for cgroup @1: every size's, reservations left out.
kernel_huge_bytes() {
	local dir=$1 suffix=current file sum=0
	if [[ $MODE == v1 ]]; then
		dir=$V1$AWTEST_REL/tenants/$(basename "$1")
		suffix=usage_in_bytes
	fi
	for file in "$dir"/hugetlb.*."$suffix"; do
		[[ $file == *.rsvd.* ]] && continue
		sum=$((sum + $(cat "$file")))
	done
	echo "$sum"
}

agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# In the v1 cgroup too (hybrid hosts) before the pages are touched: v1 charges at the fault.
v1_procs() {
	if [[ $MODE == v1 ]]; then
		echo "$V1$AWTEST_REL/tenants/$1/cgroup.procs"
	else
		echo /dev/null
	fi
}
bash -c 'echo $$ >"$1" && exec "${@:2}"' quiet "$(v1_procs quiet)" \
	"$AW_TOOLS/incg" "$QUIET_CG" "$AW_TOOLS/linger" 60 &
QUIET_PID=$!
bash -c 'echo $$ >"$1" && exec "${@:2}"' hugehold "$(v1_procs holder)" \
# hold_pages: tenant holder holds $PAGES huge pages (HOLD_PID); status 1 when it cannot.
hold_pages() {
	bash -c 'echo $$ >"$1" && exec "${@:2}"' hugehold "$(v1_procs holder)" \
		"$AW_TOOLS/incg" "$CG" "$AW_TOOLS/hugehold" "$PAGES" 120 "$POOL/nr_hugepages" \
		>"$E2E_TMP/hugehold.out" 2>&1 &
	HOLD_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q holding "$E2E_TMP/hugehold.out" && return 0
		kill -0 "$HOLD_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# free_pages: the holder ends, and its pages go back to the pool.
free_pages() {
	kill -TERM "$HOLD_PID" 2>/dev/null
	wait "$HOLD_PID" 2>/dev/null
	HOLD_PID=""
}
if ! hold_pages; then
	skip_all "cannot reserve $PAGES huge pages of 2 MiB: $(tail -n 1 "$E2E_TMP/hugehold.out")"
	e2e_finish
fi
HELD=$((PAGES << 21))

# ---- the gauge: the controller's own counter, within one interval
held_at=$(date +%s.%N)
before=$(kernel_huge_bytes "$CG")
agent=$(wait_metric 5 abusewatch_tenant_hugepages_bytes holder == "$before")
after=$(kernel_huge_bytes "$CG")
lag=$(awk -v s="$held_at" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
num_cmp "$agent" "==" "$before" && num_cmp "$after" "==" "$before" && num_cmp "$agent" ">=" "$HELD"
check hugepages_bytes "$?" "hugepages_bytes{holder} = $agent, $lag s after the pages were held; the controller's ($MODE) $before then $after; held $HELD"

# ---- overuse of `hugepages: 0`, and miner behaviour
fired=$(wait_events 10 "$AW_EVENTS" kind=overuse tenant=holder resource=hugepages state=firing)
check hugepages_overuse "$?" "overuse record for holder/hugepages on a plan of hugepages: 0: ${fired:-not within 10 s}"

waited=$(wait_events 10 "$AW_EVENTS" kind=unauthorized_software tenant=holder rule=miner_behavior state=firing)
found=$?
record=$(first_record_check unauthorized_software holder miner_behavior \
	"'huge pages' in r['reason'] and '$((HELD >> 20)) MiB' in r['reason'] and r['action'] == 'alert'")
((found == 0)) && [[ $record == ok ]]
check hugepages_miner "$?" "miner_behavior for holder holding $((HELD >> 20)) MiB: after ${waited:-more than 10} s; record: $record"

# ---- a tenant of the same plan without huge pages
quiet=$(metric abusewatch_tenant_hugepages_bytes quiet)
quiet_events=$(events_count "$AW_EVENTS" tenant=quiet)
num_cmp "$quiet" "==" 0 && ((quiet_events == 0))
check hugepages_none "$?" "hugepages_bytes{quiet} = ${quiet:-missing} (want 0), its alert records: $quiet_events (want 0)"

# ---- no controller for host/bare: no series, and the log says why
bare=$(metric abusewatch_tenant_hugepages_bytes bare)
has_bare=$?
has_tenant bare
seen=$?
said=$(grep -c "no hugetlb controller accounts cgroup" "$AGENT_LOG")
((has_bare != 0 && seen == 0 && said == 1))
check hugepages_no_controller "$?" "host/bare without the controller: hugepages_bytes ${bare:-absent} (want absent), tenant in the textfile: $((seen == 0)), log lines saying why: $said (want 1)"

# miner_records STATE: how many miner_behavior records of holder in that state.
miner_records() {
	events_count "$AW_EVENTS" kind=unauthorized_software tenant=holder rule=miner_behavior state="$1"
}

# am_miner: "STATE STARTS_AT" of holder's miner_behavior alert in Alertmanager, or nothing.
am_miner() {
	am_alert alertname=AbusewatchUnauthorizedSoftware tenant=holder rule=miner_behavior |
		python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["status"]["state"], a["startsAt"])' 2>/dev/null
}

# ---- restarts while the pages are held: the alert goes on, not fired again
AM_STARTS=""
if [[ -n $AM ]]; then
	for ((i = 0; i < 50; i++)); do
		AM_STARTS=$(am_miner) && [[ -n $AM_STARTS ]] && break
		sleep 0.2
	done
	AM_STARTS=${AM_STARTS#* }
	[[ -n $AM_STARTS ]] || { e2e_log "holder's miner_behavior alert never reached Alertmanager"; AM=""; }
fi
# restart_held CASE HOW: stops the agent (HOW: TERM or KILL), starts it
# again, and checks that the alert neither fired again nor resolved.
restart_held() {
	local case=$1 how=$2 firing resolved started am_state=""
	if [[ $how == TERM ]]; then
		stop_agent
	else
		kill -KILL "$AGENT_PID"
		wait "$AGENT_PID" 2>/dev/null
		AGENT_PID=""
	fi
	agent_or_report "$case hugepages_miner_resolved hugepages_overuse_resolved hugepages_miner_freed_while_down" "$AW_CONFIG" || e2e_finish
	# Long enough for a tick that would fire it again, and for the textfile.
	wait_intervals 10
	firing=$(miner_records firing)
	resolved=$(miner_records resolved)
	started=$(grep -c 'miner behaviour: .*firing again' "$AGENT_LOG")
	if [[ -n $AM ]]; then
		am_state=$(am_miner)
		[[ ${am_state%% *} == active && ${am_state#* } == "$AM_STARTS" ]] || am_state="bad: ${am_state:-none} (want active since $AM_STARTS)"
	fi
	((firing == 1 && resolved == 0 && started == 1)) && [[ $am_state != bad* ]]
	check "$case" "$?" "after a restart (SIG$how) with the pages still held: miner_behavior firing records $firing (want 1), resolved $resolved (want 0), log lines of the alert taken up: $started (want 1), Alertmanager ${am_state:-not checked}: $(grep 'miner behaviour' "$AGENT_LOG" | tr '\n' ' ')"
}
restart_held hugepages_miner_restart_term TERM
restart_held hugepages_miner_restart_kill9 KILL

# ---- freed: both alerts resolve
free_pages
freed_gauge=$(wait_metric 5 abusewatch_tenant_hugepages_bytes holder == 0)
waited=$(wait_events 10 "$AW_EVENTS" kind=unauthorized_software tenant=holder rule=miner_behavior state=resolved)
status=$?
sleep 1
resolved=$(miner_records resolved)
((status == 0 && resolved == 1))
check hugepages_miner_resolved "$status" "miner_behavior resolved after the pages were freed: ${waited:-not within 10 s}, resolved records $resolved (want 1) (gauge then $freed_gauge)"
# The window (2 s) must have averaged the holding away first.
waited=$(wait_events 15 "$AW_EVENTS" kind=overuse tenant=holder resource=hugepages state=resolved)
check hugepages_overuse_resolved "$?" "overuse of hugepages resolved after the pages were freed: ${waited:-not within 15 s} (gauge then $freed_gauge)"

# ---- freed while no agent runs: resolved at the next start
firing_before=$(miner_records firing)
resolved_before=$(miner_records resolved)
firing=""
if hold_pages && for ((i = 0; i < 50; i++)); do
	firing=$(miner_records firing)
	((firing > firing_before)) && break
	sleep 0.2
done && ((firing == firing_before + 1)); then
	wait_intervals 2
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=""
	free_pages
	agent_or_report hugepages_miner_freed_while_down "$AW_CONFIG" || e2e_finish
	for ((i = 0; i < 50; i++)); do
		(($(miner_records resolved) > resolved_before)) && break
		sleep 0.2
	done
	wait_intervals 5
	firing=$(miner_records firing)
	resolved=$(miner_records resolved)
	((firing == firing_before + 1 && resolved == resolved_before + 1))
	check hugepages_miner_freed_while_down "$?" "pages held again (a new alert), the agent killed, the pages freed, the agent started: miner_behavior firing records $firing (want $((firing_before + 1))), resolved $resolved (want $((resolved_before + 1)))"
else
	fail hugepages_miner_freed_while_down "the pages held again raised no new alert (firing records ${firing:-?}, $firing_before before): $(tail -n 1 "$E2E_TMP/hugehold.out")"
fi

stop_agent
e2e_finish
