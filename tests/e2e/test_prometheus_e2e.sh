#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole way from the kernel to Alertmanager, every program started here
# on 127.0.0.1 from Debian's packages: the agent writes its textfile,
# node_exporter serves it, Prometheus scrapes it every second and evaluates
# deploy/prometheus/abusewatch.rules.yml as shipped, and Alertmanager
# receives AbusewatchTenantOverLimit for a tenant that burns a core on a
# 0.2-core plan (its own alerts to Alertmanager are off here, so that what
# arrives comes from Prometheus). The quiet tenant beside it gets nothing,
# the recording rules have values, and the alert resolves once the load
# stops.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases prometheus_scrapes_agent prometheus_recording_rules prometheus_alert_in_alertmanager \
	prometheus_quiet_tenant prometheus_alert_resolves
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish

PROM_BIN=$(command -v prometheus || true)
RULES=$E2E_REPO/deploy/prometheus/abusewatch.rules.yml
if [[ -z $PROM_BIN ]]; then
	skip_all "prometheus not installed (Debian package prometheus)"
	e2e_finish
fi
if [[ -z $NE_BIN ]]; then
	skip_all "node_exporter not installed (Debian package prometheus-node-exporter)"
	e2e_finish
fi
if ! command -v curl >/dev/null || ! command -v python3 >/dev/null; then
	skip_all "curl or python3 not installed"
	e2e_finish
fi
e2e_setup || e2e_finish

WINDOW=2
FOR=1
# Long enough to outlast a slow alert on a loaded machine; the test stops
# the burner itself once the firing side is checked.
BURN_S=60

require_alertmanager || e2e_finish
write_config prometheus "plans:
  default:
    cpu: 0.2
    window: ${WINDOW}s
    for: ${FOR}s
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
HOG=$(tenant_cgroup hog) && CALM=$(tenant_cgroup calm) || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

if ! start_node_exporter "$(dirname "$AW_TEXTFILE")"; then
	fail_all "node_exporter did not start: $(tail -n 1 "$E2E_TMP/node_exporter.log")"
	e2e_finish
fi

# ---------------------------------------------------------------- prometheus

PROM_PORT=""
PROM_DIR=$E2E_TMP/prometheus

# start_prometheus: scrapes node_exporter and evaluates the rules every
# second, alerts to the Alertmanager above; waits (<= 30 s) until ready.
start_prometheus() {
	local try i pid
	mkdir -p "$PROM_DIR" || return 1
	cat >"$PROM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - "$RULES"
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$AM_PORT"]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:$NE_PORT"]
EOF
	for ((try = 0; try < 3; try++)); do
		PROM_PORT=$(free_port) || return 1
		rm -rf "$PROM_DIR/data"
		"$AW_TOOLS/incg" "$AW_HOST_CG" "$PROM_BIN" --config.file="$PROM_DIR/prometheus.yml" \
			--storage.tsdb.path="$PROM_DIR/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
			>"$PROM_DIR/log" 2>&1 &
		pid=$!
		on_cleanup kill "$pid"
		for ((i = 0; i < 300; i++)); do
			curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" && return 0
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 1
}

# query PROMQL: the value of the first sample of an instant query, or nothing.
query() {
	curl -sf --max-time 5 -G --data-urlencode "query=$1" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query" 2>/dev/null |
		python3 -c '
import json, sys
try:
    result = json.load(sys.stdin)["data"]["result"]
    print(result[0]["value"][1] if result else "")
except (ValueError, KeyError, IndexError):
    pass'
}

# wait_query SECONDS PROMQL: polls until the query has a sample; prints it.
wait_query() {
	local limit=$1 value i
	for ((i = 0; i < limit * 5; i++)); do
		value=$(query "$2")
		if [[ -n $value ]]; then
			printf '%s\n' "$value"
			return 0
		fi
		sleep 0.2
	done
	return 1
}

if ! start_prometheus; then
	fail_all "Prometheus did not start on 127.0.0.1: $(grep -i 'err' "$PROM_DIR/log" | tail -n 1)"
	e2e_finish
fi
e2e_log "prometheus on 127.0.0.1:$PROM_PORT, node_exporter on $NE_PORT, alertmanager on $AM_PORT"

