#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The textfile as its consumers see it: promtool accepts it, its families are
# those docs/metrics.md lists (with their types, both ways), node_exporter's
# textfile collector serves it without a scrape error (also with a tenant
# name that needs escaping), counters survive the removal of one of a
# tenant's cgroups, a vanished tenant expires, and SIGTERM exits cleanly.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases textfile_promtool textfile_build_info textfile_documented_families \
	textfile_node_exporter textfile_escaping \
	textfile_counters_monotonic textfile_tenant_expiry textfile_clean_exit
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
e2e_setup || e2e_finish

WEIRD='q"uote\back'
EXPIRY=2

write_config textfile || { fail_all "cannot write the configuration"; e2e_finish; }
if ! WEB=$(tenant_cgroup web) || ! WEIRD_CG=$(tenant_cgroup "$WEIRD") ||
	! TWO=$(tenant_cgroup two a b); then
	fail_all "cannot create the tenant cgroups"
	e2e_finish
fi
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" --tenant-expiry "$EXPIRY" || e2e_finish

# Only these pids: a bare `wait` would wait for the agent too.
"$AW_TOOLS/incg" "$WEIRD_CG" sleep 1 &
pids=$!
"$AW_TOOLS/incg" "$TWO/a" "$AW_TOOLS/burn" 1 &
pids+=" $!"
"$AW_TOOLS/incg" "$TWO/b" "$AW_TOOLS/burn" 1 &
pids+=" $!"
"$AW_TOOLS/incg" "$WEB" "$AW_TOOLS/burn" 0.5
# shellcheck disable=SC2086 # a list of pids
wait $pids
wait_intervals 3
snapshot=$E2E_TMP/snapshot.prom
cp "$AW_TEXTFILE" "$snapshot"

# ---- promtool
if ! command -v promtool >/dev/null; then
	skip textfile_promtool "promtool not installed (Debian package prometheus)"
else
	out=$(promtool check metrics <"$snapshot" 2>&1)
	check textfile_promtool "$?" "promtool check metrics: ${out:-non-zero exit}"
fi

# ---- build_info and events_lost
version=$(cat "$E2E_REPO/VERSION" 2>/dev/null)
grep -qxF "abusewatch_build_info{version=\"$version\"} 1" "$snapshot" &&
	metric_global abusewatch_events_lost_total "$snapshot" >/dev/null
check textfile_build_info "$?" "want abusewatch_build_info{version=\"$version\"} 1 and abusewatch_events_lost_total; have: $(grep -E '^abusewatch_(build_info|events_lost_total)' "$snapshot" | tr '\n' ' ')"

# ---- every family in the file is in docs/metrics.md with its type, and back
# Documented families are the table rows that start "| `abusewatch_...` | TYPE |".
METRICS_DOC=$E2E_REPO/docs/metrics.md
if [[ ! -r $METRICS_DOC ]]; then
	fail textfile_documented_families "$METRICS_DOC is missing"
