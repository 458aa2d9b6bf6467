#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make valgrind`: the agent under valgrind for VALGRIND_SECONDS (default
# 60) with a configuration as a node would have one and tenants at work,
# then stopped with SIGTERM; any memory error, or any definite or indirect
# leak, fails it (valgrind --leak-check=full
# --errors-for-leak-kinds=definite,indirect --error-exitcode). What runs:
# - plans with limits that a CPU burner and a fork storm go over (overuse
#   alerts fire, and resolve once the load stops), the relative rule;
# - a software policy (a copy of linger called xmrig is run: an
#   unauthorized_software alert, its executable hashed);
# - the network rules (connects to a pool port and a port scan, all to
#   127.0.0.1) and TCP traffic;
# - tenants that come and go (cgchurn: ten a second, each for half a
#   second, dropped 5 s after), storage paths scanned;
# - the sinks: the events log, the webhook (a signing receiver, which
#   refuses the first two posts), an Alertmanager that never answers (its
#   records wait in the spool), the textfile;
# - a SIGHUP reload, and halfway a restart: a second agent under valgrind
#   takes up the probes the first left pinned, and its counters.state.
# The valgrind logs are kept: build/valgrind.log, build/valgrind.restart.log.
# One PASS/FAIL/SKIP line a case, as an end-to-end test; the exit status is
# 1 when one failed. Like the end-to-end tests, it needs root and a kernel
# with BPF and BTF; elsewhere it skips.
# shellcheck source=../e2e/lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/../e2e/lib.sh"

SECONDS_UNDER_VALGRIND=${VALGRIND_SECONDS:-60}
VALGRIND_LOG=$E2E_REPO/build/valgrind.log

e2e_cases valgrind_agent_ran valgrind_no_error valgrind_no_leak
if ! command -v valgrind >/dev/null 2>&1; then
	skip_all "no valgrind (scripts/install-deps installs it)"
	e2e_finish
fi
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn forkexec linger netload cgchurn exit0 || exit 1
e2e_setup || exit 1

# ---- a webhook receiver that checks signatures, in the host cgroup
SECRET=$E2E_TMP/webhook.secret
printf 'whsec_%s\n' "$(head -c 24 /dev/urandom | base64)" >"$SECRET"
chmod 0600 "$SECRET"
"$AW_TOOLS/incg" "$AW_HOST_CG" python3 "$E2E_REPO/tests/tools/webhook_receiver.py" \
	--port-file "$E2E_TMP/webhook.port" --secret-file "$SECRET" --out "$E2E_TMP/webhook.jsonl" \
	--fail-first 2 2>"$E2E_TMP/webhook.err" &
on_cleanup kill $!
# Killed at the end: no job notice from bash then.
disown $!
for ((i = 0; i < 100; i++)); do
	[[ -s $E2E_TMP/webhook.port ]] && break
	sleep 0.1
done
HOOK_PORT=$(cat "$E2E_TMP/webhook.port" 2>/dev/null)
# A port with no listener: the Alertmanager that never answers.
DOWN_PORT=$(free_port)
STORAGE=$E2E_TMP/storage
mkdir -p "$STORAGE/alice" "$STORAGE/bob"
head -c 1048576 /dev/zero >"$STORAGE/alice/data"

AW_AGENT_EXTRA="  storage_interval: 2s" \
AW_RULE_EXTRA="    storage: [\"$STORAGE/{tenant}\"]" write_config valgrind "plans:
  default:
    cpu: 0.2
    forks: 20/s
    processes: 200
    memory: 4GiB
    net_tx: 1GiB/s
    connections: 1000/s
    storage: 100MiB
    window: 2s
    for: 1s
    software: standard
