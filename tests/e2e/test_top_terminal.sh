#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `abusewatch top` driven in a real terminal: tmux (its own server, on a
# socket under the test's directory) runs a shell, the test types into it
# (send-keys) and reads the screen (capture-pane).
#
# First on a textfile and firing state that the test writes in the agent's
# format (tests/unit/test_top.c holds the reader to the agent's own writer):
# the rows are sorted by usage against the limits with a bar and a
# percentage each, the firing alert shows, the sort keys re-sort, a new
# textfile shows within the refresh, nothing is wider than 80 columns, and
# q gives the shell back its screen and terminal modes. Without a terminal,
# top prints the view once. Then on a real agent (root, BPF): a tenant
# burning a core on a 0.2-core plan is shown over its limit, with its alert
# from the agent's firing.json.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases top_printout top_sorted_with_bars top_firing_alert top_sort_keys top_live_refresh \
	top_fits_80_columns top_quit_restores_terminal top_real_agent
# shellcheck disable=SC2119 # no tools needed for the first cases
e2e_require_build || e2e_finish
e2e_tmpdir || e2e_finish

# ---------------------------------------------------------------- files

DIR=$E2E_TMP/top
CONFIG=$DIR/config.yaml
TEXTFILE=$DIR/textfile/abusewatch.prom
mkdir -p "$DIR/textfile" "$DIR/state" || {
	fail_all "cannot make $DIR"
	e2e_finish
}
cat >"$CONFIG" <<EOF
agent:
  textfile: "$TEXTFILE"
  events_log: ""
  state_dir: "$DIR/state"
  hostname: top-node
EOF

# write_textfile [EXTRA...]: the agent's textfile for four tenants, plus
# EXTRA sample lines; replaced by rename, as the agent does.
#   hog   cpu 180% of 0.5 cores (its alert fires), memory 10%
#   mid   cpu 90%
#   calm  cpu 10%, memory 49%
#   bulk  no limits: 2 GiB of memory
write_textfile() {
	local tmp=$TEXTFILE.tmp extra
	{
		cat <<'EOF'
# HELP abusewatch_tenant_cpu_seconds_total CPU time used by the tenant's tasks.
# TYPE abusewatch_tenant_cpu_seconds_total counter
abusewatch_tenant_cpu_seconds_total{tenant="hog",plan="small"} 1843.25
abusewatch_tenant_cpu_seconds_total{tenant="mid",plan="small"} 310.5
abusewatch_tenant_cpu_seconds_total{tenant="calm",plan="small"} 12
abusewatch_tenant_cpu_seconds_total{tenant="bulk",plan="open"} 40
# HELP abusewatch_tenant_memory_bytes Working set of the tenant's cgroups (memory controller).
# TYPE abusewatch_tenant_memory_bytes gauge
abusewatch_tenant_memory_bytes{tenant="hog",plan="small"} 107374182
abusewatch_tenant_memory_bytes{tenant="calm",plan="small"} 526133493
abusewatch_tenant_memory_bytes{tenant="bulk",plan="open"} 2147483648
# HELP abusewatch_tenant_limit The plan's limit in base units: cores, bytes, tasks, bytes/s, per second.
# TYPE abusewatch_tenant_limit gauge
abusewatch_tenant_limit{tenant="hog",plan="small",resource="cpu"} 0.5
abusewatch_tenant_limit{tenant="hog",plan="small",resource="memory"} 1073741824
abusewatch_tenant_limit{tenant="mid",plan="small",resource="cpu"} 0.5
abusewatch_tenant_limit{tenant="mid",plan="small",resource="memory"} 1073741824
abusewatch_tenant_limit{tenant="calm",plan="small",resource="cpu"} 0.5
abusewatch_tenant_limit{tenant="calm",plan="small",resource="memory"} 1073741824
# HELP abusewatch_tenant_usage_ratio Usage averaged over the plan's window / limit.
# TYPE abusewatch_tenant_usage_ratio gauge
abusewatch_tenant_usage_ratio{tenant="hog",plan="small",resource="cpu"} 1.8
abusewatch_tenant_usage_ratio{tenant="hog",plan="small",resource="memory"} 0.1
abusewatch_tenant_usage_ratio{tenant="mid",plan="small",resource="cpu"} 0.9
abusewatch_tenant_usage_ratio{tenant="calm",plan="small",resource="cpu"} 0.1
abusewatch_tenant_usage_ratio{tenant="calm",plan="small",resource="memory"} 0.49
# HELP abusewatch_tenant_over_limit 1 while an overuse alert (plan or relative) fires.
# TYPE abusewatch_tenant_over_limit gauge
abusewatch_tenant_over_limit{tenant="hog",plan="small",resource="cpu"} 1
abusewatch_tenant_over_limit{tenant="hog",plan="small",resource="memory"} 0
abusewatch_tenant_over_limit{tenant="mid",plan="small",resource="cpu"} 0
abusewatch_tenant_over_limit{tenant="mid",plan="small",resource="memory"} 0
abusewatch_tenant_over_limit{tenant="calm",plan="small",resource="cpu"} 0
abusewatch_tenant_over_limit{tenant="calm",plan="small",resource="memory"} 0
# HELP abusewatch_alerts_total Alerts raised, by kind.
# TYPE abusewatch_alerts_total counter
abusewatch_alerts_total{kind="overuse"} 1
abusewatch_alerts_total{kind="unauthorized_software"} 0
abusewatch_alerts_total{kind="network_abuse"} 0
# HELP abusewatch_events_lost_total Kernel events not counted: a map or ring buffer was full.
# TYPE abusewatch_events_lost_total counter
abusewatch_events_lost_total 0
# HELP abusewatch_build_info The running abusewatch version.
# TYPE abusewatch_build_info gauge
abusewatch_build_info{version="0.1.0"} 1
EOF
		for extra in "$@"; do
			printf '%s\n' "$extra"
		done
	} >"$tmp" && mv -f "$tmp" "$TEXTFILE"
}