else
	written=$(awk '$1 == "#" && $2 == "TYPE" { print $3, $4 }' "$snapshot" | LC_ALL=C sort -u)
	documented=$(awk -F'|' '/^\| `abusewatch_[a-z0-9_]*` \|/ {
		name = $2; type = $3
		gsub(/[ `]/, "", name); gsub(/ /, "", type)
		print name, type
	}' "$METRICS_DOC" | LC_ALL=C sort -u)
	undocumented=$(LC_ALL=C comm -23 <(printf '%s\n' "$written") <(printf '%s\n' "$documented") | paste -sd, -)
	unwritten=$(LC_ALL=C comm -13 <(printf '%s\n' "$written") <(printf '%s\n' "$documented") | paste -sd, -)
	[[ -n $written && -z $undocumented && -z $unwritten ]]
	check textfile_documented_families "$?" "written but not in docs/metrics.md (or of another type there): ${undocumented:-none}; in docs/metrics.md but not written: ${unwritten:-none}; $(wc -l <<<"$written") families written"
fi

# ---- node_exporter (start_node_exporter: lib.sh)
scrape() {
	curl -sf --max-time 5 "http://127.0.0.1:$NE_PORT/metrics" >"$1"
}

if [[ -z $NE_BIN ]]; then
	skip textfile_node_exporter "prometheus-node-exporter not installed"
	skip textfile_escaping "prometheus-node-exporter not installed"
elif ! command -v curl >/dev/null; then
	skip textfile_node_exporter "curl not installed"
	skip textfile_escaping "curl not installed"
elif ! start_node_exporter "$(dirname "$AW_TEXTFILE")"; then
	report_each "textfile_node_exporter textfile_escaping" fail \
		"node_exporter did not start: $(tail -n 1 "$E2E_TMP/node_exporter.log")"
else
	scraped=$E2E_TMP/scrape.txt
	if ! scrape "$scraped"; then
		report_each "textfile_node_exporter textfile_escaping" fail "curl /metrics failed"
	else
		scrape_error=$(metric_global node_textfile_scrape_error "$scraped")
		web_cpu=$(metric abusewatch_tenant_cpu_seconds_total web "$scraped")
		num_cmp "$scrape_error" "==" 0 && [[ -n $web_cpu ]] &&
			grep -q '^abusewatch_build_info{' "$scraped"
		check textfile_node_exporter "$?" "node_textfile_scrape_error = ${scrape_error:-missing}, cpu_seconds_total{tenant=\"web\"} = ${web_cpu:-missing} in /metrics"

		# The name must be escaped in the file, and survive node_exporter.
		weird_escaped=$(escape_label "$WEIRD")
		has_tenant "$WEIRD" "$AW_TEXTFILE" && has_tenant "$WEIRD" "$scraped" &&
			num_cmp "$scrape_error" "==" 0
		check textfile_escaping "$?" "tenant=\"$weird_escaped\" in textfile: $(has_tenant "$WEIRD" "$AW_TEXTFILE" && echo yes || echo no), in /metrics: $(has_tenant "$WEIRD" "$scraped" && echo yes || echo no), scrape error ${scrape_error:-missing}; textfile has: $(grep -o 'tenant="q[^,}]*' "$AW_TEXTFILE" | head -n 1)"
	fi
fi

# ---- counters never go down when one of a tenant's cgroups goes away
before=$(metric abusewatch_tenant_cpu_seconds_total two)
# Ground truth for "before": the tenant cgroup's cpu.stat counts its children.
truth=$(cgroup_cpu_seconds "$TWO")
rmdir "$TWO/b"
lowest=""
for ((i = 0; i < 8; i++)); do
	wait_intervals 1
	if ! value=$(metric abusewatch_tenant_cpu_seconds_total two); then
		lowest=missing
		break
	fi
	if [[ -z $lowest ]] || num_cmp "$value" "<" "$lowest"; then
		lowest=$value
	fi
done
within_pct "$before" "$truth" 2 && num_cmp "$lowest" ">=" "$before"
check textfile_counters_monotonic "$?" "cpu_seconds_total{tenant=\"two\"} was ${before:-missing} (cpu.stat: $truth), lowest after removing cgroup b: ${lowest:-missing} (want >= before)"

# ---- a tenant whose cgroups are all gone expires after --tenant-expiry
rmdir "$TWO/a" "$TWO"
removed_at=$(date +%s.%N)
wait_intervals 2
has_tenant two
present_early=$?
gone_after=""
for ((i = 0; i < 50; i++)); do
	if ! has_tenant two; then
		gone_after=$(awk -v a="$removed_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		break
	fi
	value=$(metric abusewatch_tenant_cpu_seconds_total two)
	num_cmp "$value" "<" "$before" && break
	sleep 0.1
done
limit=$(awk -v e="$EXPIRY" -v i="$AW_INTERVAL" 'BEGIN { print e + 10 * i + 1 }')
((present_early == 0)) && [[ -n $gone_after ]] && num_cmp "$gone_after" "<=" "$limit"
check textfile_tenant_expiry "$?" "tenant two: present $(awk -v i="$AW_INTERVAL" 'BEGIN { print 2 * i }') s after removal: $( ((present_early == 0)) && echo yes || echo no), gone after: ${gone_after:-never (or its counter went down to ${value:-?})} s (want <= $limit s)"

# ---- SIGTERM: clean exit, textfile still there
stop_agent
[[ $AGENT_EXIT == 0 ]] && grep -q '^abusewatch_build_info{' "$AW_TEXTFILE"
check textfile_clean_exit "$?" "agent exit status on SIGTERM: ${AGENT_EXIT:-?} (want 0), textfile after exit: $([[ -s $AW_TEXTFILE ]] && echo present || echo missing)"
e2e_finish
