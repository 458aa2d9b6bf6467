#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# CPU time per tenant against the cgroup's own cpu.stat usage_usec: one
# tenant alone, two tenants taking turns on one CPU (every switch changes
# cgroup, so each CPU's batch goes to the hash at every switch), and an idle
# tenant that must show (almost) nothing.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases cpu_default cpu_shared_cpu cpu_idle_tenant
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
e2e_setup || e2e_finish

# The idle tenant must read nothing from disk: have its binaries cached.
cat "$AW_TOOLS/incg" "$AW_TOOLS/burn" "$(command -v sleep)" >/dev/null
sleep 0

# check_idle TENANT: nothing but one exec (incg execs sleep; the fork that
# started incg happened outside the tenant) and a little CPU.
check_idle() {
	local tenant=$1 name value problems=""
	value=$(metric abusewatch_tenant_cpu_seconds_total "$tenant")
	num_cmp "$value" "<" 0.05 || problems+=" cpu_seconds=${value:-missing} (want < 0.05)"
	for name in disk_read_bytes_total disk_written_bytes_total \
		network_receive_bytes_total network_transmit_bytes_total \
		network_receive_packets_total network_transmit_packets_total forks_total; do
		value=$(metric "abusewatch_tenant_$name" "$tenant")
		num_cmp "$value" "==" 0 || problems+=" $name=${value:-missing} (want 0)"
	done
	value=$(metric abusewatch_tenant_execs_total "$tenant")
	num_cmp "$value" "==" 1 || problems+=" execs_total=${value:-missing} (want 1)"
	if [[ -z $problems ]]; then
		pass cpu_idle_tenant
	else
		fail cpu_idle_tenant "tenant $tenant:$problems"
	fi
}

# cpu_case CASE TENANT [AGENT ARGS...]: burns 3 s in the tenant and compares.
cpu_case() {
	local case=$1 tenant=$2 busy idle="" idle_pid="" cases=$1 expected actual
	shift 2
	write_config "$case" || { fail "$case" "cannot write the configuration"; return; }
	busy=$(tenant_cgroup "$tenant") || { fail "$case" "cannot create cgroup $tenant"; return; }
	if [[ $case == cpu_default ]]; then
		idle=$(tenant_cgroup idle) || { fail cpu_idle_tenant "cannot create cgroup idle"; return; }
		cases+=" cpu_idle_tenant"
	fi
	agent_or_report "$cases" "$AW_CONFIG" "$@" || return

	if [[ -n $idle ]]; then
		"$AW_TOOLS/incg" "$idle" sleep 5 &
		idle_pid=$!
	fi
	if ! "$AW_TOOLS/incg" "$busy" "$AW_TOOLS/burn" 3; then
		stop_agent
		report_each "$cases" fail "workload incg $busy burn 3 failed"
		return
	fi
	[[ -n $idle_pid ]] && wait "$idle_pid"
	wait_intervals 3
	stop_agent

	expected=$(cgroup_cpu_seconds "$busy")
	actual=$(metric abusewatch_tenant_cpu_seconds_total "$tenant")
	within_pct "$actual" "$expected" 1
	check "$case" "$?" "cpu_seconds_total{tenant=\"$tenant\"} = ${actual:-missing}, cpu.stat says $expected s (want within 1%)"
	[[ -n $idle ]] && check_idle idle
}

# cpu_shared_cpu: two tenants burn 2 s each on CPU 0 at once.
cpu_shared_cpu() {
	local first second tenant expected actual problems="" pids=()
	write_config cpu_shared_cpu || { fail cpu_shared_cpu "cannot write the configuration"; return; }
	first=$(tenant_cgroup turn-a) && second=$(tenant_cgroup turn-b) ||
		{ fail cpu_shared_cpu "cannot create the cgroups"; return; }
	agent_or_report cpu_shared_cpu "$AW_CONFIG" || return
	"$AW_TOOLS/incg" "$first" taskset -c 0 "$AW_TOOLS/burn" 2 &
	pids+=($!)
	"$AW_TOOLS/incg" "$second" taskset -c 0 "$AW_TOOLS/burn" 2 &
	pids+=($!)
	wait "${pids[@]}"
	wait_intervals 3
	stop_agent
	for tenant in turn-a turn-b; do
		expected=$(cgroup_cpu_seconds "$(tenant_cgroup "$tenant")")
		actual=$(metric abusewatch_tenant_cpu_seconds_total "$tenant")
		within_pct "$actual" "$expected" 1 ||
			problems+=" $tenant: ${actual:-missing} vs cpu.stat $expected"
	done
	if [[ -z $problems ]]; then
		pass cpu_shared_cpu
	else
		fail cpu_shared_cpu "want within 1% of cpu.stat:$problems"
	fi
}

cpu_case cpu_default busy
cpu_shared_cpu
e2e_finish
