#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Faults from the kernel's side:
# - fault_no_btf: a kernel without BTF (in a private mount namespace, an
#   empty file, then one that is not BTF, bound over /sys/kernel/btf/vmlinux):
#   exit 2, and the log says the kernel has no BTF;
# - fault_no_bpf_permission: root without CAP_BPF, CAP_PERFMON and
#   CAP_NET_ADMIN (setpriv, as a unit without them would start it): exit 2,
#   and the log names each missing capability;
# - fault_ring_overflow: the agent stopped (SIGSTOP) while 3,000 tenant
#   cgroups are made and a tenant runs 3,000 execs: the cgroup events
#   overflow their ring buffer (counted in abusewatch_events_lost_total);
#   once it runs again the agent scans the tree, so all 3,000 tenants are
#   there, and the execs are counted exactly (counters are maps, not
#   events); the same for 3,000 removed while it is stopped: they go;
# - fault_map_full: a task moved through 17,000 cgroups (outside the
#   tenants) fills the probes' per-cgroup map (16,384 entries): counted as
#   lost, the agent goes on, a tenant that was counted before stays exact
#   (CPU within 1% of cpu.stat), and once the cgroups are gone a new
#   tenant is counted exactly again (skipped while another agent runs on
#   the host: its map would fill too);
# - fault_cgroup_removed_exec: a tenant's job cgroup is removed while its
#   tasks exec: they are moved up to the tenant's cgroup mid-burst and the
#   job cgroup removed under them; the tenant's execs_total is exactly what
#   ran; and 20 job cgroups killed (cgroup.kill) and removed mid-burst
#   leave the agent running;
# - fault_ten_thousand: 10,000 tenant cgroups made at once under a running
#   agent: all 10,000 tenants appear, a busy tenant stays exact, and when
#   they are all removed at once they go (tenant expiry 1 s here).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases fault_no_btf fault_no_bpf_permission fault_ring_overflow fault_map_full \
	fault_cgroup_removed_exec fault_ten_thousand
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn execburst exit0 || e2e_finish
for tool in unshare setpriv; do
	command -v "$tool" >/dev/null || {
		fail_all "$tool is missing (util-linux)"
		e2e_finish
	}
done
e2e_setup || e2e_finish
T=$AW_TENANTS

write_config kernel || {
	fail_all "cannot write the configuration"
	e2e_finish
}

# run_once [PREFIX...]: the agent with --once under PREFIX; sets RUN_STATUS
# and RUN_LOG (its log).
run_once() {
	RUN_LOG=$(mktemp "$E2E_TMP/once.XXXXXX.log")
	timeout -k 5 60 "$@" "$AW_BIN" run -c "$AW_CONFIG" --once 2>"$RUN_LOG" </dev/null
	RUN_STATUS=$?
}

# tenants_in_textfile: how many tenants the textfile lists.
tenants_in_textfile() {
	grep -c '^abusewatch_tenant_processes{' "$AW_TEXTFILE"
}

# wait_tenants SECONDS COUNT: until the textfile lists COUNT tenants; prints the last count.
wait_tenants() {
	local i count
	for ((i = 0; i < $1 * 5; i++)); do
		count=$(tenants_in_textfile)
		((count == $2)) && break
		sleep 0.2
	done
	printf '%s\n' "$count"
	((count == $2))
}

