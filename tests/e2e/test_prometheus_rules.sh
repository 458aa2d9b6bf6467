#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Prometheus rules and the Grafana dashboard of deploy/, checked with the
# real tools and against what the agent writes: promtool accepts the rules
# and passes their unit tests (deploy/prometheus/tests/), amtool accepts the
# Alertmanager example and routes by it as it says, and every query of the
# rules and the dashboard names only metric families of docs/metrics.md,
# node_exporter's textfile metrics or the rules' own records and alerts
# (tests/tools/check_deploy_queries.py), which must also refuse a dashboard
# that breaks those rules. Needs no root; the path from a real agent to
# Alertmanager is tests/e2e/test_prometheus_e2e.sh.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases prometheus_rules_check prometheus_rules_unit alertmanager_example_config \
	grafana_dashboard_queries grafana_checker_refuses
e2e_tmpdir || e2e_finish

RULES_DIR=$E2E_REPO/deploy/prometheus
DASHBOARD=$E2E_REPO/deploy/grafana/abusewatch-dashboard.json
CHECKER=$E2E_REPO/tests/tools/check_deploy_queries.py

if ! command -v promtool >/dev/null; then
	skip prometheus_rules_check "promtool not installed (Debian package prometheus)"
	skip prometheus_rules_unit "promtool not installed (Debian package prometheus)"
else
	out=$(promtool check rules "$RULES_DIR"/*.rules.yml 2>&1)
	check prometheus_rules_check "$?" "promtool check rules: $(tail -n 3 <<<"$out")"
	# promtool resolves rule_files relative to the test file.
	out=$(promtool test rules "$RULES_DIR"/tests/*.test.yml 2>&1)
	check prometheus_rules_unit "$?" "promtool test rules: $(grep -v '^ *$' <<<"$out" | head -n 20)"
fi

# The Alertmanager example: valid, and routing as its comments say.
AM_EXAMPLE=$RULES_DIR/alertmanager-abusewatch.yml
if ! command -v amtool >/dev/null; then
	skip alertmanager_example_config "amtool not installed (Debian package prometheus-alertmanager)"
else
	out=$(amtool check-config "$AM_EXAMPLE" 2>&1)
	status=$?
	critical=$(amtool config routes test --config.file="$AM_EXAMPLE" \
		alertname=AbusewatchNetworkAbuse severity=critical tenant=t 2>/dev/null)
	overuse=$(amtool config routes test --config.file="$AM_EXAMPLE" \
		alertname=AbusewatchTenantOverLimit severity=warning tenant=t 2>/dev/null)
	((status == 0)) && [[ $critical == pager && $overuse == operators ]]
	check alertmanager_example_config "$?" "amtool check-config: status $status ($(tail -n 1 <<<"$out")); a critical abusewatch alert goes to ${critical:-?} (want pager), an overuse one to ${overuse:-?} (want operators)"
fi

if ! python3 -c 'import yaml' 2>/dev/null; then
	skip grafana_dashboard_queries "python3 has no yaml module (Debian package python3-yaml)"
	skip grafana_checker_refuses "python3 has no yaml module (Debian package python3-yaml)"
	e2e_finish
fi

out=$(python3 "$CHECKER" 2>&1)
check grafana_dashboard_queries "$?" "$out"
e2e_log "$out"

# A dashboard with three faults: a family the agent does not write, a
# template variable that does not exist, ALERTS of an alert nobody defines.
bad=$E2E_TMP/bad-dashboard.json
python3 - "$DASHBOARD" "$bad" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
panel = next(p for p in dashboard["panels"] if p.get("targets"))
panel["targets"] += [
    {"refId": "Y", "datasource": panel["datasource"], "expr": "rate(abusewatch_tenant_cpu_total[5m])"},
    {"refId": "Z", "datasource": panel["datasource"], "expr": 'abusewatch_build_info{instance=~"$node"}'},
    {"refId": "X", "datasource": panel["datasource"], "expr": 'ALERTS{alertname="NoSuchAlert"}'},
]
json.dump(dashboard, open(sys.argv[2], "w"))
PY
out=$(python3 "$CHECKER" --dashboard "$bad" 2>&1)
status=$?
# shellcheck disable=SC2016 # a literal $node
((status == 1)) && grep -q 'names abusewatch_tenant_cpu_total' <<<"$out" &&
	grep -qF 'uses $node' <<<"$out" && grep -q 'NoSuchAlert' <<<"$out"
check grafana_checker_refuses "$?" "checker on a broken dashboard: status $status (want 1), said: $out"
e2e_finish
