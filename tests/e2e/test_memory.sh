#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Memory per tenant from the memory controller: the v2 controller where the
# host enables it, else the v1 memory hierarchy at the same path (hybrid
# hosts; the test makes that cgroup too, as Docker and systemd do). A
# process holding 128 MiB shows as at least that, within 10% of the
# working set the kernel reports for the cgroup, and overuses a 64 MiB plan.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases memory_bytes memory_overuse
e2e_require_root_bpf || e2e_finish
e2e_require_build incg memhold || e2e_finish
e2e_setup || e2e_finish

V2=$(dirname "$AWTEST")
V1=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)
write_config memory "plans:
  default:
    memory: 64MiB
    window: 2s
    for: 1s
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
CG=$(tenant_cgroup mem) || {
	fail_all "cannot create the tenant cgroup"
	e2e_finish
}

# Memory accounting for tenants/mem: the v2 controller down the test's tree,
# or the v1 hierarchy at the same path.
MODE=""
if grep -qw memory "$V2/cgroup.subtree_control" 2>/dev/null &&
	echo +memory >"$AWTEST/cgroup.subtree_control" 2>/dev/null &&
	echo +memory >"$AW_TENANTS/cgroup.subtree_control" 2>/dev/null; then
	MODE=v2
	USAGE_FILE=$CG/memory.current
	STAT_KEY=inactive_file
elif [[ -n $V1 ]] && mkdir -p "$V1$AWTEST_REL/tenants/mem"; then
	MODE=v1
	USAGE_FILE=$V1$AWTEST_REL/tenants/mem/memory.usage_in_bytes
	STAT_KEY=total_inactive_file
else
	skip_all "no memory controller: not enabled in $V2/cgroup.subtree_control and no v1 memory hierarchy"
	e2e_finish
fi
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# In the v1 memory cgroup too (hybrid hosts) before it allocates: v1 does not move charges.
V1_PROCS=/dev/null
[[ $MODE == v1 ]] && V1_PROCS=$V1$AWTEST_REL/tenants/mem/cgroup.procs
bash -c 'echo $$ >"$1" && exec "${@:2}"' memhold "$V1_PROCS" \
	"$AW_TOOLS/incg" "$CG" "$AW_TOOLS/memhold" 128 20 >"$E2E_TMP/memhold.out" &
HOLD_PID=$!
# The v1 cgroup goes once the process has: kill it first.
on_cleanup "kill -KILL $HOLD_PID; wait $HOLD_PID"
[[ $MODE == v1 ]] && on_cleanup rmdir "$V1$AWTEST_REL/tenants/mem" "$V1$AWTEST_REL/tenants" "$V1$AWTEST_REL"
for ((i = 0; i < 100; i++)); do
	grep -q holding "$E2E_TMP/memhold.out" && break
	sleep 0.1
done
wait_intervals 3

# Kernel's view right before and after the agent's: working set = usage - inactive file.
kernel_ws() {
	local usage inactive
	usage=$(cat "$USAGE_FILE")
	inactive=$(awk -v k="$STAT_KEY" '$1 == k { print $2 }' "$(dirname "$USAGE_FILE")/memory.stat")
	echo $((usage - ${inactive:-0}))
}
truth=$(kernel_ws)
agent=$(metric abusewatch_tenant_memory_bytes mem)
num_cmp "$agent" ">=" $((128 << 20)) && within_pct "$agent" "$truth" 10
check memory_bytes "$?" "memory_bytes{mem} = ${agent:-missing}, the kernel's working set ($MODE) $truth, held $((128 << 20)) (want >= held, within 10% of the kernel)"

fired=$(wait_events 10 "$AW_EVENTS" tenant=mem resource=memory state=firing)
check memory_overuse "$?" "firing record for mem/memory on a 64 MiB plan: ${fired:-not within 10 s}"

kill "$HOLD_PID" 2>/dev/null
wait "$HOLD_PID" 2>/dev/null
stop_agent
e2e_finish