# The firing state as user/rules/evaluate_state.c saves it: hog's cpu alert,
# firing for 75 s.
write_firing_state() {
	local now
	now=$(date +%s)
	cat >"$DIR/state/firing.json.tmp" <<EOF
{
  "alerts":[
    {
      "tenant":"hog",
      "plan":"small",
      "cgroup":"/ci/hog",
      "resource":"cpu",
      "rule":"plan",
      "value":0.9,
      "limit":0.5,
      "window_s":60,
      "since":$((now - 75))
    }
  ],
  "version":1,
  "saved_at":$now
}
EOF
	chmod 0600 "$DIR/state/firing.json.tmp"
	mv -f "$DIR/state/firing.json.tmp" "$DIR/state/firing.json"
}

write_textfile
write_firing_state

# ---------------------------------------------------------------- without a terminal

out=$(timeout -k 5 20 "$AW_BIN" top -c "$CONFIG" </dev/null 2>&1)
status=$?
((status == 0)) && grep -q '^!hog  *small  *######  180%' <<<"$out" &&
	grep -q "^FIRING OVERUSE ALERTS: 1 (from the agent's firing.json)" <<<"$out" &&
	! grep -q 'quit' <<<"$out"
check top_printout "$?" "top | cat: status $status (want 0), printed: $(head -n 8 <<<"$out")"

# ---------------------------------------------------------------- tmux

if ! command -v tmux >/dev/null; then
	skip_all "tmux not installed (Debian package tmux)"
	e2e_finish
fi
TMUX_SOCKET=$E2E_TMP/tmux.socket
tm() {
	tmux -S "$TMUX_SOCKET" "$@"
}
on_cleanup tmux -S "'$TMUX_SOCKET'" kill-server

# new_shell NAME WIDTH HEIGHT: a bash without start-up files in a detached
# window of that size, no status line. Its prompt is "$ ".
new_shell() {
	local name=$1 width=$2 height=$3
	tm new-session -d -s "$name" -x "$width" -y "$height" \
		"env PS1='\$ ' TERM=screen bash --norc --noprofile" || return 1
	tm set-option -t "$name" status off >/dev/null
	tm resize-window -t "$name" -x "$width" -y "$height" 2>/dev/null
	wait_screen "$name" 5 '^\$'
}

# wait_screen NAME SECONDS REGEX: polls the screen (into SCREEN) until a
# line matches the extended REGEX; status 1 on time-out.
wait_screen() {
	local name=$1 limit=$2 regex=$3 i
	for ((i = 0; i < limit * 10; i++)); do
		SCREEN=$(tm capture-pane -p -t "$name" 2>/dev/null)
		grep -qE -- "$regex" <<<"$SCREEN" && return 0
		sleep 0.1
	done
	return 1
}

