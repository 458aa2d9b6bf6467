#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Miner behaviour made by a helper that exits at once, attributed to the
# tenant's process that ran it (docs/alerts.md), end to end with real
# processes in tenant cgroups this test creates. The parent is a copy of
# tests/tools/runthen under an innocent name (indexer): it runs the helper,
# waits for it, and lingers. Its tenants' policy denies builtin:miners.
# - modprobe msr (a copy of linger called modprobe, first in PATH) run by
#   the parent: the record names the parent (pid, comm, exe) and the
#   helper in its reason; it fires on, helper gone, for several windows
#   while the parent lives, and resolves once the parent has exited;
# - the same through system()'s sh -c: past the shell, to the parent;
# - a huge-page sysctl written by sysctl(8) run by the parent;
# - action kill: the parent is killed, not only the helper;
# - a helper whose parent is outside the tenant: the record names the
#   helper, and resolves after the window although that parent lives.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases attribution_modprobe attribution_lasts attribution_shell attribution_sysctl \
	attribution_kill attribution_outside
e2e_require_root_bpf || e2e_finish
e2e_require_build incg linger runthen || e2e_finish
e2e_setup || e2e_finish

BIN=$E2E_TMP/bin
mkdir -p "$BIN" && cp "$AW_TOOLS/runthen" "$BIN/indexer" && cp "$AW_TOOLS/linger" "$BIN/modprobe" || {
	fail_all "cannot make the programs in $BIN"
	e2e_finish
}
export PATH="$BIN:$PATH"

AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/tenants/killer/**\"
    tenant: killer
    plan: killing" write_config attribution "plans:
  default:
    window: 1s
    software: watch
  killing:
    window: 1s
    software: killing
software:
  watch:
    deny: [builtin:miners]
  killing:
    deny: [builtin:miners]
    action: kill
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in direct shelled tuner killer outside; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
T=$AW_TENANTS
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# firing TENANT CONDITION: waits (<= 10 s) for the tenant's firing
# miner_behavior record; prints "after N s: ok" or what is wrong, status 0
# when it is there and satisfies CONDITION (Python, on r).
firing() {
	local tenant=$1 condition=$2 waited record
	waited=$(wait_events 10 "$AW_EVENTS" tenant="$tenant" rule=miner_behavior state=firing) || {
		printf 'no firing record within 10 s'
		return 1
	}
	record=$(first_record_check unauthorized_software "$tenant" miner_behavior "$condition")
	printf 'after %s s: %s' "$waited" "$record"
	[[ $record == ok ]]
}
resolved_records() { events_count "$AW_EVENTS" tenant="$1" state=resolved; }
# Whether anything but PID runs in the tenant's cgroup (the helper, say).
others_in() { grep -vx "$2" "$T/$1/cgroup.procs" | head -n 1; }

# ---- modprobe msr run by the parent, which lingers
"$AW_TOOLS/incg" "$T/direct" "$BIN/indexer" 30 modprobe 0 msr allow_writes=on &
parent=$!
what=$(firing direct "r['pid'] == $parent and r['comm'] == 'indexer' and r['exe'] == '$BIN/indexer' and 'modprobe msr' in r['reason'] and 'was run by pid $parent' in r['reason'] and 'sha256' not in r")
check attribution_modprobe "$?" "modprobe msr run by indexer (pid $parent): record $what"

# Helper gone, five windows pass: still firing while the parent lives.
sleep 0.5
helper_left=$(others_in direct "$parent")
wait_intervals 25
alive=no
kill -0 "$parent" 2>/dev/null && alive=yes
held=$(resolved_records direct)
kill "$parent" 2>/dev/null
wait "$parent" 2>/dev/null
waited=$(wait_events 10 "$AW_EVENTS" tenant=direct state=resolved)
gone=$?
resolved_pid=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == "direct" and r.get("state") == "resolved":
        print(r.get("pid"))
        break' "$AW_EVENTS")
[[ -z $helper_left && $alive == yes && $held == 0 ]] && ((gone == 0)) && [[ $resolved_pid == "$parent" ]]
check attribution_lasts "$?" "helper left in the cgroup: '${helper_left:-none}'; 5 s later (window 1 s) parent alive: $alive, resolved records: $held (want 0); after the parent exited, resolved in ${waited:-more than 10} s naming pid ${resolved_pid:-none} (want $parent)"

# ---- the same through system(): sh -c "modprobe ... ; true" keeps the shell between
"$AW_TOOLS/incg" "$T/shelled" "$BIN/indexer" -s 30 modprobe 0 msr allow_writes=on ";" true &
parent=$!
what=$(firing shelled "r['pid'] == $parent and r['comm'] == 'indexer' and 'was run by pid $parent through sh' in r['reason']")
check attribution_shell "$?" "modprobe msr through system() of indexer (pid $parent): record $what"
kill "$parent" 2>/dev/null
wait "$parent" 2>/dev/null

# ---- a huge-page sysctl written by sysctl(8): the current value, no change
if SYSCTL=$(command -v sysctl); then
	current=$(cat /proc/sys/vm/nr_overcommit_hugepages)
	"$AW_TOOLS/incg" "$T/tuner" "$BIN/indexer" 30 "$SYSCTL" -q -w "vm.nr_overcommit_hugepages=$current" &
	parent=$!
	what=$(firing tuner "r['pid'] == $parent and r['comm'] == 'indexer' and 'huge-page sysctl' in r['reason'] and '; sysctl (pid' in r['reason'] and 'was run by pid $parent' in r['reason']")
	check attribution_sysctl "$?" "sysctl -w vm.nr_overcommit_hugepages run by indexer (pid $parent): record $what"
	kill "$parent" 2>/dev/null
	wait "$parent" 2>/dev/null
else
	skip attribution_sysctl "no sysctl(8) here (procps)"
fi

# ---- action kill: the parent dies, not only the helper
"$AW_TOOLS/incg" "$T/killer" "$BIN/indexer" 30 modprobe 0 msr &
parent=$!
for ((i = 0; i < 100; i++)); do
	kill -0 "$parent" 2>/dev/null || break
	sleep 0.1
done
wait "$parent"
status=$?
what=$(firing killer "r['pid'] == $parent and r['action'] == 'kill' and r['action_result'].startswith('killed pid $parent')")
((status == 137)) && [[ $what == *": ok" ]]
check attribution_kill "$?" "indexer (pid $parent) running modprobe msr under action kill: exit status $status (want 137, SIGKILL); record $what"

# ---- the helper's parent is no process of the tenant's (it runs in the
# test's host cgroup): the helper keeps its evidence, and only the window
# holds the alert
"$AW_TOOLS/incg" "$AW_HOST_CG" "$BIN/indexer" 30 "$AW_TOOLS/incg" "$T/outside" modprobe 0 msr &
outsider=$!
what=$(firing outside "r['pid'] != $outsider and r['comm'] == 'modprobe' and r['exe'] == '$BIN/modprobe' and 'run by' not in r['reason']")
named=$?
waited=$(wait_events 10 "$AW_EVENTS" tenant=outside state=resolved)
resolved=$?
alive=no
kill -0 "$outsider" 2>/dev/null && alive=yes
((named == 0 && resolved == 0)) && [[ $alive == yes ]]
check attribution_outside "$?" "modprobe msr in tenant outside run by indexer of the host cgroup (pid $outsider): record $what; resolved in ${waited:-more than 10} s while that parent lives: $alive"
kill "$outsider" 2>/dev/null
wait "$outsider" 2>/dev/null

stop_agent
e2e_finish
