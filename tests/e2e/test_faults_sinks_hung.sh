#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A sink that hangs delays no other sink. Two test servers
# (tests/tools/fault_server.py): one never answers (it reads each request
# and sits on it, past the agent's 5 s request timeout), the other answers
# 200 at once. The hung one is the first Alertmanager peer; the answering
# one is the second peer and the webhook. Tenants run a denied program one
# after the other (each exec a firing record at once, resolved 2 s later).
# - fault_sink_hung_delays_no_other: every record of the events log reaches
#   the answering server, both as a webhook and as an Alertmanager alert,
#   within 1.5 s of its time, while the other peer hangs; neither of its
#   targets is ever logged unreachable, the hung one once;
# - fault_sink_hung_gets_all_later: once the hung server answers again it
#   gets every record (firing ones with endsAt ahead, resolved ones with
#   endsAt = their time).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases fault_sink_hung_delays_no_other fault_sink_hung_gets_all_later
e2e_require_root_bpf || e2e_finish
e2e_require_build incg linger || e2e_finish
e2e_require_commands python3 || e2e_finish
e2e_setup || e2e_finish

e2e_fake_miner || e2e_finish
T=$AW_TENANTS
MINERS=5
# Well under the request timeout (5 s) that a hung sink held the others for.
LATENCY_LIMIT=1.5

if ! start_fault_server hang hung; then
	fail_all "the hung test server did not start: $(tail -n 1 "$E2E_TMP/hung.err")"
	e2e_finish
fi
HUNG_MODE=$FS_MODE HUNG_OUT=$FS_OUT HUNG_PORT=$FS_PORT
if ! start_fault_server ok answering; then
	fail_all "the answering test server did not start: $(tail -n 1 "$E2E_TMP/answering.err")"
	e2e_finish
fi
OK_OUT=$FS_OUT OK_PORT=$FS_PORT
HUNG_AM=http://127.0.0.1:$HUNG_PORT/am
OK_AM=http://127.0.0.1:$OK_PORT/am
OK_HOOK=http://127.0.0.1:$OK_PORT/hook

# The hung peer first: a single sender would try it first at every pass.
write_config hung "plans:
  default:
    window: 2s
    software: watching
software:
  watching:
    deny: [builtin:miners]
alerts:
  alertmanager: [\"$HUNG_AM\", \"$OK_AM\"]
  webhook: {url: \"$OK_HOOK\"}" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
# Retries start at 100 ms, so that the hung peer is tried again and again.
export ABUSEWATCH_TEST_BACKOFF_MS=100
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# latencies OUT: for each record of the events log, the seconds from its
# time to its first arrival at the server that wrote OUT, as a webhook
# (the body is the record) and as an Alertmanager alert; then "max
# WEBHOOK ALERTMANAGER", "missing N" and "records N" lines.
latencies() {
	python3 - "$AW_EVENTS" "$1" "$E2E_REPO/tests/tools" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
from sink_records import alert_carries, epoch, events, received
records = events(sys.argv[1])
hooks, elements = received(sys.argv[2])
worst_hook = worst_am = 0.0
missing = 0
for r in records:
    hook = [at for at, body in hooks if body == r]
    am = [at for at, e in elements if alert_carries(r, e)]
    if not hook or not am:
        missing += 1
        print("%s:%s missing (webhook %d, alertmanager %d)" % (r["tenant"], r["state"], len(hook), len(am)))
        continue
    late_hook, late_am = min(hook) - epoch(r["time"]), min(am) - epoch(r["time"])
    worst_hook, worst_am = max(worst_hook, late_hook), max(worst_am, late_am)
    print("%s:%s webhook %.2fs alertmanager %.2fs" % (r["tenant"], r["state"], late_hook, late_am))
print("max %.2f %.2f" % (worst_hook, worst_am))
print("missing %d" % missing)
print("records %d" % len(records))
EOF
}

# missing_am OUT: how many records of the events log no Alertmanager alert
# received by the server that wrote OUT stands for.
missing_am() {
	python3 - "$AW_EVENTS" "$1" "$E2E_REPO/tests/tools" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
from sink_records import alert_carries, events, received
records = events(sys.argv[1])
_, elements = received(sys.argv[2])
print(sum(1 for r in records if not any(alert_carries(r, e) for _, e in elements)))
EOF
}

# One denied exec a second, then until every resolution is in: records
# keep coming for about 7 s, past one hung request (5 s) and its retry.
for ((n = 1; n <= MINERS; n++)); do
	tenant_cgroup "miner-$n" >/dev/null && "$AW_TOOLS/incg" "$T/miner-$n" "$BIN/xmrig" 0
	sleep 1
done
for ((i = 0; i < 100; i++)); do
	(($(events_count "$AW_EVENTS" state=resolved) >= MINERS)) && break
	sleep 0.1
done
# Room for the last records to arrive (when they are late, they show).
sleep "$LATENCY_LIMIT"
report=$(latencies "$OK_OUT")
e2e_log "while the first peer hangs, at the answering server: $(tr '\n' ';' <<<"$report")"
read -r _ worst_hook worst_am < <(grep '^max ' <<<"$report")
missing=$(awk '$1 == "missing" { print $2 }' <<<"$report")
records=$(awk '$1 == "records" { print $2 }' <<<"$report")
unreachable_ok=$(grep -cF -e "alertmanager $OK_AM is unreachable" -e "webhook $OK_HOOK is unreachable" "$AGENT_LOG")
unreachable_hung=$(grep -cF "alertmanager $HUNG_AM is unreachable" "$AGENT_LOG")
hung_requests=$(grep -c . "$HUNG_OUT")
((records >= 2 * MINERS && missing == 0 && unreachable_ok == 0 && unreachable_hung == 1 &&
	hung_requests == 0)) &&
	num_cmp "$worst_hook" "<" "$LATENCY_LIMIT" && num_cmp "$worst_am" "<" "$LATENCY_LIMIT"
check fault_sink_hung_delays_no_other "$?" "while the first Alertmanager peer hangs: $records records (want >= $((2 * MINERS))), $missing missing at the answering server (want 0); latest arrival after the record's time: webhook ${worst_hook}s, second peer ${worst_am}s (want < ${LATENCY_LIMIT}s each); logged unreachable: answering targets $unreachable_ok times (want 0), hung peer $unreachable_hung (want 1); answered by the hung server: $hung_requests (want 0)"

echo ok >"$HUNG_MODE.tmp" && mv "$HUNG_MODE.tmp" "$HUNG_MODE"
# Its hung request is closed, then retried after the backoff (at most 6 s).
for ((i = 0; i < 150; i++)); do
	left=$(missing_am "$HUNG_OUT")
	((left == 0)) && break
	sleep 0.2
done
records=$(events_count "$AW_EVENTS")
((left == 0 && records >= 2 * MINERS))
check fault_sink_hung_gets_all_later "$?" "once the hung peer answers: $left of $records records missing there (want 0)"
stop_agent
e2e_finish
