#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Alertmanager and the webhook failing in every way a peer can, while
# tenants run denied programs (each exec an alert record at once). One
# test server (tests/tools/fault_server.py) plays both sinks and fails on
# demand; between faults it answers 200 and records what it got.
# - fault_sink_500, fault_sink_hang (reads the request, never answers),
#   fault_sink_mute (accepts the connection, never reads),
#   fault_sink_slow (answers after 8 s, past the request timeout): while it
#   fails, records still reach the events log at once; once it answers
#   again, every record of the events log reaches the webhook exactly
#   (the body is the record) and Alertmanager (firing ones with endsAt
#   ahead, resolved ones with endsAt = their time); each outage is logged
#   once per sink, not at every retry;
# - fault_sink_not_blocking: during the hangs the agent's loop is not held:
#   the textfile is rewritten every interval and a burning tenant's CPU
#   goes on rising in it;
# - fault_sink_spool_overflow: with the queue bounded to 3 records
#   (ABUSEWATCH_TEST_QUEUE_LIMIT) and the sinks failing, the records past 3
#   are dropped, counted in abusewatch_alerts_dropped_total{sink} and
#   logged once per sink; the 3 are delivered when the sinks are back.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases fault_sink_500 fault_sink_hang fault_sink_mute fault_sink_slow fault_sink_not_blocking \
	fault_sink_spool_overflow
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn linger || e2e_finish
e2e_require_commands python3 || e2e_finish
e2e_setup || e2e_finish

e2e_fake_miner || e2e_finish
T=$AW_TENANTS

set_mode() {
	echo "$1" >"$FS_MODE.tmp" && mv "$FS_MODE.tmp" "$FS_MODE"
}

# exec_miners PREFIX N: a denied program, once, in each of N new tenants.
exec_miners() {
	local i
	for ((i = 1; i <= $2; i++)); do
		tenant_cgroup "$1-$i" >/dev/null && "$AW_TOOLS/incg" "$T/$1-$i" "$BIN/xmrig" 0
	done
}

# firing_after PREFIX N START: the seconds from START (epoch) to the last
# of the firing records of the N tenants (their "time", as the agent wrote
# it); status 1 when one is missing.
firing_after() {
	python3 - "$AW_EVENTS" "$@" <<'EOF'
import datetime, json, sys
path, prefix, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
latest = {}
for line in open(path):
    r = json.loads(line)
    if r["state"] == "firing" and r["tenant"].startswith(prefix + "-"):
        at = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        latest[r["tenant"]] = at.replace(tzinfo=datetime.timezone.utc).timestamp()
if len(latest) < count:
    sys.exit(1)
print("%.2f" % (max(latest.values()) - start))
EOF
}

# delivered: "ok" when every record of the events log has reached both
# sinks, else what is missing.
delivered() {
	python3 - "$AW_EVENTS" "$FS_OUT" "$E2E_REPO/tests/tools" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
from sink_records import alert_carries, events, received
records = events(sys.argv[1])
hooks, elements = received(sys.argv[2])
hooks = [body for _, body in hooks]
missing_hook = [r for r in records if r not in hooks]
missing_am = [r for r in records if not any(alert_carries(r, e) for _, e in elements)]
if not missing_hook and not missing_am:
    print("ok")
else:
    print("%d records; webhook misses %d (%s); Alertmanager misses %d (%s)" % (
        len(records), len(missing_hook), ",".join(r["tenant"] + ":" + r["state"] for r in missing_hook[:5]),
        len(missing_am), ",".join(r["tenant"] + ":" + r["state"] for r in missing_am[:5])))
EOF
}

wait_delivered() {
	local i result
	for ((i = 0; i < $1 * 5; i++)); do
		result=$(delivered)
		[[ $result == ok ]] && break
		sleep 0.2
	done
	printf '%s\n' "$result"
	[[ $result == ok ]]
}

# log_count TEXT: lines of the agent's log holding TEXT.
log_count() {
	grep -cF -- "$1" "$AGENT_LOG"
}

# textfile_age: seconds since the textfile was last written or touched.
textfile_age() {
	awk -v now="$(date +%s.%N)" -v m="$(stat -c %.9Y "$AW_TEXTFILE")" 'BEGIN { printf "%.2f\n", now - m }'
}

if ! start_fault_server ok; then
	fail_all "the test server did not start: $(tail -n 1 "$E2E_TMP/server.err")"
	e2e_finish
