#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Overuse against plan limits, end to end: a tenant burning one core on a
# 0.5-core plan raises AbusewatchOveruse in a real Alertmanager (started
# here on 127.0.0.1) within window + for + two intervals, with the right
# labels, a record in the events log and the limit metrics; it resolves
# once the load stops; a quiet tenant beside it gets nothing. Then the same
# for disk writes (O_DIRECT dd) and network sends (loopback TCP).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases overuse_cpu_alertmanager overuse_cpu_record overuse_metrics overuse_benign_quiet \
	overuse_cpu_resolves overuse_disk_write overuse_net_tx
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn tcpsink tcpsend || e2e_finish
e2e_setup || e2e_finish

WINDOW=3
FOR=2
# The issue's bound: window + for + two intervals.
BOUND=$(awk -v w="$WINDOW" -v f="$FOR" -v i="$AW_INTERVAL" 'BEGIN { print w + f + 2 * i }')

require_alertmanager || e2e_finish
write_config overuse "plans:
  default:
    cpu: 0.5
    disk_write: 2MiB/s
    net_tx: 1MiB/s
    window: ${WINDOW}s
    for: ${FOR}s
    hysteresis: 0.9
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
HOG=$(tenant_cgroup hog) && CALM=$(tenant_cgroup calm) && WRITER=$(tenant_cgroup writer) &&
	SENDER=$(tenant_cgroup sender) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# series NAME LABELS: the value of NAME{LABELS} in the textfile, exactly.
series() {
	awk -v want="$1{$2}" '$1 == want { print $2; found = 1; exit } END { exit !found }' "$AW_TEXTFILE"
}

# ---- cpu: one core on a 0.5-core plan
"$AW_TOOLS/incg" "$CALM" sleep 30 &
CALM_PID=$!
on_cleanup kill "$CALM_PID"
"$AW_TOOLS/incg" "$HOG" "$AW_TOOLS/burn" 8 &
HOG_PID=$!
on_cleanup kill "$HOG_PID"
waited=$(wait_am_alert 20 alertname=AbusewatchOveruse tenant=hog resource=cpu)
found=$?
alert=$(am_alert alertname=AbusewatchOveruse tenant=hog resource=cpu)
labels=$(python3 -c 'import json, sys; a = json.loads(sys.argv[1]); print(" ".join("%s=%s" % kv for kv in sorted(a["labels"].items())))' "${alert:-{\}}" 2>/dev/null)
((found == 0)) && num_cmp "$waited" "<=" "$BOUND" &&
	[[ $labels == "alertname=AbusewatchOveruse instance=e2e-node plan=default resource=cpu severity=warning tenant=hog" ]]
check overuse_cpu_alertmanager "$?" "AbusewatchOveruse for hog/cpu in Alertmanager after ${waited:-no alert within 20} s (want <= $BOUND s = window + for + 2 intervals); labels: ${labels:-none}"
e2e_log "cpu overuse: burn start to alert in Alertmanager: ${waited:-none} s (bound $BOUND s)"

# ---- the record in the events log (written in the same tick)
record=$(python3 -c '
import json, re, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == "hog" and r.get("resource") == "cpu" and r.get("state") == "firing":
        ok = (r["kind"] == "overuse" and r["plan"] == "default" and r["rule"] == "plan"
              and r["host"] == "e2e-node" and r["limit"] == 0.5 and r["window_s"] == 3
              and r["value"] > 0.5 and r["cgroup"].endswith("/tenants/hog")
              and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) is not None
              and "reason" in r)
        print("ok" if ok else "bad: " + line.strip())
        break
else:
    print("missing")' "$AW_EVENTS" 2>&1)
[[ $record == ok ]]
check overuse_cpu_record "$?" "firing record for hog/cpu in $AW_EVENTS: $record"

# ---- metrics while it fires
limit=$(series abusewatch_tenant_limit 'tenant="hog",plan="default",resource="cpu"')
ratio=$(series abusewatch_tenant_usage_ratio 'tenant="hog",plan="default",resource="cpu"')
over=$(series abusewatch_tenant_over_limit 'tenant="hog",plan="default",resource="cpu"')
total=$(series abusewatch_alerts_total 'kind="overuse"')
num_cmp "$limit" "==" 0.5 && num_cmp "$ratio" ">" 1 && num_cmp "$over" "==" 1 && num_cmp "$total" ">=" 1
check overuse_metrics "$?" "hog/cpu: limit ${limit:-missing} (want 0.5), usage_ratio ${ratio:-missing} (want > 1), over_limit ${over:-missing} (want 1), alerts_total{kind=overuse} ${total:-missing} (want >= 1)"