# rows: the tenants of the table on $SCREEN, in order (the '!' mark dropped).
rows() {
	awk '/^ TENANT/ { table = 1; next }
		table && /^$/ { exit }
		table && /^[! ]/ { name = substr($0, 2, 17); sub(/ +$/, "", name); printf "%s ", name }' <<<"$SCREEN"
}

row_of() {
	grep -E "^[! ]$1 " <<<"$SCREEN" | head -n 1
}

if ! new_shell main 80 24; then
	skip_all "tmux did not start a shell: $(tm capture-pane -p -t main 2>&1 | tail -n 1)"
	e2e_finish
fi
tm send-keys -t main "clear; echo BEFORE-TOP; stty -a > '$DIR/stty.before'" Enter
wait_screen main 5 '^BEFORE-TOP' || e2e_log "no BEFORE-TOP on the screen: $SCREEN"
tm send-keys -t main "'$AW_BIN' top -c '$CONFIG'; echo TOP-EXIT \$?" Enter

# ---- sorted by usage against the limits, with bars
if ! wait_screen main 10 '^ TENANT'; then
	fail_all "top showed no table within 10 s; screen: $SCREEN"
	e2e_finish
fi
wait_screen main 3 'textfile [0-9.]+s old'
order=$(rows)
hog=$(row_of hog)
calm=$(row_of calm)
bulk=$(row_of bulk)
[[ $order == "hog mid calm bulk " ]] && [[ $hog == '!hog '*'######  180% #.....   10%'* ]] &&
	[[ $calm == ' calm '*'#.....   10% ###...   49%'* ]] && [[ $bulk == *' 2.0G '* ]] &&
	grep -q '^sort by \[u\]sage \[c\]pu \[m\]emory \[d\]isk \[n\]etwork \[t\]enant (now: usage)  \[q\]uit' <<<"$SCREEN"
check top_sorted_with_bars "$?" "rows: $order (want hog mid calm bulk); hog: $hog; calm: $calm; bulk: $bulk; footer: $(tail -n 1 <<<"$SCREEN")"

# ---- the firing alert, from the agent's firing state
alert=$(grep -E '^ hog +cpu +plan ' <<<"$SCREEN")
grep -q "^FIRING OVERUSE ALERTS: 1 (from the agent's firing.json)" <<<"$SCREEN" &&
	[[ $alert =~ 0\.90\ cores\ \>\ 0\.50\ cores\ +for\ 1m[1-5][0-9]s ]]
check top_firing_alert "$?" "alerts section: $(grep -A 1 '^FIRING' <<<"$SCREEN" | tr '\n' '|')"

# ---- sort keys
tm send-keys -t main m
wait_screen main 3 '\(now: memory\)'
by_memory=$(rows)
header_memory=$(grep '^ TENANT' <<<"$SCREEN")
tm send-keys -t main t
wait_screen main 3 '\(now: tenant\)'
by_tenant=$(rows)
tm send-keys -t main c
wait_screen main 3 '\(now: cpu\)'
by_cpu=$(rows)
[[ $by_memory == "calm hog bulk mid " && $header_memory == *MEMORY\** ]] &&
	[[ $by_tenant == "bulk calm hog mid " && $by_cpu == "hog mid calm bulk " ]]
check top_sort_keys "$?" "m: $by_memory (want calm hog bulk mid) header: $header_memory; t: $by_tenant (want bulk calm hog mid); c: $by_cpu (want hog mid calm bulk)"

# ---- a new textfile shows within the refresh (1 s)
tm send-keys -t main u
write_textfile 'abusewatch_tenant_usage_ratio{tenant="late",plan="small",resource="cpu"} 3' \
	'abusewatch_tenant_over_limit{tenant="late",plan="small",resource="cpu"} 1'
start=$(date +%s.%N)
wait_screen main 5 '^!late '
seen=$?
took=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
order=$(rows)
((seen == 0)) && [[ $order == "hog late mid calm bulk " || $order == "late hog mid calm bulk " ]] &&
	grep -q 'tenants, 2 over a limit' <<<"$SCREEN"
check top_live_refresh "$?" "new tenant late on screen after ${took} s (want <= 5): rows $order; title: $(head -n 1 <<<"$SCREEN")"

