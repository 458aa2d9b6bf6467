#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The files of state_dir damaged while the agent was stopped:
# - fault_state_firing_garbage: firing.json replaced by random bytes;
# - fault_state_firing_truncated: firing.json (holding a firing overuse
#   alert) cut in half;
#   in both the agent starts clean, its log says the file is not a state
#   file, and the overuse alert of the tenant still burning fires again and
#   is saved in a valid firing.json;
# - fault_state_spool_damaged: the webhook's spool file (records of four
#   denied programs, spooled while the webhook answered 500) gets a line of
#   garbage in the middle and its last line cut short, and Alertmanager's
#   firing file is cut short too: the agent starts, logs the lines it
#   skipped and keeps each damaged file as FILE.corrupt (as it was), and
#   delivers every record whose line was whole, once the sinks answer;
# - fault_state_spool_garbage: the spool file is random bytes: kept as
#   .corrupt, logged, and new records are delivered as usual.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases fault_state_firing_garbage fault_state_firing_truncated fault_state_spool_damaged \
	fault_state_spool_garbage
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn linger || e2e_finish
e2e_require_commands python3 || e2e_finish
e2e_setup || e2e_finish

e2e_fake_miner || e2e_finish
T=$AW_TENANTS

start_fault_server ok || {
	fail_all "the test server did not start: $(tail -n 1 "$E2E_TMP/server.err")"
	e2e_finish
}

write_config state "plans:
  default:
    cpu: 0.1
    window: 2s
    for: 1s
    software: watching
software:
  watching:
    deny: [builtin:miners]