software:
  standard:
    deny: [builtin:miners, builtin:scanners]
    deny_paths: [\"memfd:*\"]
relative:
  factor: 10
  min_tenants: 3
  floor: {cpu: 0.05}
network:
  pool_ports: [$((DOWN_PORT + 1))]
  scan: {destinations: 20, window: 10s}
alerts:
  alertmanager: [\"http://127.0.0.1:$DOWN_PORT\"]
  webhook: {url: \"http://127.0.0.1:${HOOK_PORT:-1}/hooks/abusewatch\", secret_file: \"$SECRET\"}" || {
	fail_all "cannot write the configuration"
	exit 1
}
if [[ -z $HOOK_PORT ]]; then
	fail_all "the webhook receiver did not start: $(tail -n 1 "$E2E_TMP/webhook.err")"
	exit 1
fi

# ---- the agent under valgrind
# Its probes stay pinned when it stops: unpinned at exit (lib.sh), as start_agent's are.
E2E_AGENT_CONFIGS+=("$E2E_TMP/unpin.valgrind.yaml")
cp "$AW_CONFIG" "${E2E_AGENT_CONFIGS[-1]}"
AGENT_LOG=$E2E_TMP/agent.log

# valgrind_start LOG: the agent under valgrind, its report in LOG; waits
# (<= 120 s: everything runs some 20 to 50 times slower under valgrind,
# the probes load at the kernel's own speed) for a new textfile. Returns
# 0, or 2 when the agent cannot load its probes here, else 1.
valgrind_start() {
	local i status
	rm -f "$1" "$AW_TEXTFILE"
	valgrind --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
		--suppressions="$E2E_REPO/tests/leaks/valgrind.supp" --log-file="$1" \
		"$AW_BIN" run -c "$AW_CONFIG" --interval "$AW_INTERVAL" --tenant-expiry 5 \
		2>>"$AGENT_LOG" &
	AGENT_PID=$!
	for ((i = 0; i < 1200; i++)); do
		[[ -s $AW_TEXTFILE ]] && {
			e2e_log "agent started under valgrind after $((i / 10)) s"
			return 0
		}
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID"
	status=$?
	AGENT_PID=""
	((status == 2)) && return 2
	return 1
}

# valgrind_stop: SIGTERM, and the agent's (valgrind's) exit status in $status.
valgrind_stop() {
	local i
	kill -TERM "$AGENT_PID" 2>/dev/null
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		e2e_log "the agent did not stop within 120 s of SIGTERM; killing it"
		kill -KILL "$AGENT_PID" 2>/dev/null
	fi
	wait "$AGENT_PID"
	status=$?
	AGENT_PID=""
}

# valgrind_findings LOG: its first error and its leaks, if any, into $first and $leaks.
valgrind_findings() {
	leaks=$(grep -E 'definitely lost|indirectly lost' "$1" | grep -v ': 0 bytes' | head -n 2 |
		tr '\n' ' ')
	first=$(grep -m 1 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and destination)' \
		"$1" | sed 's/^==[0-9]*== //')
}

valgrind_start "$VALGRIND_LOG"
case $? in
0) ;;
2)
	skip_all "the agent cannot load its probes here: $(agent_last_log)"
	e2e_finish
	;;
*)
	fail_all "the agent did not start under valgrind: $(agent_last_log)"
	exit 1
	;;
esac

# ---- the tenants at work
in_tenant() {
	local dir
	dir=$(tenant_cgroup "$1") || return 1
	shift
	"$AW_TOOLS/incg" "$dir" "$@" >/dev/null 2>>"$E2E_TMP/load.err" &
	on_cleanup kill $!
	disown $!
}
BIN=$E2E_TMP/bin
mkdir -p "$BIN" && cp "$AW_TOOLS/linger" "$BIN/xmrig"
LISTEN=$(free_port)
half=$((SECONDS_UNDER_VALGRIND / 2))
in_tenant alice "$AW_TOOLS/burn" "$half"
in_tenant bob "$AW_TOOLS/forkexec" 2000 "$AW_TOOLS/exit0"
# Until the end, the restart (some 30 s under valgrind) included.
in_tenant carol "$AW_TOOLS/netload" listen "$LISTEN" "$((SECONDS_UNDER_VALGRIND + 120))"
sleep 1
in_tenant carol "$AW_TOOLS/netload" tcp4 "$LISTEN" 200 20
in_tenant dave "$AW_TOOLS/netload" scan4 "$((DOWN_PORT + 2))" 50 10
in_tenant dave "$AW_TOOLS/netload" tcp4 "$((DOWN_PORT + 1))" 3 1
in_tenant eve "$BIN/xmrig" 5
# Each cgroup cgchurn makes under tenants/ is a tenant of its own: ten a
# second come and go, and are dropped 5 s later (--tenant-expiry).
"$AW_TOOLS/incg" "$AW_HOST_CG" "$AW_TOOLS/cgchurn" "$AW_TENANTS" 10 \
	"$((SECONDS_UNDER_VALGRIND + 60))" 0.5 "$AW_TOOLS/exit0" >/dev/null 2>>"$E2E_TMP/load.err" &
