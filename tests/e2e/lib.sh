# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared helpers for the end-to-end tests. A test sources this file, names
# its cases with e2e_cases, checks its requirements, builds its cgroups under
# a private tree and records one PASS/FAIL/SKIP per case. Everything it
# started (cgroups, processes in them, the agent) goes away on exit, also
# when the test fails or is killed.
#
# Results go to $AW_RESULTS (set by tests/run-tests), one line each:
#   PASS name | FAIL name: reason | SKIP name: reason
# Run alone, a test prints them on stdout instead.
#
# Layout of the private cgroup tree (relative to the v2 root):
#   /abusewatch-test-PID-RANDOM/tenants/NAME/...   tenants (pattern {tenant}/**)
#   /abusewatch-test-PID-RANDOM/host               workloads that are no tenant

set -uo pipefail

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AW_BIN=${AW_BIN:-$E2E_REPO/build/abusewatch}
AW_TOOLS=${AW_TOOLS:-$E2E_REPO/build/tools}
E2E_NAME=$(basename "$0" .sh)
# Must match the --interval that start_agent passes.
AW_INTERVAL=0.2

E2E_CASES=()
declare -A E2E_RECORDED=()
E2E_TMP=""
AWTEST=""
AWTEST_REL=""
AW_TENANTS=""
AW_HOST_CG=""
AGENT_PID=""
AGENT_LOG=""
AGENT_REASON=""
AGENT_EXIT=""
E2E_CLEANUPS=()
# Copies of the configurations agents started with (a test may rewrite
# one, even into an invalid one): their pinned probes are removed at exit.
E2E_AGENT_CONFIGS=()

# ---------------------------------------------------------------- results

e2e__record() {
	local line=$1
	line=${line//$'\n'/ }
	if [[ -n ${AW_RESULTS:-} ]]; then
		printf '%s\n' "$line" >>"$AW_RESULTS"
	else
		printf '%s\n' "$line"
	fi
}

# e2e_cases NAME...: the cases this file reports. A case left unreported
# when the file ends is recorded as a failure, so a crash is never silent.
e2e_cases() {
	E2E_CASES+=("$@")
}

pass() {
	E2E_RECORDED[$1]=1
	e2e__record "PASS $1"
}

fail() {
	E2E_RECORDED[$1]=1
	e2e__record "FAIL $1: ${2:-failed}"
	e2e_log "FAIL $1: ${2:-failed}"
}

skip() {
	E2E_RECORDED[$1]=1
	e2e__record "SKIP $1: ${2:-skipped}"
}

# check NAME STATUS REASON: pass when STATUS is 0, else fail with REASON.
# Pass "$?" first: the command substitutions in REASON change $? before the
# function runs, but words expand left to right.
#   [[ ... ]]
#   check case "$?" "reason with $(details)"
check() {
	if [[ $2 == 0 ]]; then
		pass "$1"
	else
		fail "$1" "$3"
	fi
}

# Records every case not recorded yet as skipped (or failed, with fail_all).
skip_all() {
	local name
	for name in "${E2E_CASES[@]}"; do
		[[ -n ${E2E_RECORDED[$name]:-} ]] || skip "$name" "$1"
	done
}

fail_all() {
	local name
	for name in "${E2E_CASES[@]}"; do
		[[ -n ${E2E_RECORDED[$name]:-} ]] || fail "$name" "$1"
	done
}

# report_each "case1 case2" STATUS REASON: records the same outcome for
# several cases, e.g. when the agent they all need did not start.
report_each() {
	local name
	for name in $1; do
		case $2 in
		skip) skip "$name" "$3" ;;
		*) fail "$name" "$3" ;;
		esac
	done
}

e2e_log() {
	printf '%s: %s\n' "$E2E_NAME" "$*" >&2
}

# ---------------------------------------------------------------- requirements

# The cgroup v2 mount point, from /proc/mounts (unified on hybrid hosts).
e2e_v2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

# Returns 1 after recording every case skipped when this machine cannot
# run BPF end-to-end tests.
e2e_require_root_bpf() {
	if ((EUID != 0)); then
		skip_all "not root"
		return 1
	fi
	if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
		skip_all "no /sys/kernel/btf/vmlinux (kernel without BTF)"
		return 1
	fi
	if [[ -z $(e2e_v2_root) ]]; then
		skip_all "no cgroup2 mount in /proc/mounts"
		return 1
	fi
	return 0
}