# make_many DIR PREFIX COUNT: COUNT cgroups DIR/PREFIX-N, a thousand names a mkdir.
make_many() {
	local dir=$1 prefix=$2 count=$3 names=() i
	for ((i = 0; i < count; i++)); do
		names+=("$prefix-$i")
		if ((${#names[@]} == 1000)); then
			(cd "$dir" && mkdir -- "${names[@]}") || return 1
			names=()
		fi
	done
	((${#names[@]} == 0)) || (cd "$dir" && mkdir -- "${names[@]}")
}

remove_many() {
	(cd "$1" && find . -mindepth 1 -maxdepth 1 -type d -name "$2-*" -exec rmdir {} +)
}

# ---- no BTF
EMPTY=$E2E_TMP/empty-btf
NOT_BTF=$E2E_TMP/not-btf
: >"$EMPTY"
head -c 4096 /dev/urandom >"$NOT_BTF"
printf '\x00\x00' | dd of="$NOT_BTF" conv=notrunc status=none
run_once unshare -m sh -c "mount --bind '$EMPTY' /sys/kernel/btf/vmlinux && exec \"\$@\"" sh
empty_status=$RUN_STATUS
empty_log=$(grep -F "cannot load probes" "$RUN_LOG")
run_once unshare -m sh -c "mount --bind '$NOT_BTF' /sys/kernel/btf/vmlinux && exec \"\$@\"" sh
garbage_status=$RUN_STATUS
garbage_log=$(grep -F "cannot load probes" "$RUN_LOG")
((empty_status == 2 && garbage_status == 2)) &&
	[[ $empty_log == *"the kernel has no BTF: /sys/kernel/btf/vmlinux is empty"* &&
		$garbage_log == *"the kernel has no BTF: /sys/kernel/btf/vmlinux is not BTF"* ]]
check fault_no_btf "$?" "empty BTF file: status $empty_status, '${empty_log:-no such line}'; not BTF: status $garbage_status, '${garbage_log:-no such line}' (want 2 and the reason)"

# ---- no permission to load
run_once setpriv --no-new-privs --inh-caps=-all --bounding-set=-bpf,-perfmon,-net_admin,-sys_admin --
missing_log=$(grep -F "cannot load probes" "$RUN_LOG")
((RUN_STATUS == 2)) && [[ $missing_log == *"missing capabilities CAP_BPF"*"CAP_PERFMON"*"CAP_NET_ADMIN"* ]]
check fault_no_bpf_permission "$?" "root without CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN: status $RUN_STATUS (want 2), '${missing_log:-no such line}'"

# ---- the ring buffer overflows while the agent is stopped
if agent_or_report "fault_ring_overflow fault_map_full fault_cgroup_removed_exec" \
	"$AW_CONFIG" --tenant-expiry 1; then
	tenant_cgroup execer >/dev/null
	lost_before=$(metric_global abusewatch_events_lost_total)
	kill -STOP "$AGENT_PID"
	make_many "$T" ring 3000
	made=$?
	done_line=$("$AW_TOOLS/incg" "$T/execer" "$AW_TOOLS/execburst" 3000 "$AW_TOOLS/exit0")
	kill -CONT "$AGENT_PID"
	# And incg's own exec of execburst.
	execs_done=$(($(awk '{ print $2 }' <<<"$done_line") + 1))
	count=$(wait_tenants 30 3001)
	execs=$(wait_metric 10 abusewatch_tenant_execs_total execer '==' "$execs_done")
	lost=$(metric_global abusewatch_events_lost_total)
	kill -STOP "$AGENT_PID"
	remove_many "$T" ring
	kill -CONT "$AGENT_PID"
	after=$(wait_tenants 30 1)
	recovered=$(grep -c "cgroup events lost (the agent fell behind); scanned the cgroup tree again" "$AGENT_LOG")
	kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
	e2e_log "ring overflow: events lost $lost_before -> $lost; tenants $count; execs $execs of $execs_done"
	((made == 0 && count == 3001 && after == 1 && recovered >= 2)) && [[ $alive == yes ]] &&
		num_cmp "$lost" ">" "${lost_before:-0}" && num_cmp "$execs" "==" "${execs_done:-x}"
	check fault_ring_overflow "$?" "events lost ${lost_before:-?} -> ${lost:-?} (want more); tenants after 3,000 made while stopped: $count (want 3001); execs_total $execs, ran $execs_done with incg's (want equal); after removing them while stopped: $after (want 1); tree scanned again $recovered times (want >= 2); agent alive: $alive"

	# ---- the per-cgroup map full
	# Every agent on the host fills its map with the same cgroups: not
	# while another one runs (a soak or a benchmark would lose events).
	others=$(pgrep -x abusewatch | grep -vx "$AGENT_PID" | tr '\n' ' ')
	if [[ -n $others ]]; then
		skip fault_map_full "other agents run on this host (pids $others): filling the kernel's per-cgroup maps would make them lose events"
	else
		burner=$(tenant_cgroup mapburner)
		"$AW_TOOLS/incg" "$burner" "$AW_TOOLS/burn" 30 &
		BURN_PID=$!
		on_cleanup kill "$BURN_PID"
		wait_intervals 5
		lost_before=$(metric_global abusewatch_events_lost_total)
		if make_many "$AW_HOST_CG" hop 17000; then
			# One task through them all: each move makes the cgroup's entry.
			(cd "$AW_HOST_CG" && bash -c 'for d in hop-*; do echo $BASHPID >"$d/cgroup.procs"; done')
			wait_intervals 3
			lost=$(metric_global abusewatch_events_lost_total)
			kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
			remove_many "$AW_HOST_CG" hop
			# The agent frees their entries as it learns they are gone.
			for ((i = 0; i < 50; i++)); do
				settled=$(metric_global abusewatch_events_lost_total)
				wait_intervals 5
				[[ $(metric_global abusewatch_events_lost_total) == "$settled" ]] && break
			done
			kill "$BURN_PID" 2>/dev/null
			wait "$BURN_PID" 2>/dev/null
			cpu=$(cgroup_cpu_seconds "$burner")
			value=$(wait_metric 10 abusewatch_tenant_cpu_seconds_total mapburner '>=' "$cpu")
			# Room again: a new tenant is counted.
			after=$(tenant_cgroup afterfull)
			"$AW_TOOLS/incg" "$after" "$AW_TOOLS/burn" 1
			after_cpu=$(cgroup_cpu_seconds "$after")
			after_value=$(wait_metric 15 abusewatch_tenant_cpu_seconds_total afterfull '>=' "$after_cpu")
			e2e_log "map full: events lost $lost_before -> $lost; before $value/$cpu s; after $after_value/$after_cpu s"
			[[ $alive == yes ]] && num_cmp "$lost" ">" "$lost_before" && within_pct "$value" "$cpu" 1 &&
				within_pct "$after_value" "$after_cpu" 1
			check fault_map_full "$?" "events lost $lost_before -> $lost (want more); agent alive: $alive; tenant counted before: $value s, cpu.stat $cpu s; a tenant after: $after_value s, cpu.stat $after_cpu s (want within 1%)"
		else
			remove_many "$AW_HOST_CG" hop
			fail fault_map_full "cannot make 17,000 cgroups under $AW_HOST_CG"
		fi
	fi

	# ---- a cgroup removed while its tasks exec
	mover=$(tenant_cgroup mover job)
	"$AW_TOOLS/incg" "$mover/job" "$AW_TOOLS/execburst" 4000 "$AW_TOOLS/exit0" >"$E2E_TMP/mover.out" &
	burst=$!
	sleep 0.5
	# Moved up while they spawn: children made in between are caught by the next pass.
	for ((i = 0; i < 200; i++)); do
		while read -r pid; do
			echo "$pid" >"$mover/cgroup.procs" 2>/dev/null
		done <"$mover/job/cgroup.procs"
		rmdir "$mover/job" 2>/dev/null && break
	done
	removed_under=$([[ -d $mover/job ]] && echo no || echo yes)
	wait "$burst"
	execs_done=$(awk '{ print $2 }' "$E2E_TMP/mover.out")
	# And incg's own exec of execburst, in the tenant too.
	execs_done=$((${execs_done:-0} + 1))
	execs=$(wait_metric 10 abusewatch_tenant_execs_total mover '==' "$execs_done")
	# Killed and removed mid-burst, twenty times.
	for ((i = 0; i < 20; i++)); do
		killed=$(tenant_cgroup "killed-$i" job)
		"$AW_TOOLS/incg" "$killed/job" "$AW_TOOLS/execburst" 100000 "$AW_TOOLS/exit0" >/dev/null &
		burst=$!
		sleep 0.1
		echo 1 >"$killed/job/cgroup.kill"
		for ((j = 0; j < 50; j++)); do
			rmdir "$killed/job" 2>/dev/null && break
			sleep 0.02
		done
		wait "$burst" 2>/dev/null
	done
	wait_intervals 3
	kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
	killed_execs=$(metric abusewatch_tenant_execs_total killed-19)
	[[ $removed_under == yes && $alive == yes ]] && num_cmp "$execs" "==" "${execs_done:-x}" &&
		num_cmp "${killed_execs:-0}" ">" 0
	check fault_cgroup_removed_exec "$?" "job cgroup removed under its exec'ing tasks: $removed_under; execs_total $execs, ran ${execs_done:-?} with incg's (want equal); after 20 killed and removed mid-burst: agent alive $alive, the last one's execs_total ${killed_execs:-missing} (want > 0)"
	stop_agent
fi

# ---- 10,000 tenants at once
write_config thousands || {
	fail fault_ten_thousand "cannot write the configuration"
	e2e_finish
}
if agent_or_report fault_ten_thousand "$AW_CONFIG" --tenant-expiry 1; then
	busy=$(tenant_cgroup busy)
	"$AW_TOOLS/incg" "$busy" "$AW_TOOLS/burn" 120 0.5 &
	BUSY_PID=$!
	on_cleanup kill "$BUSY_PID"
	# The tenants of the cases above are still there.
	wait_intervals 5
	base=$(tenants_in_textfile)
	start=$(date +%s)
	if make_many "$T" many 10000; then
		count=$(wait_tenants 90 $((base + 10000)))
		appeared=$(($(date +%s) - start))
		kill "$BUSY_PID" 2>/dev/null
		wait "$BUSY_PID" 2>/dev/null
		cpu=$(cgroup_cpu_seconds "$busy")
		value=$(wait_metric 30 abusewatch_tenant_cpu_seconds_total busy '>=' "$cpu")
		remove_many "$T" many
		after=$(wait_tenants 60 "$base")
		kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
		e2e_log "10,000 tenants: listed after ${appeared}s; busy $value/$cpu s; back to $after"
		((count == base + 10000 && after == base)) && [[ $alive == yes ]] && within_pct "$value" "$cpu" 1
		check fault_ten_thousand "$?" "tenants listed: $count after ${appeared}s (want $base + 10000); busy tenant $value s, cpu.stat $cpu s (want within 1%); after removing them: $after (want $base); agent alive: $alive"
	else
		fail fault_ten_thousand "cannot make 10,000 cgroups under $T"
	fi
	stop_agent
fi
e2e_finish
