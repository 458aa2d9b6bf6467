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
# program of an innocent name under a denied path is then found. With
# deny_sha256 instead, each executable is judged once (judged_exes): one
# judged clean and then overwritten in place with a denied program is
# found, and so is one judged clean before a reload denies its digest.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases interest_comm interest_file_name interest_long_comm interest_long_file_name \
	interest_argv interest_modprobe interest_reload_paths interest_digest_changed \
	interest_digest_reload
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
	cp "$AW_TOOLS/linger" "$BIN/modprobe" && cp "$AW_TOOLS/linger" "$BIN/denied/helper" &&
	cp "$AW_TOOLS/linger" "$BIN/tool" && cp "$AW_TOOLS/linger" "$BIN/other" &&
	cp "$AW_TOOLS/linger" "$BIN/bad" || {
	fail_all "cannot copy linger"
	e2e_finish
}

# Bytes after the ELF image change the digest, not the program.
printf 'abusewatch e2e: bad\n' >>"$BIN/bad"
printf 'abusewatch e2e: other\n' >>"$BIN/other"
# Innocent copies of their own: the digest of xmrig, caught by name, is
# learned and denied under any other name (learned_sha256).
printf 'abusewatch e2e: helper\n' >>"$BIN/denied/helper"
printf 'abusewatch e2e: tool\n' >>"$BIN/tool"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# policy_yaml [DENY_PATHS [DENY_SHA256...]]: one policy of names and
# builtin:miners, with deny_paths and deny_sha256 when given.
policy_yaml() {
	local paths=${1:-} digests
	shift
	digests=$(IFS=,; printf '%s' "$*")
	printf '%s\n' "plans:
  default:
    window: 60s
    software: names
software:
  names:
    deny: [builtin:miners, ${LONG_NAME,,}]${paths:+
    deny_paths: [\"$paths\"]}${digests:+
    deny_sha256: [$digests]}
alerts:
  alertmanager: []"
}

# reload_to YAML: writes the configuration and sends SIGHUP; status 0 once
# the agent logged one more reload (<= 10 s).
reload_to() {
	local before i
	before=$(grep -c "configuration reloaded" "$AGENT_LOG")
	write_config interest "$1" || return 1
	kill -HUP "$AGENT_PID"
	for ((i = 0; i < 100; i++)); do
		(($(grep -c "configuration reloaded" "$AGENT_LOG") > before)) && return 0
		sleep 0.1
	done
	return 1
}

write_config interest "$(policy_yaml)" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in comm file_name long_comm long_file_name argv modprobe paths changed reload; do
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
reloaded=""
reload_to "$(policy_yaml "$BIN/denied/*")" && reloaded=1
before=$(events_count "$AW_EVENTS" tenant=paths state=firing)
"$AW_TOOLS/incg" "$T/paths" "$BIN/denied/helper" 0
what=$(found paths path "r['exe'] == '$BIN/denied/helper'")
status=$?
[[ $status == 0 && -n $reloaded && $before == 0 ]] && ! grep -q "cannot change which" "$AGENT_LOG"
check interest_reload_paths "$?" "helper under a denied path: before the reload $before records (want 0); after: $what"

# ---- deny_sha256: each executable judged once, again once it changes
# judged_wait FILE: runs FILE in tenant changed until its identity is in
# the agent's cache of digests (the exec probe leaves it out from then on:
# its digest is on no list), <= 10 s.
judged_wait() {
	local i
	for ((i = 0; i < 20; i++)); do
		"$AW_TOOLS/incg" "$T/$2" "$1" 0
		sleep 0.5
	done
}
reload_to "$(policy_yaml "" "$(sha_of "$BIN/bad")")"
judged_wait "$BIN/tool" changed
# Overwritten in place: the same inode, another size, mtime and ctime.
cat "$BIN/bad" >"$BIN/tool"
"$AW_TOOLS/incg" "$T/changed" "$BIN/tool" 0
what=$(found changed sha256 "r['exe'] == '$BIN/tool' and r['sha256'] == '$(sha_of "$BIN/bad")'")
check interest_digest_changed "$?" "tool judged clean, then overwritten with a denied program: $what"

judged_wait "$BIN/other" reload
reloaded=""
reload_to "$(policy_yaml "" "$(sha_of "$BIN/bad")" "$(sha_of "$BIN/other")")" && reloaded=1
"$AW_TOOLS/incg" "$T/reload" "$BIN/other" 0
what=$(found reload sha256 "r['exe'] == '$BIN/other'")
status=$?
[[ $status == 0 && -n $reloaded ]]
check interest_digest_reload "$?" "other judged clean, then denied by a reload: $what"

stop_agent
e2e_finish