# ---- Prometheus scrapes the agent's figures through node_exporter
build_info=$(wait_query 20 "abusewatch_build_info{job=\"node\",instance=\"127.0.0.1:$NE_PORT\"}")
scrape_error=$(query 'node_textfile_scrape_error')
rules_loaded=$(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
print(sum(len(g["rules"]) for g in groups))' 2>/dev/null)
[[ $build_info == 1 && $scrape_error == 0 ]] && ((${rules_loaded:-0} > 0))
check prometheus_scrapes_agent "$?" "abusewatch_build_info in Prometheus: ${build_info:-missing} (want 1), node_textfile_scrape_error ${scrape_error:-missing} (want 0), rules loaded from $RULES: ${rules_loaded:-none}"

# ---- a tenant burns a core on a 0.2-core plan
"$AW_TOOLS/incg" "$CALM" sleep 60 &
on_cleanup kill $!
started=$(date +%s.%N)
"$AW_TOOLS/incg" "$HOG" "$AW_TOOLS/burn" "$BURN_S" &
HOG_PID=$!
on_cleanup kill "$HOG_PID"

# The agent: window + for (+ intervals); Prometheus: a scrape and an
# evaluation (1 s each), then the notifier. 30 s is generous.
waited=$(wait_am_alert 30 alertname=AbusewatchTenantOverLimit tenant=hog resource=cpu)
found=$?
alert=$(am_alert alertname=AbusewatchTenantOverLimit tenant=hog resource=cpu)
described=$(python3 -c '
import json, sys
a = json.loads(sys.argv[1])
labels = " ".join("%s=%s" % kv for kv in sorted(a["labels"].items()))
print(labels + " | " + a["annotations"].get("summary", "no summary"))' "${alert:-{\}}" 2>/dev/null)
total=$(awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
((found == 0)) &&
	[[ $described == "alertname=AbusewatchTenantOverLimit instance=127.0.0.1:$NE_PORT job=node plan=default resource=cpu severity=warning tenant=hog | Tenant hog is over its cpu limit on 127.0.0.1:$NE_PORT" ]]
check prometheus_alert_in_alertmanager "$?" "AbusewatchTenantOverLimit for hog/cpu in Alertmanager: ${waited:+after $waited s}${waited:-not within 30 s}; alert: ${described:-none}; over_limit in the textfile: $(awk '/^abusewatch_tenant_over_limit\{tenant="hog"/ { print $2 }' "$AW_TEXTFILE")"
e2e_log "burn start to AbusewatchTenantOverLimit in Alertmanager: $total s"

# ---- the recording rules, on the same data
max_ratio=$(wait_query 10 'instance_tenant:abusewatch_tenant_usage_ratio:max{tenant="hog"} > 1')
over_count=$(wait_query 10 "instance:abusewatch_tenants_over_limit:count{instance=\"127.0.0.1:$NE_PORT\"} == 1")
age=$(query "instance:abusewatch_textfile_age:seconds{instance=\"127.0.0.1:$NE_PORT\"}")
num_cmp "${max_ratio:-0}" ">" 1 && num_cmp "${over_count:-0}" "==" 1 && num_cmp "${age:-99}" "<" 10
check prometheus_recording_rules "$?" "instance_tenant:abusewatch_tenant_usage_ratio:max{tenant=hog} ${max_ratio:-missing} (want > 1), tenants over a limit ${over_count:-missing} (want 1), textfile age ${age:-missing} s (want < 10)"

# ---- the quiet tenant beside it
firing=$(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
print(" ".join(sorted("%s/%s/%s" % (a["labels"]["alertname"], a["labels"].get("tenant", "-"), a["state"]) for a in alerts)))' 2>/dev/null)
! am_alert tenant=calm >/dev/null && [[ $firing != *"/calm/"* ]]
check prometheus_quiet_tenant "$?" "tenant calm in Alertmanager: $(am_alert tenant=calm >/dev/null && echo yes || echo no); Prometheus alerts: ${firing:-none}"

# ---- resolved once the load stops
kill "$HOG_PID" 2>/dev/null
wait "$HOG_PID" 2>/dev/null
stopped=$(date +%s.%N)
gone=1
for ((i = 0; i < 300; i++)); do
	if ! am_alert alertname=AbusewatchTenantOverLimit tenant=hog resource=cpu >/dev/null; then
		gone=0
		break
	fi
	sleep 0.1
done
took=$(awk -v s="$stopped" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
((gone == 0))
check prometheus_alert_resolves "$?" "AbusewatchTenantOverLimit for hog still active in Alertmanager $took s after the burn stopped (want gone within 30 s)"
e2e_log "burn stop to the alert resolved in Alertmanager: $took s"
e2e_finish
