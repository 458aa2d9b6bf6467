#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The capabilities the systemd unit grants (CapabilityBoundingSet= of
# deploy/systemd/abusewatch.service, which the DaemonSet repeats) are
# enough, and each of them is needed. The agent runs as root with exactly
# that bounding set and no new privileges (setpriv, as systemd would start
# it), on tenants whose files and processes belong to another user, as on a
# real build node:
# - caps_unit_set: CPU within 1% of cpu.stat (as test_cpu); storage of a directory of
#   that user (mode 0700) equal to du; denied programs that user runs, one
#   from a file only its owner may read (0711), one from a memfd, hashed
#   (sha256 as sha256sum says) and, under action kill, killed; the record's
#   host is --hostname;
# - caps_without_CAP: the same with one capability less. Without CAP_BPF,
#   CAP_PERFMON or CAP_NET_ADMIN the agent exits with status 2, its last
#   log line naming the capability that is missing; without
#   CAP_DAC_READ_SEARCH the storage and the file's digest are missing;
#   without CAP_SYS_PTRACE the memfd program's digest (read through
#   /proc/PID/exe, as for any program in a container's mount namespace);
#   without CAP_KILL the kill fails.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

UNIT=$E2E_REPO/deploy/systemd/abusewatch.service
# The capabilities of the unit, and the cases: one for the whole set, one a capability.
mapfile -t CAPS < <(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | grep .)
CASES=(caps_unit_set)
for cap in "${CAPS[@]}"; do
	CASES+=("caps_without_$cap")
done
e2e_cases caps_reasons "${CASES[@]}"

# Every capability has its reason in the comment above it: "#   CAP_X  reason".
missing=()
for cap in "${CAPS[@]}"; do
	grep -qE "^#[[:space:]]+${cap}[[:space:]]+[a-z]" "$UNIT" || missing+=("$cap")