# ---- 80 columns, also in a wider terminal
widest=0
if new_shell wide 120 30; then
	tm send-keys -t wide "'$AW_BIN' top -c '$CONFIG'" Enter
	if wait_screen wide 10 '\[q\]uit'; then
		widest=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' <<<"$SCREEN")
		narrow=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 0 }' <<<"$(tm capture-pane -p -t main)")
	fi
	tm send-keys -t wide q
fi
((widest > 70 && widest <= 80 && ${narrow:-99} <= 80))
check top_fits_80_columns "$?" "widest line: $widest columns in a 120-column terminal, ${narrow:-?} in an 80-column one (want <= 80)"

# ---- q: the shell's screen, cursor and terminal modes come back
tm send-keys -t main q
wait_screen main 5 '^TOP-EXIT '
exit_line=$(grep '^TOP-EXIT ' <<<"$SCREEN")
flags=$(tm display-message -p -t main '#{alternate_on} #{cursor_flag} #{keypad_cursor_flag}')
tm send-keys -t main "stty -a > '$DIR/stty.after'; echo STTY-DONE" Enter
wait_screen main 5 '^STTY-DONE'
[[ $exit_line == "TOP-EXIT 0" && $flags == "0 1 0" ]] && grep -q '^BEFORE-TOP' <<<"$SCREEN" &&
	! grep -q 'FIRING\|TENANT' <<<"$SCREEN" && cmp -s "$DIR/stty.before" "$DIR/stty.after"
check top_quit_restores_terminal "$?" "after q: '$exit_line' (want TOP-EXIT 0); alternate screen, cursor shown, keypad mode: $flags (want 0 1 0); shell screen back: $(grep -c '^BEFORE-TOP' <<<"$SCREEN"); stty -a before and after: $(diff <(tr ';' '\n' <"$DIR/stty.before") <(tr ';' '\n' <"$DIR/stty.after") | tr '\n' ' ')"

# ---------------------------------------------------------------- a real agent

if ((EUID != 0)) || [[ ! -r /sys/kernel/btf/vmlinux ]] || [[ -z $(e2e_v2_root) ]]; then
	skip top_real_agent "needs root, BTF and cgroup v2 (the agent's probes)"
	e2e_finish
fi
if [[ ! -x $AW_TOOLS/incg || ! -x $AW_TOOLS/burn ]]; then
	fail top_real_agent "$AW_TOOLS/incg or burn is not built (run make test-tools)"
	e2e_finish
fi
e2e_setup || e2e_finish
write_config top-agent "plans:
  default:
    cpu: 0.2
    window: 2s
    for: 1s
alerts:
  alertmanager: []" || {
	fail top_real_agent "cannot write the configuration"
	e2e_finish
}
HOG=$(tenant_cgroup hog) && QUIET=$(tenant_cgroup quiet) || {
	fail top_real_agent "cannot create the tenant cgroups"
	e2e_finish
}
agent_or_report top_real_agent "$AW_CONFIG" || e2e_finish
"$AW_TOOLS/incg" "$QUIET" sleep 30 &
on_cleanup kill $!
"$AW_TOOLS/incg" "$HOG" "$AW_TOOLS/burn" 20 &
on_cleanup kill $!

tm send-keys -t main "clear; '$AW_BIN' top -c '$AW_CONFIG'" Enter
wait_screen main 15 '^ hog +cpu +plan '
hog=$(row_of hog)
quiet=$(row_of quiet)
alert=$(grep -E '^ hog +cpu +plan ' <<<"$SCREEN")
percent=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /%$/) { sub(/%/, "", $i); sub(/>/, "", $i); print $i; exit } }' <<<"$hog")
ratio=$(awk '$1 == "abusewatch_tenant_usage_ratio{tenant=\"hog\",plan=\"default\",resource=\"cpu\"}" { print $2 }' "$AW_TEXTFILE")
[[ $hog == '!hog '*'######'* && $quiet == ' quiet '* ]] && num_cmp "${percent:-0}" ">" 100 &&
	[[ $(rows) == "hog quiet " ]] &&
	grep -q "^FIRING OVERUSE ALERTS: 1 (from the agent's firing.json)" <<<"$SCREEN" &&
	[[ $alert == *' > 0.20 cores'* ]]
check top_real_agent "$?" "hog burning one core on a 0.2-core plan: row '$hog' (${percent:-?}%, textfile ratio ${ratio:-?}), quiet: '$quiet', alert: '${alert:-none}'; screen: $(head -n 12 <<<"$SCREEN" | tr '\n' '|')"
tm send-keys -t main q
e2e_finish
