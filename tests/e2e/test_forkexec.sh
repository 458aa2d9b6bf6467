#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Forks, execs and the live task count per tenant: forkexec makes exactly
# 200 forks and 201 execs (incg's exec of forkexec, then one per child);
# spawn keeps 11 tasks alive, which cgroup.threads lists too.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases forks_exact execs_exact processes_gauge processes_zero_after_exit
e2e_require_root_bpf || e2e_finish
e2e_require_build incg forkexec spawn || e2e_finish
e2e_setup || e2e_finish

write_config forkexec || { fail_all "cannot write the configuration"; e2e_finish; }
FE=$(tenant_cgroup fe) || { fail_all "cannot create cgroup fe"; e2e_finish; }
PROCS=$(tenant_cgroup procs) || { fail_all "cannot create cgroup procs"; e2e_finish; }
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

if ! "$AW_TOOLS/incg" "$FE" "$AW_TOOLS/forkexec" 200 /bin/true; then
	report_each "forks_exact execs_exact" fail "workload incg fe forkexec 200 /bin/true failed"
fi

# The gauge against cgroup.threads read just before and just after the
# textfile, while spawn's 10 children sleep.
"$AW_TOOLS/incg" "$PROCS" "$AW_TOOLS/spawn" 10 4 &
SPAWN_PID=$!
wait_intervals 2
snapshot=$E2E_TMP/snapshot.prom
tasks_before=$(wc -l <"$PROCS/cgroup.threads")
cp "$AW_TEXTFILE" "$snapshot"
tasks_after=$(wc -l <"$PROCS/cgroup.threads")
value=$(metric abusewatch_tenant_processes procs "$snapshot")
num_cmp "$value" "==" "$tasks_before" || num_cmp "$value" "==" "$tasks_after"
check processes_gauge "$?" "processes{tenant=\"procs\"} = ${value:-missing}, cgroup.threads has $tasks_before lines before and $tasks_after after"

if ! wait "$SPAWN_PID"; then
	fail processes_zero_after_exit "workload incg procs spawn 10 4 failed"
else
	wait_intervals 3
	value=$(metric abusewatch_tenant_processes procs)
	tasks=$(wc -l <"$PROCS/cgroup.threads")
	num_cmp "$value" "==" 0
	check processes_zero_after_exit "$?" "processes{tenant=\"procs\"} = ${value:-missing} after spawn ended (cgroup.threads: $tasks), want 0"
fi

stop_agent
if [[ -z ${E2E_RECORDED[forks_exact]:-} ]]; then
	value=$(metric abusewatch_tenant_forks_total fe)
	num_cmp "$value" "==" 200
	check forks_exact "$?" "forks_total{tenant=\"fe\"} = ${value:-missing}, want 200"
	value=$(metric abusewatch_tenant_execs_total fe)
	num_cmp "$value" "==" 201
	check execs_exact "$?" "execs_total{tenant=\"fe\"} = ${value:-missing}, want 201"
fi
e2e_finish
