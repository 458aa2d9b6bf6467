#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Alert delivery survives sinks that are down and agent restarts:
# - Alertmanager down while an alert fires: it arrives once Alertmanager
#   is started (on the same port);
# - the same with the agent stopped and started again in between: the
#   alert raised before the restart is delivered from the spool in
#   state_dir, with its original start time;
# - the webhook: a small receiver started here verifies the Standard
#   Webhooks HMAC-SHA256 signature, and fails the first two requests so
#   that retries are exercised.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases sink_alertmanager_down_then_up sink_alertmanager_agent_restart sink_webhook_signed
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
e2e_setup || e2e_finish
if [[ -z $AM_BIN ]] || ! command -v python3 >/dev/null; then
	skip_all "needs prometheus-alertmanager and python3 (Debian packages)"
	e2e_finish
fi

PLAN="plans:
  default:
    cpu: 0.5
    window: 2s
    for: 1s"
CG=$(tenant_cgroup hog) || {
	fail_all "cannot create the tenant cgroup"
	e2e_finish
}

# burn_for SECONDS: one core in tenant hog, in the background; sets BURN_PID.
burn_for() {
	"$AW_TOOLS/incg" "$CG" "$AW_TOOLS/burn" "$1" &
	BURN_PID=$!
	on_cleanup kill "$BURN_PID"
}

stop_burn() {
	kill "$BURN_PID" 2>/dev/null
	wait "$BURN_PID" 2>/dev/null
}

# ---- Alertmanager down while the alert fires, then started
AM_PORT=$(free_port)
write_config down "$PLAN
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
if agent_or_report "sink_alertmanager_down_then_up" "$AW_CONFIG"; then
	burn_for 40
	fired=$(wait_events 15 "$AW_EVENTS" tenant=hog resource=cpu state=firing)
	sleep 2
	if [[ -z $fired ]]; then
		fail sink_alertmanager_down_then_up "no firing record in the events log within 15 s"
	elif ! start_alertmanager "$AM_PORT"; then
		fail sink_alertmanager_down_then_up "Alertmanager did not start on port $AM_PORT"
	else
		# Backoff doubles from 1 s: Alertmanager was down for about 3 s.
		waited=$(wait_am_alert 20 alertname=AbusewatchOveruse tenant=hog resource=cpu)
		check sink_alertmanager_down_then_up "$?" "alert in Alertmanager ${waited:-not within 20} s after it was started"
		e2e_log "Alertmanager back: alert delivered after ${waited:-?} s"
	fi
	stop_burn
	stop_agent
	stop_alertmanager
fi

# ---- the same across an agent restart
AM_PORT=$(free_port)
write_config restart "$PLAN
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
if agent_or_report "sink_alertmanager_agent_restart" "$AW_CONFIG"; then
	burn_for 40
	fired=$(wait_events 15 "$AW_EVENTS" tenant=hog resource=cpu state=firing)
	stop_agent
	restarted=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
	spooled=$(cat "$AW_DIR"/state/spool/* 2>/dev/null | grep -c '"hog"')
	if [[ -z $fired ]]; then
		fail sink_alertmanager_agent_restart "no firing record in the events log within 15 s"
	elif ! start_alertmanager "$AM_PORT"; then
		fail sink_alertmanager_agent_restart "Alertmanager did not start on port $AM_PORT"
	elif ! agent_or_report "sink_alertmanager_agent_restart" "$AW_CONFIG"; then
		:
	else
		waited=$(wait_am_alert 20 alertname=AbusewatchOveruse tenant=hog resource=cpu)
		starts=$(am_alert alertname=AbusewatchOveruse tenant=hog resource=cpu |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["startsAt"])' 2>/dev/null)
		# Raised before the restart: its start time is from then (string order is time order).
		[[ -n $waited && -n $starts && $starts < $restarted ]] && ((spooled > 0))
		check sink_alertmanager_agent_restart "$?" "spooled records before the restart: $spooled; alert in Alertmanager ${waited:-not within 20} s after the restart, startsAt ${starts:-?} (want before the restart at $restarted)"
	fi
	stop_burn
	stop_agent
	stop_alertmanager
fi

# ---- webhook with a signature checked by the receiver
SECRET=$AW_DIR/webhook.secret
printf 'whsec_%s\n' "$(head -c 24 /dev/urandom | base64)" >"$SECRET"
RECEIVED=$E2E_TMP/webhook.jsonl
"$AW_TOOLS/incg" "$AW_HOST_CG" python3 "$E2E_REPO/tests/tools/webhook_receiver.py" \
	--port-file "$E2E_TMP/webhook.port" --secret-file "$SECRET" --out "$RECEIVED" \
	--fail-first 2 2>"$E2E_TMP/webhook.err" &
HOOK_PID=$!
on_cleanup kill "$HOOK_PID"
for ((i = 0; i < 100; i++)); do
	[[ -s $E2E_TMP/webhook.port ]] && break
	sleep 0.1
done
HOOK_PORT=$(cat "$E2E_TMP/webhook.port" 2>/dev/null)
write_config webhook "$PLAN
alerts:
  alertmanager: []
  webhook: {url: \"http://127.0.0.1:${HOOK_PORT:-1}/hooks/abusewatch\", secret_file: \"$SECRET\"}" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
if [[ -z $HOOK_PORT ]]; then
	fail sink_webhook_signed "the webhook receiver did not start: $(tail -n 1 "$E2E_TMP/webhook.err")"
elif agent_or_report "sink_webhook_signed" "$AW_CONFIG"; then
	burn_for 20
	result=missing
	for ((i = 0; i < 200; i++)); do
		result=$(python3 -c '
import json, sys
verified = unverified = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    body = r.get("body") or {}
    if not r["verified"]:
        unverified += 1
    elif body.get("tenant") == "hog" and body.get("kind") == "overuse" and body.get("state") == "firing":
        verified += 1
print("ok" if verified == 1 and unverified == 0 else "verified %d, unverified %d" % (verified, unverified))' "$RECEIVED" 2>/dev/null)
		[[ $result == ok ]] && break
		sleep 0.1
	done
	[[ $result == ok ]]
	check sink_webhook_signed "$?" "signed firing record for hog at the receiver (after two 503s): ${result:-nothing received}"
	stop_burn
	stop_agent
fi
e2e_finish
