#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The textfile, the events log and state_dir on a disk that fills up or
# turns read-only under the running agent (small tmpfs mounts made here).
# Meanwhile a tenant burns a core, over its plan (an overuse alert, which
# firing.json keeps), three tenants run a denied program (three alert
# records at once) and the webhook answers 500 (every record waits in the
# spool).
# - fault_disk_full: the mount is filled to the last byte;
# - fault_disk_readonly: the mount of the textfile and state_dir is
#   remounted read-only while the agent runs, and the events log's mount
#   is read-only from the start (a file open for writing would keep a
#   read-only remount from happening: EBUSY);
# in both: the agent goes on; each of the textfile, the events log,
# firing.json, firing-software.json and the spool logs its error once, not
# every interval; once
# space (or writing) is back, every record is in the events log, whole
# and once, the textfile is written again with the burner's CPU within
# 1% of cpu.stat (counting went on), firing.json holds the overuse alert,
# and when the webhook answers again it gets every record.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases fault_disk_full fault_disk_readonly
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn linger || e2e_finish
e2e_require_commands python3 || e2e_finish
e2e_setup || e2e_finish

e2e_fake_miner || e2e_finish
T=$AW_TENANTS
MOUNTS=()

# mount_small DIR SIZE: a tmpfs of SIZE at DIR, unmounted at exit.
mount_small() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0755" abusewatch-e2e-faults "$1" || return 1
	MOUNTS+=("$1")
	on_cleanup umount -l "'$1'"
}