on_cleanup kill $!
disown $!

sleep $((half / 2))
kill -HUP "$AGENT_PID" 2>/dev/null
sleep $((half - half / 2))

# ---- a restart halfway: the next agent takes up the pinned probes and counters.state
ran="agent running"
kill -0 "$AGENT_PID" 2>/dev/null || ran="agent gone before the restart: $(agent_last_log)"
valgrind_stop
first_status=$status
restart_log=${VALGRIND_LOG%.log}.restart.log
valgrind_start "$restart_log" || ran="the agent did not start again under valgrind: $(agent_last_log)"
in_tenant alice "$AW_TOOLS/burn" "$((SECONDS_UNDER_VALGRIND - half))"
in_tenant frank "$BIN/xmrig" 5
sleep $((SECONDS_UNDER_VALGRIND - half))

# ---- stop, and what valgrind says
[[ $ran == "agent running" ]] && ! kill -0 "$AGENT_PID" 2>/dev/null &&
	ran="agent gone before the end: $(agent_last_log)"
alerts=$(metric_global abusewatch_alerts_total)
valgrind_stop
records=$(grep -c . "$AW_EVENTS" 2>/dev/null)
delivered=$(grep -c . "$E2E_TMP/webhook.jsonl" 2>/dev/null)
dropped=$(grep -c 'gone for' "$AGENT_LOG" 2>/dev/null)
e2e_log "exit status $first_status and $status, ${records:-0} alert records, ${delivered:-0} webhook posts, ${dropped:-0} tenants dropped"

failed=0
[[ $ran == "agent running" ]] && ((${records:-0} > 0 && ${delivered:-0} > 0 && ${dropped:-0} > 0))
ok=$?
failed=$((failed + (ok != 0)))
check valgrind_agent_ran "$ok" "$ran; ${records:-0} alert records, ${delivered:-0} webhook posts, ${dropped:-0} tenants dropped, alerts_total ${alerts:-?}"
valgrind_findings "$VALGRIND_LOG"
first_leaks=$leaks first_error=$first
valgrind_findings "$restart_log"
leaks="${first_leaks:+first run: $first_leaks}${leaks:+ after the restart: $leaks}"
first="${first_error:+first run: $first_error}${first:+ after the restart: $first}"
[[ $first_status != 99 && $status != 99 && -z $first ]]
ok=$?
failed=$((failed + (ok != 0)))
check valgrind_no_error "$ok" "exit status $first_status, then $status: ${first:-see $VALGRIND_LOG}"
[[ -z $leaks && $first_status != 99 && $status != 99 ]]
ok=$?
failed=$((failed + (ok != 0)))
check valgrind_no_leak "$ok" "${leaks:-exit status $first_status, then $status} (see $VALGRIND_LOG, $restart_log)"
if ((failed)); then
	# Errors and leaks, without valgrind's notes on syscalls it does not model.
	for log in "$VALGRIND_LOG" "$restart_log"; do
		e2e_log "$log (errors and leaks):"
		grep -v -e '^--[0-9]*-- ' "$log" | head -n 150 >&2
	done
fi
# `make valgrind` fails with it (the cleanup runs on the way out).
exit $((failed > 0))