done
((${#CAPS[@]} > 0 && ${#missing[@]} == 0))
check caps_reasons "$?" "$UNIT: CapabilityBoundingSet '${CAPS[*]}'; without a reason in the comment: ${missing[*]:-none}"

e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn linger || e2e_finish
for tool in setpriv sha256sum du; do
	command -v "$tool" >/dev/null || {
		fail_all "$tool is missing (util-linux, coreutils)"
		e2e_finish
	}
done
e2e_setup || e2e_finish
REAL_BIN=$AW_BIN

# The tenants' user: nobody, or any user that is not root.
TENANT_UID=65534
TENANT_GID=65534

# A denied program of the tenants' user that only it may read (0711):
# reading it to hash it takes CAP_DAC_READ_SEARCH. And a program it runs
# from a memfd, whose only way in is /proc/PID/exe: CAP_SYS_PTRACE.
chmod 0711 "$E2E_TMP"
BIN=$E2E_TMP/bin
mkdir -p "$BIN" && cp "$AW_TOOLS/linger" "$BIN/xmrig" && cp "$AW_TOOLS/linger" "$BIN/payload" &&
	printf 'abusewatch e2e: payload\n' >>"$BIN/payload" &&
	chown "$TENANT_UID:$TENANT_GID" "$BIN/xmrig" && chmod 0711 "$BIN" "$BIN/xmrig" &&
	chmod 0644 "$BIN/payload" || {
	fail_all "cannot copy linger to $BIN"
	e2e_finish
}
MINER_SHA=$(sha256sum "$BIN/xmrig" | cut -d' ' -f1)
PAYLOAD_SHA=$(sha256sum "$BIN/payload" | cut -d' ' -f1)

# The tenants' storage: the user's own directory, mode 0700.
disk_backed_dir caps && STORE=$DISK_BACKED_DIR || {
	fail_all "no disk-backed directory for the storage paths"
	e2e_finish
}
chmod 0755 "$STORE"
mkdir -m 0700 "$STORE/builder" && head -c $((1 << 20)) /dev/urandom >"$STORE/builder/artifact" &&
	chown -R "$TENANT_UID:$TENANT_GID" "$STORE/builder" || {
	fail_all "cannot make the tenant's storage in $STORE"
	e2e_finish
}
STORAGE_TRUTH=$(du -sB1 -x "$STORE/builder" | cut -f1)

AW_AGENT_EXTRA="  storage_interval: 1s" \
	AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/tenants/killer/**\"
    tenant: killer
    plan: killing" \
	AW_RULE_EXTRA="    storage: [\"$STORE/{tenant}\"]" \
	write_config caps "plans:
  default:
    window: 60s
    software: watching
  killing:
    window: 60s
    software: killing
software:
  watching:
    deny: [builtin:miners]
    deny_paths: [\"memfd:*\"]
  killing:
    deny: [builtin:miners]
    action: kill
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
T=$AW_TENANTS
tenant_cgroup builder >/dev/null && tenant_cgroup killer >/dev/null || {
	fail_all "cannot create the tenant cgroups"
	e2e_finish
}

# agent_with CAPS...: an executable that runs the agent as root with only
# these capabilities (systemd's CapabilityBoundingSet= and NoNewPrivileges=).
agent_with() {
	local wrapper=$E2E_TMP/agent-$# set cap
	set=-all
	for cap in "$@"; do
		cap=${cap#CAP_}
		set+=",+${cap,,}"
	done
	printf '#!/bin/sh\nexec setpriv --no-new-privs --inh-caps=-all --bounding-set=%s -- %q "$@"\n' \
		"$set" "$REAL_BIN" >"$wrapper"
	chmod 0755 "$wrapper"
	printf '%s\n' "$wrapper"
}

# first_firing TENANT RULE FIELD...: those fields of the first firing record
# of TENANT and RULE, "none" for each one missing; "none" when there is none.
first_firing() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == sys.argv[2] and r.get("rule") == sys.argv[3] and r.get("state") == "firing":
        print(" ".join(str(r.get(f, "none")).replace(" ", "_") for f in sys.argv[4:]))
        break
else:
    print("none")' "$AW_EVENTS" "$@" 2>/dev/null
}

# run_workload N: with the agent running, the tenants' work; sets the
# findings CPU_NOTE, STORAGE, DIGEST, MEMFD_DIGEST, KILL_RESULT, KILL_STATUS
# and HOST.
run_workload() {
	local burner=burner$1 burner_cpu value found program
	# CPU: about a second in a new tenant.
	tenant_cgroup "$burner" >/dev/null
	"$AW_TOOLS/incg" "$T/$burner" "$AW_TOOLS/burn" 1
	burner_cpu=$(cgroup_cpu_seconds "$T/$burner")
	value=$(wait_metric 10 abusewatch_tenant_cpu_seconds_total "$burner" '>=' "$burner_cpu")
	if within_pct "$value" "$burner_cpu" 1; then
		CPU_NOTE=ok
	else
		CPU_NOTE="${value}_s,_cpu.stat_${burner_cpu}_s"
	fi
	# Denied programs of the tenants' user: its own file, then a memfd.
	"$AW_TOOLS/incg" "$T/builder" setpriv --reuid="$TENANT_UID" --regid="$TENANT_GID" \
		--clear-groups -- "$BIN/xmrig" 1 &
	program=$!
	wait_events 10 "$AW_EVENTS" tenant=builder rule=name state=firing >/dev/null
	found=$(first_firing builder name sha256 host)
	DIGEST=${found%% *}
	HOST=${found#* }
	wait "$program"
	"$AW_TOOLS/incg" "$T/builder" setpriv --reuid="$TENANT_UID" --regid="$TENANT_GID" \
		--clear-groups -- /usr/bin/python3 -c '
import os, sys
fd = os.memfd_create("payload")
os.write(fd, open(sys.argv[1], "rb").read())
os.execv("/proc/self/fd/%d" % fd, ["payload", "1"])' "$BIN/payload" &
	program=$!
	wait_events 10 "$AW_EVENTS" tenant=builder rule=path state=firing >/dev/null
	MEMFD_DIGEST=$(first_firing builder path sha256)
	wait "$program"
	# Under action kill.
	"$AW_TOOLS/incg" "$T/killer" setpriv --reuid="$TENANT_UID" --regid="$TENANT_GID" \
		--clear-groups -- "$BIN/xmrig" 5 &
	program=$!
	wait_events 10 "$AW_EVENTS" tenant=killer rule=name state=firing >/dev/null
	KILL_RESULT=$(first_firing killer name action_result)
	wait "$program" 2>/dev/null
	KILL_STATUS=$?
	# Storage: a pass every second; the first may take a moment.
	STORAGE=$(wait_metric 10 abusewatch_tenant_storage_bytes builder '==' "$STORAGE_TRUTH")
}

# with_caps CASE CAPS...: runs the agent with CAPS and the workload; sets
# STARTED (0 ran, else start_agent's status) and the findings.
with_caps() {
	local case=$1
	shift
	AW_BIN=$(agent_with "$@")
	rm -f "$AW_EVENTS"
	rm -rf "$AW_DIR/state"
	mkdir -p "$AW_DIR/state"
	CPU_NOTE="" STORAGE="" DIGEST="" MEMFD_DIGEST="" KILL_RESULT="" KILL_STATUS="" HOST=""
	RUNS=$((${RUNS:-0} + 1))
	start_agent "$AW_CONFIG" --hostname caps-node
	STARTED=$?
	if ((STARTED == 0)); then
		run_workload "$RUNS"
		stop_agent
	fi
	e2e_log "$case: $(findings)"
}

findings() {
	printf 'agent %s; cpu %s; storage %s (du %s); sha256 %s (want %s), of the memfd %s (want %s); kill: %s (status %s); host %s' \
		"$( ((STARTED == 0)) && echo ran || echo "did not start: $AGENT_REASON")" "$CPU_NOTE" \
		"$STORAGE" "$STORAGE_TRUTH" "$DIGEST" "$MINER_SHA" "$MEMFD_DIGEST" "$PAYLOAD_SHA" \
		"$KILL_RESULT" "$KILL_STATUS" "$HOST"
}

with_caps caps_unit_set "${CAPS[@]}"
((STARTED == 0)) && [[ $CPU_NOTE == ok && $STORAGE == "$STORAGE_TRUTH" && $DIGEST == "$MINER_SHA" &&
	$MEMFD_DIGEST == "$PAYLOAD_SHA" && $KILL_RESULT == killed_pid_* && $KILL_STATUS == 137 &&
	$HOST == caps-node ]]
check caps_unit_set "$?" "with ${CAPS[*]}: $(findings)"

for cap in "${CAPS[@]}"; do
	fewer=()
	for other in "${CAPS[@]}"; do
		[[ $other == "$cap" ]] || fewer+=("$other")
	done
	with_caps "caps_without_$cap" "${fewer[@]}"
	case $cap in
	CAP_BPF | CAP_PERFMON | CAP_NET_ADMIN)
		((STARTED == 2)) && [[ $AGENT_REASON == *"cannot load probes: missing capability $cap ("* ]]
		;;
	CAP_DAC_READ_SEARCH)
		((STARTED == 0)) && [[ $CPU_NOTE == ok && $STORAGE != "$STORAGE_TRUTH" &&
			$DIGEST == none && $KILL_RESULT == killed_pid_* ]]
		;;
	CAP_SYS_PTRACE)
		((STARTED == 0)) && [[ $CPU_NOTE == ok && $STORAGE == "$STORAGE_TRUTH" &&
			$MEMFD_DIGEST == none && $KILL_RESULT == killed_pid_* ]]
		;;
	CAP_KILL)
		((STARTED == 0)) && [[ $CPU_NOTE == ok && $STORAGE == "$STORAGE_TRUTH" &&
			$DIGEST == "$MINER_SHA" && $KILL_RESULT == kill_failed* && $KILL_STATUS == 0 ]]
		;;
	*)
		false
		;;
	esac
	check "caps_without_$cap" "$?" "this test does not know what $cap is for, or it is not needed: $(findings)"
done

e2e_finish