fi
HOOK_URL=http://127.0.0.1:$FS_PORT/hook
AM_URL=http://127.0.0.1:$FS_PORT/am
SINKS="alerts:
  alertmanager: [\"$AM_URL\"]
  webhook: {url: \"$HOOK_URL\"}"
PLAN="plans:
  default:
    window: 2s
    software: watching
software:
  watching:
    deny: [builtin:miners]"

write_config sinks "$PLAN
$SINKS" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
BURNER=$(tenant_cgroup burner) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
# Retries start at 100 ms (doubling up to 6 s), so that a test waits for
# the fault, not for the backoff.
export ABUSEWATCH_TEST_BACKOFF_MS=100
if ! agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG"; then
	e2e_finish
fi
"$AW_TOOLS/incg" "$BURNER" "$AW_TOOLS/burn" 300 &
BURN_PID=$!
on_cleanup kill "$BURN_PID"

BLOCKED_NOTES=()
BLOCKED=0
# watch_loop SECONDS: samples the textfile for SECONDS while a sink hangs;
# notes (in BLOCKED_NOTES) any sample older than 3 intervals or a CPU
# figure that did not rise within a second.
watch_loop() {
	local until last cpu age
	until=$(($(date +%s) + $1))
	last=$(metric abusewatch_tenant_cpu_seconds_total burner)
	while (($(date +%s) < until)); do
		sleep 1
		age=$(textfile_age)
		cpu=$(metric abusewatch_tenant_cpu_seconds_total burner)
		if ! num_cmp "$age" "<" 0.6 || ! num_cmp "$cpu" ">" "$last"; then
			BLOCKED=$((BLOCKED + 1))
			BLOCKED_NOTES+=("textfile ${age}s old, burner cpu $last -> $cpu")
		fi
		last=$cpu
	done
}

# fault_phase CASE MODE: the sinks fail as MODE while 4 tenants run a
# denied program; then they answer again.
fault_phase() {
	local case=$1 mode=$2 start waited=none result hook_before am_before hook am
	hook_before=$(log_count "webhook $HOOK_URL is unreachable")
	am_before=$(log_count "alertmanager $AM_URL is unreachable")
	set_mode "$mode"
	sleep 0.5
	start=$(date +%s.%N)
	exec_miners "$case" 4
	for ((i = 0; i < 50; i++)); do
		waited=$(firing_after "$case" 4 "$start") && break
		waited=none
		sleep 0.2
	done
	# The sinks fail for a while: a few retries, or one hung request.
	watch_loop 6
	set_mode ok
	result=$(wait_delivered 40)
	local status=$?
	# Each sink has its own sender, but a sink that is tried only after
	# the fault ends is never logged down. Never more than one line per
	# outage, though.
	hook=$(($(log_count "webhook $HOOK_URL is unreachable") - hook_before))
	am=$(($(log_count "alertmanager $AM_URL is unreachable") - am_before))
	[[ $waited != none ]] && num_cmp "$waited" "<" 3 && ((status == 0)) &&
		((hook <= 1 && am <= 1 && hook + am >= 1))
	check "$case" "$?" "sinks $mode: 4 denied execs recorded in the events log within ${waited}s (want < 3 s); once back: $result; outage logged: webhook $hook, Alertmanager $am times (want at most once each, once in all at least)"
	e2e_log "$case: records after ${waited}s; delivered: $result"
}

fault_phase fault_sink_500 500
fault_phase fault_sink_hang hang
fault_phase fault_sink_mute mute
fault_phase fault_sink_slow slow
((BLOCKED == 0))
check fault_sink_not_blocking "$?" "samples while the sinks failed (every second): ${BLOCKED_NOTES[*]:-all fresh, cpu rising}"
stop_agent

# ---- a bounded queue
write_config overflow "$PLAN
$SINKS" || {
	fail "fault_sink_spool_overflow" "cannot write the configuration"
	e2e_finish
}
set_mode 500
: >"$FS_OUT"
if ABUSEWATCH_TEST_QUEUE_LIMIT=3 agent_or_report fault_sink_spool_overflow "$AW_CONFIG"; then
	exec_miners overflow 5
	for ((i = 0; i < 50; i++)); do
		firing_after overflow 5 0 >/dev/null && break
		sleep 0.2
	done
	# The firing ones, and their resolutions (window 2 s).
	for ((i = 0; i < 100; i++)); do
		(($(events_count "$AW_EVENTS" state=resolved) >= 5)) && break
		sleep 0.1
	done
	wait_intervals 3
	records=$(events_count "$AW_EVENTS")
	dropped_hook=$(awk '$1 == "abusewatch_alerts_dropped_total{sink=\"webhook\"}" { print $2 }' "$AW_TEXTFILE")
	dropped_am=$(awk '$1 == "abusewatch_alerts_dropped_total{sink=\"alertmanager\"}" { print $2 }' "$AW_TEXTFILE")
	dropped_log=$(awk '$1 == "abusewatch_alerts_dropped_total{sink=\"events_log\"}" { print $2 }' "$AW_TEXTFILE")
	spooled=$(cat "$AW_DIR"/state/spool/webhook-*.queue 2>/dev/null | grep -c .)
	set_mode ok
	for ((i = 0; i < 100; i++)); do
		hooks=$(grep -c '"kind": "webhook"' "$FS_OUT")
		((hooks >= 3)) && break
		sleep 0.2
	done
	sleep 1
	hooks=$(grep -c '"kind": "webhook"' "$FS_OUT")
	logged_hook=$(log_count "webhook $HOOK_URL: 3 records waiting, dropping new ones")
	logged_am=$(log_count "alertmanager $AM_URL: 3 records waiting, dropping new ones")
	((records == 10 && dropped_hook == records - 3 && dropped_am == records - 3 &&
		dropped_log == 0 && spooled == 3 && hooks == 3 && logged_hook == 1 && logged_am == 1))
	check fault_sink_spool_overflow "$?" "records $records (want 10); dropped: webhook ${dropped_hook:-?}, Alertmanager ${dropped_am:-?} (want records - 3 each), events log ${dropped_log:-?} (want 0); webhook spool $spooled lines (want 3); delivered to the webhook once back: $hooks (want 3); logged once: webhook $logged_hook, Alertmanager $logged_am"
	stop_agent
fi
e2e_finish
