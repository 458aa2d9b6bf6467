#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Restarts lose no usage. The agent runs with tenant "busy" (children keep,
# old) and tenant "hog" (four sleeping tasks on a plan of two, so that an
# overuse alert fires without burning a core). It is stopped, first with
# SIGTERM, then with kill -9; while it is down tenant busy burns CPU,
# writes with O_DIRECT (and fsync), sends over loopback TCP, runs a miner
# by name, and a child cgroup is made, loaded and removed (and the old one
# loaded and removed). After each restart:
# - busy's CPU equals its cgroup's cpu.stat (dead children included)
#   within 0.1%; its disk bytes grew by what dd wrote (io.stat where the
#   io controller is on v2), its transmit bytes by what was sent (plus
#   headers, < 5%);
# - no counter of any tenant went back, and abusewatch_alerts_total went on;
# - hog's alert kept firing: over_limit stays 1, one firing record and no
#   resolved one in the events log, the same alert active in Alertmanager;
# - the miner run while no agent ran is alerted (its event waited in the
#   pinned ring buffer).
# Then new programs on the same map layout (an upgrade: the pinned stamp's
# program digest altered with bpftool) keep the counts, the cgroup links
# taking the new programs and the tracing links made anew, the link of a
# program the new version lacks removed; a changed map
# layout (its layout digest altered) starts clean and says so, and so does
# a damaged state_dir/counters.state; and `abusewatch unpin` removes the
# pins and detaches the probes.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases restart_term_cpu restart_term_disk restart_term_net restart_term_removed_cgroups \
	restart_term_monotonic restart_term_alert restart_queued_events \
	restart_kill9_cpu restart_kill9_disk restart_kill9_net restart_kill9_monotonic restart_kill9_alert \
	restart_new_programs restart_layout_changed restart_state_damaged restart_unpin
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn linger tcpsink tcpsend || e2e_finish
e2e_setup || e2e_finish

SIZE_DISK=$((16 * 1024 * 1024))
SIZE_NET=$((8 * 1024 * 1024))

disk_backed_dir restart && DATA=$DISK_BACKED_DIR || {
	skip_all "no disk-backed directory ($E2E_REPO/build, /var/tmp)"
	e2e_finish
}
BIN=$E2E_TMP/bin
mkdir -p "$BIN" && cp "$AW_TOOLS/linger" "$BIN/xmrig" || {
	fail_all "cannot copy linger"
	e2e_finish
}
alertmanager_or_none
export ABUSEWATCH_TEST_RESEND_MS=500

AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/tenants/hog/**\"
    tenant: hog
    plan: small" write_config restart "plans:
  default:
    window: 2s
    software: standard
  small:
    processes: 2
    window: 2s
    for: 1s
    hysteresis: 0.9
software:
  standard:
    deny: [builtin:miners]
alerts:
  $AM_CONFIG" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
BUSY=$(tenant_cgroup busy keep old) && HOG=$(tenant_cgroup hog) && QUIET=$(tenant_cgroup quiet) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
cat "$AW_TOOLS/incg" "$AW_TOOLS/burn" "$AW_TOOLS/tcpsend" "$(command -v dd)" >/dev/null

# snapshot FILE: every counter of the textfile, the tenants' and the agent's
# own, one "series value" a line.
snapshot() {
	grep -E '^abusewatch_(tenant_[a-z_]+_total|alerts_total|alerts_suppressed_total)\{|^abusewatch_events_lost_total ' \
		"$AW_TEXTFILE" | sort >"$1"
}

# went_back BEFORE AFTER: the series of BEFORE that are missing or lower in AFTER.
went_back() {
	awk 'NR == FNR { before[$1] = $2; next } { after[$1] = $2 }
		END { for (s in before) if (!(s in after) || after[s] + 0 < before[s] + 0)
			printf "%s %s -> %s; ", s, before[s], (s in after ? after[s] : "missing") }' "$1" "$2"
}

# io_written CGROUP: wbytes of io.stat where the io controller is on v2, else nothing.
io_written() {
	[[ -s $1/io.stat ]] || return 1
	awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^wbytes=/) { sub("wbytes=", "", $i); sum += $i } }
		END { print sum + 0 }' "$1/io.stat"
}

# load_while_down ROUND: what tenant busy does while no agent runs; sets SENT.
load_while_down() {
	local round=$1 sink_pid
	SENT=""
	"$AW_TOOLS/incg" "$BUSY/keep" "$AW_TOOLS/burn" 0.5
	"$AW_TOOLS/incg" "$BUSY/keep" dd if=/dev/zero of="$DATA/f$round" bs=1M count=16 oflag=direct \
		conv=fsync 2>/dev/null
	if start_listener "sink$round" tcpsink PORT 30; then
		sink_pid=$LISTEN_PID
		SENT=$("$AW_TOOLS/incg" "$BUSY/keep" "$AW_TOOLS/tcpsend" "$LISTEN_PORT" "$SIZE_NET")
		wait "$sink_pid"
	fi
	# A child made, loaded and removed while down: known only from the queued events.
	mkdir "$BUSY/new$round" && "$AW_TOOLS/incg" "$BUSY/new$round" "$AW_TOOLS/burn" 0.2
	rmdir "$BUSY/new$round"
}

# agent_value FAMILY TENANT: the textfile's value, or "missing".
agent_value() {
	metric "abusewatch_tenant_$1" "$2" || echo missing
}

# check_usage PREFIX BEFORE_FILE: the CPU, disk and network cases after a restart.
check_usage() {
	local prefix=$1 before=$2 cpu truth written_before written io delta tx_before tx
	cpu=$(agent_value cpu_seconds_total busy)
	truth=$(cgroup_cpu_seconds "$BUSY")
	within_pct "$cpu" "$truth" 0.1
	check "${prefix}_cpu" "$?" "busy: cpu_seconds_total $cpu, cpu.stat $truth (want within 0.1%)"

	written_before=$(awk '/^abusewatch_tenant_disk_written_bytes_total\{tenant="busy"/ { print $2 }' "$before")
	written=$(agent_value disk_written_bytes_total busy)
	if io=$(io_written "$BUSY"); then
		within_pct "$written" "$io" 1
		check "${prefix}_disk" "$?" "busy: disk_written_bytes_total $written, io.stat wbytes $io (want within 1%)"
	else
		delta=$(awk -v a="$written" -v b="${written_before:-0}" 'BEGIN { print a - b }')
		num_cmp "$delta" ">=" "$SIZE_DISK" && within_pct "$delta" "$SIZE_DISK" 5
		check "${prefix}_disk" "$?" "busy: disk_written_bytes_total grew by $delta while the agent was down ($written_before -> $written), dd wrote $SIZE_DISK with O_DIRECT (want that to +5%; no io.stat on v2 here)"
	fi

	tx_before=$(awk '/^abusewatch_tenant_network_transmit_bytes_total\{tenant="busy"/ { print $2 }' "$before")
	tx=$(agent_value network_transmit_bytes_total busy)
	delta=$(awk -v a="$tx" -v b="${tx_before:-0}" 'BEGIN { print a - b }')
	[[ $SENT == "$SIZE_NET" ]] && num_cmp "$delta" ">=" "$SIZE_NET" && within_pct "$delta" "$SIZE_NET" 5
	check "${prefix}_net" "$?" "busy: network_transmit_bytes_total grew by $delta while the agent was down ($tx_before -> $tx); tcpsend sent ${SENT:-nothing} of $SIZE_NET (want that to +5%, headers)"
}

# check_alert CASE: hog's processes alert fired once, never resolved, and is still on.
check_alert() {
	local case=$1 over firing resolved am_state=""
	over=$(awk '/^abusewatch_tenant_over_limit\{tenant="hog",plan="small",resource="processes"\}/ { print $2 }' "$AW_TEXTFILE")
	firing=$(events_count "$AW_EVENTS" tenant=hog kind=overuse state=firing)
	resolved=$(events_count "$AW_EVENTS" tenant=hog kind=overuse state=resolved)
	if [[ -n $AM ]]; then
		am_state=$(am_alert alertname=AbusewatchOveruse tenant=hog resource=processes |
			python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["status"]["state"], a["startsAt"])' 2>/dev/null)
		[[ ${am_state%% *} == active && ${am_state#* } == "$AM_STARTS" ]] || am_state="bad: ${am_state:-none} (want active since $AM_STARTS)"
	fi
	[[ $over == 1 && $firing == 1 && $resolved == 0 && $am_state != bad* ]]
	check "$case" "$?" "hog/processes: over_limit ${over:-missing} (want 1), firing records $firing (want 1), resolved $resolved (want 0), Alertmanager ${am_state:-not checked}"
}

# alter_stamp OFFSET: flips a byte of the pinned stamp (pins.c: a 24-byte
# magic, then the layout digest, then the programs' digest, 32 bytes each),
# as a new version of the agent would find it. Status 1 when it cannot.
alter_stamp() {
	local value
	command -v bpftool >/dev/null && [[ -e $PIN_DIR/stamp ]] || return 1
	value=$(bpftool -j map lookup pinned "$PIN_DIR/stamp" key 0 0 0 0 |
		python3 -c 'import json, sys
v = [int(b, 16) for b in json.load(sys.stdin)["value"]]
v[int(sys.argv[1])] ^= 0xff
print(" ".join(str(b) for b in v))' "$1") || return 1
	# shellcheck disable=SC2086 # one argument per byte
	bpftool map update pinned "$PIN_DIR/stamp" key 0 0 0 0 value $value
}

# link_of NAME: "LINK_ID PROG_ID" of the pinned link NAME, or nothing.
link_of() {
	bpftool -j link show pinned "$PIN_DIR/$1" 2>/dev/null |
		python3 -c 'import json, sys; l = json.load(sys.stdin); print(l["id"], l["prog_id"])' 2>/dev/null
}

# ---- first run: load, and hog's alert fires
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish
PIN_DIR=$(grep -o 'probes pinned in [^:]*' "$AGENT_LOG" | head -n 1 | cut -d' ' -f4)
for ((i = 0; i < 4; i++)); do
	"$AW_TOOLS/incg" "$HOG" "$AW_TOOLS/linger" 300 &
done
"$AW_TOOLS/incg" "$BUSY/keep" "$AW_TOOLS/burn" 0.3
"$AW_TOOLS/incg" "$BUSY/old" "$AW_TOOLS/burn" 0.2
"$AW_TOOLS/incg" "$QUIET" true
if ! wait_events 15 "$AW_EVENTS" tenant=hog kind=overuse state=firing >/dev/null; then
	fail_all "hog's processes alert did not fire within 15 s: $(agent_last_log)"
	e2e_finish
fi
AM_STARTS=""
if [[ -n $AM ]]; then
	for ((i = 0; i < 50; i++)); do
		AM_STARTS=$(am_alert alertname=AbusewatchOveruse tenant=hog resource=processes |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["startsAt"])' 2>/dev/null) && break
		sleep 0.2
	done
	[[ -n $AM_STARTS ]] || { e2e_log "hog's alert never reached Alertmanager"; AM=""; }
fi
wait_intervals 3
stop_agent
snapshot "$E2E_TMP/before-term"
[[ -n $PIN_DIR && -e $PIN_DIR/stamp ]] || e2e_log "no pins found after SIGTERM (dir ${PIN_DIR:-unknown})"

# ---- SIGTERM, load while down, restart
load_while_down 1
"$AW_TOOLS/incg" "$BUSY/keep" "$BIN/xmrig" 0
"$AW_TOOLS/incg" "$BUSY/old" "$AW_TOOLS/burn" 0.2
rmdir "$BUSY/old"
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish
wait_intervals 5
snapshot "$E2E_TMP/after-term"
check_usage restart_term "$E2E_TMP/before-term"
grep -q 'restart: .* cgroups were removed while the agent was stopped' "$AGENT_LOG" &&
	grep -q 'counted while the agent was stopped; counters go on' "$AGENT_LOG"
check restart_term_removed_cgroups "$?" "the log does not say that the probes went on and removed cgroups were counted: $(grep restart: "$AGENT_LOG" | tr '\n' ' ')"
back=$(went_back "$E2E_TMP/before-term" "$E2E_TMP/after-term")
[[ -z $back ]]
check restart_term_monotonic "$?" "counters that went back or vanished across the restart: $back"
sleep 1
check_alert restart_term_alert
waited=$(wait_events 10 "$AW_EVENTS" tenant=busy kind=unauthorized_software state=firing)
check restart_queued_events "$?" "no unauthorized_software record for tenant busy's xmrig run while the agent was down (waited ${waited:-10} s): $(agent_last_log)"

# ---- kill -9, load while down, restart
wait_intervals 3
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=""
snapshot "$E2E_TMP/before-kill"
load_while_down 2
agent_or_report "restart_kill9_cpu restart_kill9_disk restart_kill9_net restart_kill9_monotonic restart_kill9_alert restart_new_programs restart_layout_changed restart_state_damaged restart_unpin" "$AW_CONFIG" || e2e_finish
wait_intervals 5
check_usage restart_kill9 "$E2E_TMP/before-kill"
snapshot "$E2E_TMP/after-kill"
back=$(went_back "$E2E_TMP/before-kill" "$E2E_TMP/after-kill")
[[ -z $back ]]
check restart_kill9_monotonic "$?" "counters that went back or vanished across kill -9: $back"
sleep 1
check_alert restart_kill9_alert

# ---- an upgrade that kept the map layout: the programs' digest altered
stop_agent
egress_before=$(link_of net-link-count_egress)
switch_before=$(link_of usage-link-account_cpu)
if ! alter_stamp 56; then
	skip restart_new_programs "cannot alter the pinned stamp (bpftool, $PIN_DIR/stamp)"
else
	# A program of the old version that the new one has not: its link must go.
	bpftool link pin id "${egress_before%% *}" "$PIN_DIR/net-link-retired_program" 2>/dev/null
	"$AW_TOOLS/incg" "$BUSY/keep" "$AW_TOOLS/burn" 0.3
	agent_or_report "restart_new_programs restart_layout_changed restart_state_damaged restart_unpin" "$AW_CONFIG" || e2e_finish
	wait_intervals 5
	egress_after=$(link_of net-link-count_egress)
	switch_after=$(link_of usage-link-account_cpu)
	cpu=$(agent_value cpu_seconds_total busy)
	truth=$(cgroup_cpu_seconds "$BUSY")
	grep -q 'restart: new probe programs on the maps pinned in' "$AGENT_LOG" &&
		within_pct "$cpu" "$truth" 0.1 && [[ -n $egress_before && -n $switch_before &&
		${egress_after%% *} == "${egress_before%% *}" && ${egress_after#* } != "${egress_before#* }" &&
		-n $switch_after && ${switch_after%% *} != "${switch_before%% *}" &&
		! -e $PIN_DIR/net-link-retired_program ]]
	check restart_new_programs "$?" "new programs: busy cpu_seconds_total $cpu, cpu.stat $truth (want within 0.1%); egress link (id prog) $egress_before -> $egress_after (want the same link, a new program); sched_switch link $switch_before -> $switch_after (want a new one); a retired program's link $([[ -e $PIN_DIR/net-link-retired_program ]] && echo still pinned || echo removed); log: $(grep restart: "$AGENT_LOG" | tr '\n' ' ')"
fi

# ---- a changed map layout: the layout digest altered
stop_agent
cpu_before=$(agent_value cpu_seconds_total busy)
if ! alter_stamp 24; then
	skip restart_layout_changed "cannot alter the pinned stamp (bpftool, $PIN_DIR/stamp)"
else
	agent_or_report "restart_layout_changed restart_state_damaged restart_unpin" "$AW_CONFIG" || e2e_finish
	wait_intervals 3
	cpu_after=$(agent_value cpu_seconds_total busy)
	grep -q 'restart: the layout of the probes.* maps changed (an upgrade): the probes start clean' "$AGENT_LOG" &&
		num_cmp "$cpu_after" "<" "$(awk -v c="$cpu_before" 'BEGIN { print c / 2 }')" && [[ -e $PIN_DIR/stamp ]]
	check restart_layout_changed "$?" "after a changed layout: busy's cpu_seconds_total $cpu_before -> $cpu_after (want from zero), log: $(grep restart: "$AGENT_LOG" | tr '\n' ' ')"
fi

# ---- a damaged restart state: cut short
stop_agent
STATE=$AW_DIR/state/counters.state
"$AW_TOOLS/incg" "$BUSY/keep" "$AW_TOOLS/burn" 0.2
if [[ -s $STATE ]] && truncate -s $(($(stat -c %s "$STATE") / 2)) "$STATE"; then
	agent_or_report "restart_state_damaged restart_unpin" "$AW_CONFIG" || e2e_finish
	wait_intervals 3
	cpu_after=$(agent_value cpu_seconds_total busy)
	grep -q "restart: $STATE is no valid restart state (.*cut short.*): counters start from zero" "$AGENT_LOG" &&
		grep -q 'restart: state_dir holds no restart state for the pinned probes: the probes start clean' "$AGENT_LOG" &&
		num_cmp "$cpu_after" "<" 0.1
	check restart_state_damaged "$?" "a counters.state cut short: busy's cpu_seconds_total $cpu_after (want from zero), log: $(grep restart "$AGENT_LOG" | tr '\n' ' ')"
else
	fail restart_state_damaged "no $STATE to damage"
fi

# ---- unpin: the pins go, and the probes with them
stop_agent
link_id=$(link_of usage-link-account_cpu)
link_id=${link_id%% *}
out=$("$AW_BIN" unpin -c "$AW_CONFIG")
status=$?
gone=yes
[[ -n $link_id ]] && bpftool link show id "$link_id" >/dev/null 2>&1 && gone=no
((status == 0)) && [[ $out == "removed $PIN_DIR" && ! -e $PIN_DIR && -n $link_id && $gone == yes ]]
check restart_unpin "$?" "unpin: status $status, said \"$out\", $PIN_DIR $([[ -e $PIN_DIR ]] && echo still there || echo gone), sched_switch link ${link_id:-not found} detached: $gone"
e2e_finish
