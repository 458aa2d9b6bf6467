#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The exec probe reports only the execs a software policy could act on
# (struct exec_interest, software_events.h): with policies of names and
# markers alone (no deny_paths, no deny_sha256), every rule still fires,
# through each way the kernel tells a wanted exec, in tenant cgroups this
# test creates, into the events log:
# - a miner's name as its comm, in another case (XMRig);
# - a miner's name as the file's name only (run through a link, the comm
#   is the link's);
# - a deny name longer than a comm, by the comm it is cut to and by the
#   file's name;
# - a stratum marker on an innocent program's command line;
# - modprobe msr (a stand-in called modprobe);
# and a reload that adds deny_paths makes the probe report every exec: a
# program of an innocent name under a denied path is then found.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases interest_comm interest_file_name interest_long_comm interest_long_file_name \
	interest_argv interest_modprobe interest_reload_paths
e2e_require_root_bpf || e2e_finish
e2e_require_build incg linger || e2e_finish
e2e_setup || e2e_finish

LONG_NAME=AVeryVeryVeryLongMiner
BIN=$E2E_TMP/bin
mkdir -p "$BIN/denied" || {
	fail_all "cannot create $BIN"
	e2e_finish
}
cp "$AW_TOOLS/linger" "$BIN/XMRig" && cp "$AW_TOOLS/linger" "$BIN/xmrig" &&
	ln -s xmrig "$BIN/runner" && cp "$AW_TOOLS/linger" "$BIN/$LONG_NAME" &&
	ln -s "$LONG_NAME" "$BIN/short" && cp "$AW_TOOLS/linger" "$BIN/worker" &&
	cp "$AW_TOOLS/linger" "$BIN/modprobe" && cp "$AW_TOOLS/linger" "$BIN/denied/helper" || {
	fail_all "cannot copy linger"
	e2e_finish
}

# policy_yaml [DENY_PATHS]: one policy of names and builtin:miners, with
# deny_paths when given.
policy_yaml() {
	printf '%s\n' "plans:
  default:
    window: 60s
    software: names
software:
  names:
    deny: [builtin:miners, ${LONG_NAME,,}]${1:+
    deny_paths: [\"$1\"]}
alerts:
  alertmanager: []"
}

write_config interest "$(policy_yaml)" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in comm file_name long_comm long_file_name argv modprobe paths; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
T=$AW_TENANTS
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# found TENANT RULE CONDITION: waits (<= 10 s) for the firing record;
# prints what it found, status 0 when it satisfies CONDITION.
found() {
	local waited record
	waited=$(wait_events 10 "$AW_EVENTS" tenant="$1" rule="$2" state=firing)
	record=$(first_record_check unauthorized_software "$@")
	printf 'record %s%s' "$record" "${waited:+ after $waited s}"
	[[ $record == ok ]]
}

"$AW_TOOLS/incg" "$T/comm" "$BIN/XMRig" 0
what=$(found comm name "r['comm'] == 'XMRig' and 'builtin:miners' in r['reason']")
check interest_comm "$?" "XMRig: $what"

"$AW_TOOLS/incg" "$T/file_name" "$BIN/runner" 0
what=$(found file_name name "r['comm'] == 'runner' and r['exe'] == '$BIN/xmrig'")
check interest_file_name "$?" "xmrig run as runner: $what"

"$AW_TOOLS/incg" "$T/long_comm" "$BIN/$LONG_NAME" 0
what=$(found long_comm name "r['comm'] == '${LONG_NAME:0:15}' and 'deny list' in r['reason']")
check interest_long_comm "$?" "$LONG_NAME: $what"

"$AW_TOOLS/incg" "$T/long_file_name" "$BIN/short" 0
what=$(found long_file_name name "r['comm'] == 'short' and r['exe'] == '$BIN/$LONG_NAME'")
check interest_long_file_name "$?" "$LONG_NAME run as short: $what"

"$AW_TOOLS/incg" "$T/argv" "$BIN/worker" 0 -o stratum+tcp://pool.example:3333 -u wallet
what=$(found argv argv "r['comm'] == 'worker' and 'stratum+tcp://' in r['reason']")
check interest_argv "$?" "worker with a stratum URL: $what"

"$AW_TOOLS/incg" "$T/modprobe" "$BIN/modprobe" 0 msr
what=$(found modprobe miner_behavior "'modprobe msr' in r['reason']")
check interest_modprobe "$?" "modprobe msr: $what"

# ---- deny_paths by SIGHUP: every exec is reported from then on
"$AW_TOOLS/incg" "$T/paths" "$BIN/denied/helper" 0
write_config interest "$(policy_yaml "$BIN/denied/*")"
kill -HUP "$AGENT_PID"
reloaded=""
for ((i = 0; i < 100; i++)); do
	grep -q "configuration reloaded" "$AGENT_LOG" && reloaded=1 && break
	sleep 0.1
done
before=$(events_count "$AW_EVENTS" tenant=paths state=firing)
"$AW_TOOLS/incg" "$T/paths" "$BIN/denied/helper" 0
what=$(found paths path "r['exe'] == '$BIN/denied/helper'")
status=$?
[[ $status == 0 && -n $reloaded && $before == 0 ]] && ! grep -q "cannot change which" "$AGENT_LOG"
check interest_reload_paths "$?" "helper under a denied path: before the reload $before records (want 0); after: $what"

stop_agent
e2e_finish