# ---- resolves after the load stops (burn ends by itself after 8 s)
wait "$HOG_PID"
stopped=$(date +%s.%N)
resolve_bound=$(awk -v w="$WINDOW" -v i="$AW_INTERVAL" 'BEGIN { print w + 4 * i + 1 }')
resolved_after=$(wait_events 15 "$AW_EVENTS" tenant=hog resource=cpu state=resolved)
gone=1
for ((i = 0; i < 50; i++)); do
	am_alert alertname=AbusewatchOveruse tenant=hog resource=cpu >/dev/null || {
		gone=0
		break
	}
	sleep 0.1
done
over=$(series abusewatch_tenant_over_limit 'tenant="hog",plan="default",resource="cpu"')
[[ -n $resolved_after ]] && num_cmp "$resolved_after" "<=" "$resolve_bound" && ((gone == 0)) &&
	num_cmp "$over" "==" 0 && (($(events_count "$AW_EVENTS" tenant=hog resource=cpu state=firing) == 1))
check overuse_cpu_resolves "$?" "after the burn stopped: resolved record after ${resolved_after:-never} s (want <= $resolve_bound), alert still active in Alertmanager: $( ((gone == 0)) && echo no || echo yes), over_limit ${over:-missing}, firing records: $(events_count "$AW_EVENTS" tenant=hog resource=cpu state=firing) (want 1)"
e2e_log "cpu overuse resolved $(awk -v s="$stopped" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }') s after the burn stopped"

# ---- the quiet tenant beside it
over=$(series abusewatch_tenant_over_limit 'tenant="calm",plan="default",resource="cpu"')
(($(events_count "$AW_EVENTS" tenant=calm) == 0)) && ! am_alert tenant=calm >/dev/null &&
	num_cmp "$over" "==" 0
check overuse_benign_quiet "$?" "tenant calm: $(events_count "$AW_EVENTS" tenant=calm) records, in Alertmanager: $(am_alert tenant=calm >/dev/null && echo yes || echo no), over_limit{cpu} ${over:-missing} (want 0 records, no alert, 0)"

# ---- disk writes: 64 MiB O_DIRECT on a 2 MiB/s plan
disk_backed_dir overuse
data_dir=$DISK_BACKED_DIR
if [[ -z $data_dir ]]; then
	skip overuse_disk_write "no disk-backed directory ($E2E_REPO/build, /var/tmp)"
else
	start=$(date +%s.%N)
	if "$AW_TOOLS/incg" "$WRITER" dd if=/dev/zero of="$data_dir/f" bs=1M count=64 \
		oflag=direct conv=fsync 2>"$E2E_TMP/dd.err"; then
		waited=$(wait_am_alert 15 alertname=AbusewatchOveruse tenant=writer resource=disk_write)
		found=$?
		since=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
		((found == 0)) && (($(events_count "$AW_EVENTS" tenant=writer resource=disk_write state=firing) == 1))
		check overuse_disk_write "$?" "AbusewatchOveruse for writer/disk_write: ${since} s after dd started (found: $( ((found == 0)) && echo yes || echo no))"
	else
		skip overuse_disk_write "O_DIRECT write failed: $(tail -n 1 "$E2E_TMP/dd.err")"
	fi
fi

# ---- network: 256 MiB over loopback TCP on a 1 MiB/s plan
if ! start_listener sink tcpsink PORT 30; then
	fail overuse_net_tx "tcpsink did not start: $(tail -n 1 "$E2E_TMP/sink.err" 2>/dev/null)"
else
	PORT=$LISTEN_PORT
	sent=$("$AW_TOOLS/incg" "$SENDER" "$AW_TOOLS/tcpsend" "$PORT" $((256 << 20)))
	waited=$(wait_am_alert 15 alertname=AbusewatchOveruse tenant=sender resource=net_tx)
	found=$?
	((found == 0)) && [[ $sent == $((256 << 20)) ]]
	check overuse_net_tx "$?" "AbusewatchOveruse for sender/net_tx: ${waited:-not within 15} s after $sent bytes were sent"
fi

stop_agent
e2e_finish