# Returns 1 after recording every case failed when the agent or the test
# tools are not built (make test builds them before running the tests).
# e2e_require_commands CMD...: every case skipped, saying which, when a
# command is missing; status 1 then.
e2e_require_commands() {
	local command
	for command in "$@"; do
		command -v "$command" >/dev/null || {
			skip_all "needs $command"
			return 1
		}
	done
}

# e2e_fake_miner: linger copied as $E2E_TMP/bin/xmrig, a miner by name that
# does nothing; sets BIN. After e2e_setup; status 1 (cases failed) when not.
e2e_fake_miner() {
	BIN=$E2E_TMP/bin
	mkdir -p "$BIN" && cp "$AW_TOOLS/linger" "$BIN/xmrig" || {
		fail_all "cannot copy linger to $BIN/xmrig"
		return 1
	}
}

e2e_require_build() {
	local tool
	if [[ ! -x $AW_BIN ]]; then
		fail_all "$AW_BIN is not built (run make)"
		return 1
	fi
	for tool in "$@"; do
		if [[ ! -x $AW_TOOLS/$tool ]]; then
			fail_all "$AW_TOOLS/$tool is not built (run make test-tools)"
			return 1
		fi
	done
	return 0
}

# ---------------------------------------------------------------- setup

# Creates the temporary directory and the private cgroup tree, and installs
# the cleanup. Returns 1 (cases failed) when that is impossible.
# e2e_tmpdir: only the temporary directory $E2E_TMP (tests without cgroups).
e2e_tmpdir() {
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/abusewatch-e2e.XXXXXX") || {
		fail_all "mktemp failed"
		return 1
	}
}

e2e_setup() {
	local v2
	e2e_tmpdir || return 1
	v2=$(e2e_v2_root)
	AWTEST_REL=/abusewatch-test-$$-$RANDOM
	AWTEST=$v2$AWTEST_REL
	AW_TENANTS=$AWTEST/tenants
	AW_HOST_CG=$AWTEST/host
	if ! mkdir "$AWTEST" || ! mkdir "$AW_TENANTS" "$AW_HOST_CG"; then
		fail_all "cannot create the test cgroups under $v2"
		return 1
	fi
	return 0
}

# tenant_cgroup NAME [CHILD...]: creates tenants/NAME (and NAME/CHILD) and
# prints the tenant's directory.
tenant_cgroup() {
	local dir=$AW_TENANTS/$1 child
	shift
	mkdir -p "$dir" || return 1
	for child in "$@"; do
		mkdir -p "$dir/$child" || return 1
	done
	printf '%s\n' "$dir"
}

# on_cleanup COMMAND...: run at exit, before the cgroups are removed.
on_cleanup() {
	E2E_CLEANUPS+=("$*")
}

# Kills every process in the cgroup tree DIR and waits (<= 10 s) until it
# is empty.
cgroup_kill_tree() {
	local dir=$1 procs pid i
	[[ -d $dir ]] || return 0
	for ((i = 0; i < 100; i++)); do
		if [[ -e $dir/cgroup.kill ]]; then
			echo 1 >"$dir/cgroup.kill" 2>/dev/null
		else
			while IFS= read -r procs; do
				while IFS= read -r pid; do
					kill -KILL "$pid" 2>/dev/null
				done <"$procs"
			done < <(find "$dir" -name cgroup.procs 2>/dev/null)
		fi
		grep -q '^populated 0' "$dir/cgroup.events" 2>/dev/null && return 0
		sleep 0.1
	done
	e2e_log "processes left in $dir after 10 s"
	return 1
}

# Removes the cgroup tree DIR, children first.
cgroup_remove_tree() {
	local dir=$1 i
	[[ -d $dir ]] || return 0
	cgroup_kill_tree "$dir"
	for ((i = 0; i < 50; i++)); do
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
		[[ -d $dir ]] || return 0
		sleep 0.1
	done
	e2e_log "cannot remove $dir"
	return 1
}