# remount DIR ro|rw: retried while a write is under way (EBUSY).
remount() {
	local i
	for ((i = 0; i < 50; i++)); do
		mount -o "remount,$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# fill DIR: writes until the file system has no byte left.
fill() {
	dd if=/dev/zero of="$1/fill" bs=4k status=none 2>/dev/null
	# The last blocks: a byte at a time is not needed on tmpfs (page-sized).
	[[ $(stat -f -c %a "$1") == 0 ]]
}

# The webhook: the fault test server, answering 500 until told otherwise.
start_fault_server 500 || {
	fail_all "the test server did not start: $(tail -n 1 "$E2E_TMP/server.err")"
	e2e_finish
}

# write_fault_config NAME TEXTFILE_DIR EVENTS_DIR STATE_DIR: the plan and
# sinks of this test, with those directories.
write_fault_config() {
	write_config "$1" "plans:
  default:
    cpu: 0.1
    window: 2s
    for: 1s
    software: watching
software:
  watching:
    deny: [builtin:miners]
alerts:
  alertmanager: []
  webhook: {url: \"http://127.0.0.1:$FS_PORT/hook\"}" || return 1
	AW_TEXTFILE=$2/abusewatch.prom
	AW_EVENTS=$3/events.jsonl
	mkdir -p "$2" "$3" "$4" &&
		sed -i -e "s|^  textfile: .*|  textfile: \"$AW_TEXTFILE\"|" \
			-e "s|^  events_log: .*|  events_log: \"$AW_EVENTS\"|" \
			-e "s|^  state_dir: .*|  state_dir: \"$4\"|" "$AW_CONFIG"
}

# log_count TEXT: lines of the agent's log holding TEXT.
log_count() {
	grep -cF -- "$1" "$AGENT_LOG"
}

# records_check PREFIX: "ok" when the events log holds, each once and each
# line whole, a firing record for PREFIX-1..3 (name) and for PREFIX-burner
# (cpu overuse); else what is wrong.
records_check() {
	python3 - "$AW_EVENTS" "$1" <<'EOF'
import json, sys
path, prefix = sys.argv[1], sys.argv[2]
want = {(prefix + "-%d" % i, "name") for i in (1, 2, 3)} | {(prefix + "-burner", "plan")}
seen, bad = [], 0
for line in open(path, "rb"):
    try:
        r = json.loads(line)
    except ValueError:
        bad += 1
        continue
    if r.get("state") == "firing":
        seen.append((r.get("tenant"), r.get("rule")))
missing = sorted(want - set(seen))
twice = sorted(k for k in want if seen.count(k) > 1)
if not missing and not twice and not bad:
    print("ok")
else:
    print("missing %s, twice %s, broken lines %d" % (missing, twice, bad))
EOF
}

# delivered: "ok" when every record of the events log reached the webhook.
delivered() {
	python3 - "$AW_EVENTS" "$FS_OUT" <<'EOF'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
hooks = [json.loads(line)["body"] for line in open(sys.argv[2])]
missing = [r for r in records if r not in hooks]
print("ok" if not missing else "%d of %d records missing" % (len(missing), len(records)))
EOF
}

# fault_case CASE EARLY BREAK MEND TEXTFILE_DIR EVENTS_DIR STATE_DIR: breaks
# the disk with the command EARLY, runs the agent, breaks it more with
# BREAK, makes the alerts, mends it with MEND and checks.
fault_case() {
	local case=$1 early_cmd=$2 break_cmd=$3 mend_cmd=$4 burner cpu value result delivered_result i
	local textfile_errors events_errors firing_errors software_errors spool_errors firing_saved alive
	echo 500 >"$FS_MODE"
	: >"$FS_OUT"
	shift 4
	write_fault_config "$case" "$@" || {
		fail "$case" "cannot write the configuration"
		return
	}
	eval "$early_cmd" || {
		fail "$case" "cannot break the disk before the start: $early_cmd"
		return
	}
	agent_or_report "$case" "$AW_CONFIG" || return
	eval "$break_cmd" || {
		fail "$case" "cannot break the disk: $break_cmd"
		stop_agent
		return
	}
	burner=$(tenant_cgroup "$case-burner")
	"$AW_TOOLS/incg" "$burner" "$AW_TOOLS/burn" 60 &
	BURN_PID=$!
	on_cleanup kill "$BURN_PID"
	for i in 1 2 3; do
		tenant_cgroup "$case-$i" >/dev/null && "$AW_TOOLS/incg" "$T/$case-$i" "$BIN/xmrig" 0
	done
	# The overuse alert fires after window and for (3 s): many intervals
	# of failed writes before and after.
	sleep 6
	kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
	eval "$mend_cmd"
	# Still firing: firing.json is saved at the next interval.
	for ((i = 0; i < 50; i++)); do
		firing_saved=$(grep -c "\"$case-burner\"" "$3/firing.json" 2>/dev/null)
		((firing_saved > 0)) && break
		sleep 0.1
	done
	kill "$BURN_PID" 2>/dev/null
	wait "$BURN_PID" 2>/dev/null
	cpu=$(cgroup_cpu_seconds "$burner")
	for ((i = 0; i < 50; i++)); do
		result=$(records_check "$case")
		value=$(metric abusewatch_tenant_cpu_seconds_total "$case-burner")
		[[ $result == ok ]] && within_pct "$value" "$cpu" 1 && break
		sleep 0.2
	done
	echo ok >"$FS_MODE"
	for ((i = 0; i < 100; i++)); do
		delivered_result=$(delivered)
		[[ $delivered_result == ok ]] && break
		sleep 0.2
	done
	textfile_errors=$(log_count "cannot write textfile")
	events_errors=$(grep -cE "events log .* failed: " "$AGENT_LOG")
	# One line per state file: firing.json (the overuse) and firing-software.json (the denied runs).
	firing_errors=$(log_count "firing state: cannot save $3/firing.json:")
	software_errors=$(log_count "firing state: cannot save $3/firing-software.json:")
	spool_errors=$(log_count "records are kept in memory and written once it can be")
	e2e_log "$case: agent log: $(grep -E 'error|warn' "$AGENT_LOG" | cut -c 26- | sort | uniq -c | tr '\n' ';')"
	[[ $alive == yes && $result == ok && $delivered_result == ok ]] && within_pct "$value" "$cpu" 1 &&
		((firing_saved > 0 && textfile_errors == 1 && events_errors == 1 && firing_errors == 1 &&
			software_errors == 1 && spool_errors == 1))
	check "$case" "$?" "agent alive through the fault: $alive; events log once mended: $result; burner cpu $value s, cpu.stat $cpu s (want within 1%); firing.json holds the overuse: $firing_saved; delivered to the webhook once it answered: $delivered_result; errors logged (want 1 each): textfile $textfile_errors, events log $events_errors, firing.json $firing_errors, firing-software.json $software_errors, spool $spool_errors"
	stop_agent
}

# ---- full
FULL=$E2E_TMP/full
if mount_small "$FULL" 1m; then
	fault_case fault_disk_full : "fill '$FULL'" "rm -f '$FULL/fill'" \
		"$FULL/textfile" "$FULL/log" "$FULL/state"
else
	fail fault_disk_full "cannot mount a tmpfs at $FULL"
fi

# ---- read-only
RO=$E2E_TMP/ro
ROLOG=$E2E_TMP/rolog
if mount_small "$RO" 1m && mount_small "$ROLOG" 1m; then
	mkdir -p "$ROLOG/log"
	mkdir -p "$RO/textfile" "$RO/state"
	fault_case fault_disk_readonly "remount '$ROLOG' ro" "remount '$RO' ro" \
		"remount '$RO' rw && remount '$ROLOG' rw" "$RO/textfile" "$ROLOG/log" "$RO/state"
else
	fail fault_disk_readonly "cannot mount a tmpfs at $RO and $ROLOG"
fi
e2e_finish