alerts:
  alertmanager: [\"http://127.0.0.1:$FS_PORT/am\"]
  webhook: {url: \"http://127.0.0.1:$FS_PORT/hook\"}" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
FIRING=$AW_DIR/state/firing.json
SPOOL=$AW_DIR/state/spool
export ABUSEWATCH_TEST_BACKOFF_MS=100

log_has() {
	grep -qF -- "$1" "$AGENT_LOG"
}

# valid_firing TENANT: firing.json is JSON and holds an alert of TENANT.
valid_firing() {
	python3 -c '
import json, sys
state = json.load(open(sys.argv[1]))
sys.exit(0 if any(a.get("tenant") == sys.argv[2] for a in state["alerts"]) else 1)' "$FIRING" "$1" 2>/dev/null
}

wait_valid_firing() {
	local i
	for ((i = 0; i < 100; i++)); do
		valid_firing "$1" && return 0
		sleep 0.1
	done
	return 1
}

# ---- firing.json: garbage, then cut in half
burner=$(tenant_cgroup burner) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
"$AW_TOOLS/incg" "$burner" "$AW_TOOLS/burn" 120 &
BURN_PID=$!
on_cleanup kill "$BURN_PID"

head -c 3000 /dev/urandom >"$FIRING"
if agent_or_report "fault_state_firing_garbage fault_state_firing_truncated" "$AW_CONFIG"; then
	said=no
	log_has "firing state: $FIRING: not a state file" && said=yes
	wait_valid_firing burner
	saved=$?
	kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
	stop_agent
	[[ $said == yes && $alive == yes ]] && ((saved == 0))
	check fault_state_firing_garbage "$?" "firing.json of random bytes: logged as not a state file: $said; agent running: $alive; a valid firing.json with the burner's alert: $( ((saved == 0)) && echo yes || echo no)"

	# Saved at the stop with the alert firing; now cut in half.
	size=$(stat -c %s "$FIRING")
	truncate -s $((size / 2)) "$FIRING"
	before=$(events_count "$AW_EVENTS" tenant=burner state=firing)
	if agent_or_report fault_state_firing_truncated "$AW_CONFIG"; then
		said=no
		log_has "firing state: $FIRING: not a state file" && said=yes
		wait_valid_firing burner
		saved=$?
		# Started clean: the alert fires anew.
		wait_events 10 "$AW_EVENTS" tenant=burner state=firing >/dev/null
		after=$(events_count "$AW_EVENTS" tenant=burner state=firing)
		kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
		stop_agent
		[[ $said == yes && $alive == yes ]] && ((saved == 0 && after == before + 1))
		check fault_state_firing_truncated "$?" "firing.json cut from $size to $((size / 2)) bytes: logged as not a state file: $said; agent running: $alive; fired again: $before -> $after firing records; valid firing.json again: $( ((saved == 0)) && echo yes || echo no)"
	fi
fi
kill "$BURN_PID" 2>/dev/null
wait "$BURN_PID" 2>/dev/null

# ---- the spool damaged
echo 500 >"$FS_MODE"
if agent_or_report "fault_state_spool_damaged fault_state_spool_garbage" "$AW_CONFIG"; then
	for i in 1 2 3 4; do
		tenant_cgroup "spooled-$i" >/dev/null && "$AW_TOOLS/incg" "$T/spooled-$i" "$BIN/xmrig" 0
	done
	# Firing and resolved (window 2 s): 8 records each for the sinks, and
	# the resolution of the burner's overuse, loaded from firing.json.
	for ((i = 0; i < 100; i++)); do
		(($(events_count "$AW_EVENTS" state=resolved) >= 4)) && break
		sleep 0.1
	done
	wait_intervals 5
	stop_agent
	queue=$(ls "$SPOOL"/webhook-*.queue 2>/dev/null | head -n 1)
	firing=$(ls "$SPOOL"/alertmanager-*.firing 2>/dev/null | head -n 1)
	lines=$(grep -c . "$queue" 2>/dev/null)
	# Garbage after the third line, the last line cut short; the firing file cut short.
	python3 - "$queue" "$firing" <<'EOF'
import sys
queue, firing = sys.argv[1], sys.argv[2]
lines = open(queue, "rb").read().split(b"\n")[:-1]
lines.insert(3, b"\x00\x01garbage\xff{\"record\":")
lines[-1] = lines[-1][: len(lines[-1]) // 2]
open(queue, "wb").write(b"\n".join(lines))
data = open(firing, "rb").read()
open(firing, "wb").write(data[: len(data) - 20])
EOF
	cp "$queue" "$E2E_TMP/damaged.queue"
	# What a careful reader can still take from it: the whole record lines.
	intact=$(python3 - "$queue" <<'EOF'
import json, sys
good = []
for line in open(sys.argv[1], "rb").read().split(b"\n"):
    try:
        good.append(json.dumps(json.loads(line)["record"], sort_keys=True))
    except (ValueError, KeyError, TypeError):
        pass
print(len(good))
EOF
)
	echo ok >"$FS_MODE"
	: >"$FS_OUT"
	if agent_or_report fault_state_spool_damaged "$AW_CONFIG"; then
		for ((i = 0; i < 100; i++)); do
			hooks=$(grep -c '"kind": "webhook"' "$FS_OUT")
			((hooks >= intact)) && break
			sleep 0.1
		done
		wait_intervals 5
		hooks=$(grep -c '"kind": "webhook"' "$FS_OUT")
		delivered=$(python3 - "$E2E_TMP/damaged.queue" "$FS_OUT" <<'EOF'
import json, sys
good = []
for line in open(sys.argv[1], "rb").read().split(b"\n"):
    try:
        good.append(json.loads(line)["record"])
    except (ValueError, KeyError, TypeError):
        pass
got = [json.loads(l)["body"] for l in open(sys.argv[2]) if json.loads(l)["kind"] == "webhook"]
print("ok" if sorted(map(json.dumps, good)) == sorted(map(json.dumps, got)) else "differs")
EOF
)
		same_aside=no
		cmp -s "$queue.corrupt" "$E2E_TMP/damaged.queue" && same_aside=yes
		firing_aside=no
		[[ -s $firing.corrupt ]] && firing_aside=yes
		said=$(grep -c "line(s) are not records and are skipped" "$AGENT_LOG")
		kill -0 "$AGENT_PID" 2>/dev/null && alive=yes || alive=no
		stop_agent
		[[ $alive == yes && $delivered == ok && $same_aside == yes && $firing_aside == yes ]] &&
			((lines >= 8 && intact == lines - 1 && hooks == intact && said == 2))
		check fault_state_spool_damaged "$?" "spool of $lines records (want 8 or more), $intact whole after the damage (want one less); delivered to the webhook: $hooks, the whole ones exactly: $delivered; damaged queue kept as .corrupt: $same_aside, firing file: $firing_aside; logged: $said files (want 2); agent running: $alive"

		# ---- random bytes
		head -c 5000 /dev/urandom >"$queue"
		: >"$FS_OUT"
		if agent_or_report fault_state_spool_garbage "$AW_CONFIG"; then
			tenant_cgroup after-garbage >/dev/null &&
				"$AW_TOOLS/incg" "$T/after-garbage" "$BIN/xmrig" 0
			for ((i = 0; i < 100; i++)); do
				grep -q '"after-garbage"' "$FS_OUT" && break
				sleep 0.1
			done
			got=$(grep -c '"after-garbage"' "$FS_OUT")
			said=$(grep -c "line(s) are not records and are skipped, 0 kept" "$AGENT_LOG")
			aside=no
			[[ -s $queue.corrupt ]] && aside=yes
			stop_agent
			((got >= 1 && said == 1)) && [[ $aside == yes ]]
			check fault_state_spool_garbage "$?" "a spool file of random bytes: logged $said (want 1), kept as .corrupt: $aside; a new record delivered: $got (want >= 1)"
		fi
	fi
fi
e2e_finish