e2e__cleanup() {
	local status=$? cmd name
	trap - EXIT INT TERM HUP
	stop_agent >/dev/null 2>&1
	unpin_agents
	for cmd in "${E2E_CLEANUPS[@]}"; do
		eval "$cmd" >/dev/null 2>&1
	done
	[[ -n $AWTEST ]] && cgroup_remove_tree "$AWTEST"
	for name in "${E2E_CASES[@]}"; do
		# Recorded quietly: the log's last line should stay the real error.
		[[ -n ${E2E_RECORDED[$name]:-} ]] ||
			e2e__record "FAIL $name: $E2E_NAME.sh ended (status $status) before this case was reported"
	done
	if [[ -n $E2E_TMP && -d $E2E_TMP ]]; then
		if [[ -n ${AW_KEEP_TMP:-} ]]; then
			e2e_log "kept $E2E_TMP"
		else
			rm -rf "$E2E_TMP"
		fi
	fi
	exit "$status"
}

trap e2e__cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------- agent

# write_config NAME [YAML]: writes a configuration whose tenants are the
# children of the private tree's tenants/ cgroup, all on plan "default",
# into $E2E_TMP/NAME. YAML, when given, replaces the plans and alerts
# sections (default: plan "default" without limits, no Alertmanager). Sets
# AW_CONFIG, AW_DIR, AW_EVENTS and AW_TEXTFILE (which is alone in its
# directory, for node_exporter's textfile collector). AW_AGENT_EXTRA and
# AW_RULE_EXTRA, when set, are more lines for the agent section and for the
# tenant rule (indented as they go: two and four spaces); AW_RULES_EXTRA,
# more tenant rules tried before it (indented two spaces, "- cgroup: ...").
write_config() {
	local tail=${2:-}
	AW_DIR=$E2E_TMP/$1
	AW_CONFIG=$AW_DIR/config.yaml
	AW_TEXTFILE=$AW_DIR/textfile/abusewatch.prom
	AW_EVENTS=$AW_DIR/events.jsonl
	mkdir -p "$AW_DIR/textfile" "$AW_DIR/state" || return 1
	if [[ -z $tail ]]; then
		tail='plans:
  default:
    window: 60s
alerts:
  alertmanager: []'
	fi
	# AW_AGENT_EXTRA / AW_RULE_EXTRA: more lines (indented) for agent: and the tenant rule.
	cat >"$AW_CONFIG" <<EOF
agent:
  interval: 200ms
  textfile: "$AW_TEXTFILE"
  events_log: "$AW_EVENTS"
  state_dir: "$AW_DIR/state"
  hostname: e2e-node
${AW_AGENT_EXTRA:-}
tenants:
${AW_RULES_EXTRA:-}
  - cgroup: "$AWTEST_REL/tenants/{tenant}/**"
    plan: default
${AW_RULE_EXTRA:-}
$tail
EOF
}

# start_agent CONFIG [ARGS...]: starts the agent in the background and waits
# (<= 15 s) for its first textfile. Returns 0 when it runs, 2 when it cannot
# load its probes here (exit code 2: a reason to skip), 1 otherwise; the
# reason is in AGENT_REASON.
start_agent() {
	local config=$1 textfile i status
	shift
	textfile=$(awk '$1 == "textfile:" { $1 = ""; sub(/^ +/, ""); gsub(/"/, ""); print; exit }' "$config")
	if [[ -z $textfile ]]; then
		AGENT_REASON="no textfile in $config"
		return 1
	fi
	rm -f "$textfile"
	E2E_AGENT_CONFIGS+=("$E2E_TMP/unpin.${#E2E_AGENT_CONFIGS[@]}.yaml")
	cp "$config" "${E2E_AGENT_CONFIGS[-1]}"
	AGENT_LOG=$(mktemp "$E2E_TMP/agent.XXXXXX.log")
	AGENT_REASON=""
	AGENT_EXIT=""
	"$AW_BIN" run -c "$config" --interval "$AW_INTERVAL" "$@" 2>"$AGENT_LOG" &
	AGENT_PID=$!
	for ((i = 0; i < 150; i++)); do
		[[ -s $textfile ]] && return 0
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID"
			status=$?
			AGENT_PID=""
			AGENT_REASON="agent exited with status $status: $(agent_last_log)"
			((status == 2)) && return 2
			return 1
		fi
		sleep 0.1
	done
	AGENT_REASON="no textfile $textfile after 15 s: $(agent_last_log)"
	stop_agent
	return 1
}

# The agents leave their probes pinned in bpffs, counting, for the next
# start (abusewatch unpin): every configuration started here gets them
# removed, so that no test leaves probes behind.
unpin_agents() {
	local config
	for config in "${E2E_AGENT_CONFIGS[@]}"; do
		[[ -f $config ]] && "$AW_BIN" unpin -c "$config" >/dev/null 2>&1
	done
	E2E_AGENT_CONFIGS=()
}

agent_last_log() {
	local line
	line=$(grep -v '^[[:space:]]*$' "$AGENT_LOG" 2>/dev/null | tail -n 1)
	printf '%s\n' "${line:-(no log)}"
}

# agent_or_report "CASE..." CONFIG [ARGS...]: start_agent, and when it does
# not start record the cases as skipped (exit 2) or failed. Returns 1 then.
agent_or_report() {
	local cases=$1 status
	shift
	start_agent "$@"
	status=$?
	case $status in
	0) return 0 ;;
	2) report_each "$cases" skip "$AGENT_REASON" ;;
	*) report_each "$cases" fail "$AGENT_REASON" ;;
	esac
	return 1
}

# Sends SIGTERM and waits (<= 10 s, then SIGKILL). The agent writes its
# textfile once more on the way out. AGENT_EXIT holds its exit status.
stop_agent() {
	local i
	[[ -n $AGENT_PID ]] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		e2e_log "agent ignored SIGTERM for 10 s; killing it"
		kill -KILL "$AGENT_PID" 2>/dev/null
	fi
	wait "$AGENT_PID" 2>/dev/null
	AGENT_EXIT=$?
	AGENT_PID=""
	if ((AGENT_EXIT != 0)); then
		e2e_log "agent exited with status $AGENT_EXIT: $(agent_last_log)"
	fi
	return 0
}

# ---------------------------------------------------------------- textfile

# The text format's escaping of a label value.
escape_label() {
	local value=$1
	value=${value//\\/\\\\}
	value=${value//\"/\\\"}
	value=${value//$'\n'/\\n}
	printf '%s' "$value"
}

# metric NAME TENANT [FILE]: prints the value of NAME{tenant="TENANT",...}
# from the textfile (default $AW_TEXTFILE); status 1 when there is no such
# series.
metric() {
	local want
	want="tenant=\"$(escape_label "$2")\""
	AW_WANT=$want AW_NAME=$1 awk '
		BEGIN { name = ENVIRON["AW_NAME"]; want = ENVIRON["AW_WANT"] }
		index($0, name "{") == 1 {
			if (index($0, "{" want ",") || index($0, "{" want "}") ||
			    index($0, "," want ",") || index($0, "," want "}")) {
				print $NF
				found = 1
				exit
			}
		}
		END { exit !found }' "${3:-$AW_TEXTFILE}"
}

# wait_metric SECONDS NAME TENANT OP VALUE: waits until the textfile's
# NAME{tenant=TENANT} compares OP VALUE (see num_cmp); prints the last value
# read, status 1 on time-out.
wait_metric() {
	local limit=$1 name=$2 tenant=$3 op=$4 want=$5 value="" i
	for ((i = 0; i < limit * 10; i++)); do
		value=$(metric "$name" "$tenant")
		num_cmp "$value" "$op" "$want" && {
			printf '%s\n' "$value"
			return 0
		}
		sleep 0.1
	done
	printf '%s\n' "${value:-missing}"
	return 1
}

# metric_global NAME [FILE]: the value of the first sample of NAME (with or
# without labels).
metric_global() {
	AW_NAME=$1 awk '
		BEGIN { name = ENVIRON["AW_NAME"] }
		index($0, name " ") == 1 || index($0, name "{") == 1 { print $NF; found = 1; exit }
		END { exit !found }' "${2:-$AW_TEXTFILE}"
}

# has_tenant TENANT [FILE]: true when any series carries that tenant label.
has_tenant() {
	local want
	want="tenant=\"$(escape_label "$1")\""
	AW_WANT=$want awk '
		BEGIN { want = ENVIRON["AW_WANT"] }
		/^#/ { next }
		index($0, "{" want ",") || index($0, "{" want "}") ||
		index($0, "," want ",") || index($0, "," want "}") { found = 1; exit }
		END { exit !found }' "${2:-$AW_TEXTFILE}"
}

# ---------------------------------------------------------------- numbers

# is_number VALUE: a decimal or exponent number as the text format writes it.
is_number() {
	[[ $1 =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}

# within_pct ACTUAL EXPECTED PCT: |actual - expected| <= expected * pct / 100.
within_pct() {
	is_number "$1" && is_number "$2" || return 1
	awk -v a="$1" -v e="$2" -v p="$3" 'BEGIN {
		d = a - e; if (d < 0) d = -d
		m = e < 0 ? -e : e
		exit !(d <= m * p / 100)
	}'
}

# num_cmp A OP B: numeric comparison (floats), OP one of < <= == >= > !=.
num_cmp() {
	is_number "$1" && is_number "$3" || return 1
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		a += 0; b += 0
		if (op == "<") r = a < b
		else if (op == "<=") r = a <= b
		else if (op == ">=") r = a >= b
		else if (op == ">") r = a > b
		else if (op == "==") r = a == b
		else if (op == "!=") r = a != b
		exit !r
	}'
}

# The cgroup's own CPU time in seconds (cpu.stat usage_usec exists on every
# v2 cgroup, also without the cpu controller, and includes dead children).
cgroup_cpu_seconds() {
	awk '$1 == "usage_usec" { printf "%.6f\n", $2 / 1e6; found = 1 } END { exit !found }' "$1/cpu.stat"
}

# wait_intervals N: sleeps N agent intervals.
wait_intervals() {
	sleep "$(awk -v n="$1" -v i="$AW_INTERVAL" 'BEGIN { print n * i }')"
}

# A TCP port on 127.0.0.1 that no socket uses now, below the ephemeral
# range (where outgoing connections would take it while a server starts).
free_port() {
	local port i low
	low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	((${low:-0} > 12000)) || low=32768
	for ((i = 0; i < 100; i++)); do
		port=$((10000 + RANDOM % (low - 10000)))
		if ! ss -Hatn "sport = :$port" 2>/dev/null | grep -q .; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	return 1
}

# start_listener NAME TOOL ARGS...: starts build/tools/TOOL with ARGS,
# where the argument PORT becomes a free port, outside every tenant, and
# waits (<= 5 s) for it to print "listening" on stderr; its stdout and
# stderr go to $E2E_TMP/NAME.out and NAME.err. Tries five ports. Sets
# LISTEN_PORT and LISTEN_PID (the process is killed at exit). Status 1
# when it did not start.
start_listener() {
	local name=$1 tool=$2 try i arg args
	shift 2
	LISTEN_PORT=""
	LISTEN_PID=""
	for ((try = 0; try < 5; try++)); do
		LISTEN_PORT=$(free_port) || break
		args=()
		for arg in "$@"; do
			[[ $arg == PORT ]] && arg=$LISTEN_PORT
			args+=("$arg")
		done
		"$AW_TOOLS/incg" "$AW_HOST_CG" "$AW_TOOLS/$tool" "${args[@]}" \
			>"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
		LISTEN_PID=$!
		for ((i = 0; i < 50; i++)); do
			if grep -q '^listening' "$E2E_TMP/$name.err"; then
				on_cleanup kill "$LISTEN_PID"
				return 0
			fi
			kill -0 "$LISTEN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$LISTEN_PID" 2>/dev/null
		wait "$LISTEN_PID" 2>/dev/null
	done
	LISTEN_PORT=""
	LISTEN_PID=""
	return 1
}

# disk_backed_dir NAME: makes a new directory named after NAME on a
# disk-backed file system (build/ or /var/tmp, not tmpfs), removed at exit,
# and sets DISK_BACKED_DIR to it; status 1 when there is none. Call it in
# the test's own shell, not in $(...): a subshell's cleanup is lost, and
# the directory with it.
disk_backed_dir() {
	local base dir
	DISK_BACKED_DIR=""
	for base in "$E2E_REPO/build" /var/tmp; do
		case $(stat -f -c %T "$base" 2>/dev/null) in
		"" | tmpfs | ramfs) continue ;;
		esac
		dir=$(mktemp -d "$base/abusewatch-e2e-$1.XXXXXX") || continue
		on_cleanup rm -rf "'$dir'"
		# shellcheck disable=SC2034 # the caller's
		DISK_BACKED_DIR=$dir
		return 0
	done
	return 1
}

# e2e_finish: ends the file normally (cleanup runs from the EXIT trap).
e2e_finish() {
	exit 0
}

# start_fault_server MODE [NAME [ARGS...]]: tests/tools/fault_server.py
# outside every tenant, answering as MODE says until its mode file changes;
# waits (<= 10 s) for its port. Sets FS_PORT, FS_MODE (the mode file) and
# FS_OUT (what it recorded); non-zero when it did not start
# ($E2E_TMP/NAME.err says why). NAME (default "server") names its files, so
# that a test can run several; ARGS go to the server (e.g. --cert, --key).
start_fault_server() {
	local i name=${2:-server}
	FS_MODE=$E2E_TMP/$name.mode
	FS_OUT=$E2E_TMP/$name.jsonl
	echo "$1" >"$FS_MODE"
	: >"$FS_OUT"
	"$AW_TOOLS/incg" "$AW_HOST_CG" python3 "$E2E_REPO/tests/tools/fault_server.py" \
		--port-file "$E2E_TMP/$name.port" --mode-file "$FS_MODE" --out "$FS_OUT" "${@:3}" \
		2>"$E2E_TMP/$name.err" &
	on_cleanup kill "$!"
	for ((i = 0; i < 100; i++)); do
		[[ -s $E2E_TMP/$name.port ]] && break
		sleep 0.1
	done
	FS_PORT=$(cat "$E2E_TMP/$name.port" 2>/dev/null)
	[[ -n $FS_PORT ]]
}

# ---------------------------------------------------------------- node_exporter

NE_BIN=$(command -v prometheus-node-exporter || command -v node_exporter || true)
NE_PORT=""
NE_PID=""

# start_node_exporter DIR: Debian's node_exporter on 127.0.0.1 (a free
# port; five tries) with only its textfile collector, reading DIR, outside
# every tenant; its log in $E2E_TMP/node_exporter.log. Waits (<= 10 s) for
# /metrics. Sets NE_PORT and NE_PID (killed at exit); status 1 when it did
# not start.
start_node_exporter() {
	local dir=$1 try i
	[[ -n $NE_BIN ]] || return 1
	for ((try = 0; try < 5; try++)); do
		NE_PORT=$(free_port) || return 1
		"$AW_TOOLS/incg" "$AW_HOST_CG" "$NE_BIN" --web.listen-address="127.0.0.1:$NE_PORT" \
			--collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$dir" \
			>"$E2E_TMP/node_exporter.log" 2>&1 &
		NE_PID=$!
		on_cleanup kill "$NE_PID"
		for ((i = 0; i < 100; i++)); do
			curl -sf -o /dev/null "http://127.0.0.1:$NE_PORT/metrics" && return 0
			kill -0 "$NE_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$NE_PID" 2>/dev/null
		wait "$NE_PID" 2>/dev/null
	done
	return 1
}

# ---------------------------------------------------------------- alertmanager

AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
AM_PORT=""
AM_PID=""
AM_REASON=""

# alertmanager_or_none: starts Alertmanager for a test whose Alertmanager
# checks are optional. Sets AM (yes, or empty when it did not start: the
# reason is logged) and AM_CONFIG, the config line naming it, or none.
alertmanager_or_none() {
	AM=""
	start_alertmanager && AM=yes
	if [[ -n $AM ]]; then
		AM_CONFIG="alertmanager: [\"http://127.0.0.1:$AM_PORT\"]"
	else
		e2e_log "no Alertmanager ($AM_REASON): its checks are left out"
		AM_CONFIG="alertmanager: []"
	fi
}

# start_alertmanager [PORT]: Debian's Alertmanager on 127.0.0.1:PORT (a free
# port by default), clustering off, its data under $E2E_TMP; waits (<= 20 s)
# until it is ready. Sets AM_PORT and AM_PID. Non-zero when it did not
# start, with the reason in AM_REASON.
start_alertmanager() {
	local dir=$E2E_TMP/alertmanager i
	AM_REASON="(not installed)"
	[[ -n $AM_BIN ]] || return 1
	AM_REASON="(no free port)"
	AM_PORT=${1:-$(free_port)} || return 1
	AM_REASON="(cannot make $dir)"
	mkdir -p "$dir/data" || return 1
	cat >"$dir/alertmanager.yml" <<AMCONFIG
route:
  receiver: discard
receivers:
  - name: discard
AMCONFIG
	"$AW_TOOLS/incg" "$AW_HOST_CG" "$AM_BIN" --config.file="$dir/alertmanager.yml" \
		--storage.path="$dir/data" --web.listen-address="127.0.0.1:$AM_PORT" \
		--cluster.listen-address= >>"$dir/log" 2>&1 &
	AM_PID=$!
	on_cleanup kill "$AM_PID"
	for ((i = 0; i < 200; i++)); do
		curl -sf -o /dev/null "http://127.0.0.1:$AM_PORT/-/ready" && return 0
		kill -0 "$AM_PID" 2>/dev/null || break
		sleep 0.1
	done
	AM_REASON="on port $AM_PORT after $((i / 10)) s: $(tail -n 1 "$dir/log" 2>/dev/null)"
	e2e_log "alertmanager did not start $AM_REASON"
	return 1
}

# require_alertmanager: start_alertmanager, or every case of the file
# skipped with the reason. Use: require_alertmanager || e2e_finish
require_alertmanager() {
	local try
	for ((try = 0; try < 3; try++)); do
		start_alertmanager && return 0
		# A port taken between choosing and binding: another one.
		[[ $AM_REASON == *"address already in use"* ]] || break
		stop_alertmanager
	done
	skip_all "Alertmanager ($AM_BIN, Debian package prometheus-alertmanager) did not start on 127.0.0.1 $AM_REASON"
	return 1
}

stop_alertmanager() {
	[[ -n $AM_PID ]] || return 0
	kill "$AM_PID" 2>/dev/null
	wait "$AM_PID" 2>/dev/null
	AM_PID=""
}

# am_alert LABEL=VALUE...: prints, as JSON, the first alert Alertmanager
# holds (GET /api/v2/alerts, active or not yet resolved) whose labels match;
# status 1 when there is none.
am_alert() {
	curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts" 2>/dev/null |
		python3 -c '
import json, sys
want = dict(arg.split("=", 1) for arg in sys.argv[1:])
try:
    alerts = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for alert in alerts:
    labels = alert.get("labels", {})
    if all(labels.get(k) == v for k, v in want.items()):
        print(json.dumps(alert))
        sys.exit(0)
sys.exit(1)' "$@"
}

# wait_am_alert SECONDS LABEL=VALUE...: polls am_alert every 0.1 s; prints
# the seconds waited (status 0) or nothing (status 1).
wait_am_alert() {
	local limit=$1 start
	shift
	start=$(date +%s.%N)
	while num_cmp "$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { print n - s }')" "<" "$limit"; do
		if am_alert "$@" >/dev/null; then
			awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", n - s }'
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# events_count FILE FIELD=VALUE...: how many records of the events log
# FILE have every FIELD equal to VALUE (compared as text).
events_count() {
	local file=$1
	shift
	python3 -c '
import json, sys
want = dict(arg.split("=", 1) for arg in sys.argv[2:])
count = 0
try:
    with open(sys.argv[1]) as log:
        for line in log:
            record = json.loads(line)
            if all(str(record.get(k)) == v for k, v in want.items()):
                count += 1
except FileNotFoundError:
    pass
print(count)' "$file" "$@"
}

# first_record_check KIND TENANT RULE PYTHON-CONDITION: "ok" when the first
# firing record of TENANT and RULE in $AW_EVENTS is of KIND and satisfies
# the condition on r, else "bad: RECORD" or "missing".
first_record_check() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == sys.argv[3] and r.get("rule") == sys.argv[4] and r.get("state") == "firing":
        ok = r["kind"] == sys.argv[2] and eval(sys.argv[5])
        print("ok" if ok else "bad: " + line.strip())
        break
else:
    print("missing")' "$AW_EVENTS" "$@" 2>&1
}

# wait_events SECONDS FILE FIELD=VALUE...: waits until such a record is in
# the events log; prints the seconds waited, status 1 on time-out.
wait_events() {
	local limit=$1 file=$2 start
	shift 2
	start=$(date +%s.%N)
	while num_cmp "$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { print n - s }')" "<" "$limit"; do
		if (($(events_count "$file" "$@") > 0)); then
			awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", n - s }'
			return 0
		fi
		sleep 0.1
	done
	return 1
}
