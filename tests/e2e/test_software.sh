#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Unauthorized software, end to end, with real processes in tenant cgroups
# this test creates, through the exec, device and sysctl probes into the
# events log and a real Alertmanager (AbusewatchUnauthorizedSoftware):
# - a miner found by name (a copy of tests/tools/linger called xmrig), its
#   record carrying exe, comm, pid and the sha256 sha256sum computes; it
#   resolves once the process is gone and the window has passed;
# - a denied sha256 under an innocent name, in a process that exits at once;
# - allow_sha256 winning over the name;
# - a stratum marker on an innocent program's command line;
# - a file-less program run from a memfd (deny_paths "memfd:*");
# - miner behaviour: a huge-page sysctl write, an MSR device opened for
#   writing (a device node of major 202 the test makes; nothing is
#   written), modprobe msr (a stand-in called modprobe);
# - the kill and freeze actions, each in the alert;
# - twenty runs of one miner: one alert, the rest counted as suppressed;
# - a benign build beside them (make, gcc on a multi-file project, git,
#   python) raises nothing;
# - a secret in the argv and the environment of a flagged process appears
#   in no output of the agent;
# - exec to record in the events log, 100 times: every record arrives; the
#   median and worst are logged.
# Pool ports, port scans and SMTP fan-out are test_netabuse.sh's.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases software_name software_resolved software_sha256 software_allow software_argv \
	software_memfd software_hugepages software_msr software_modprobe software_modprobe_file \
	software_kill \
	software_freeze software_flood software_benign software_secrets software_latency
e2e_require_root_bpf || e2e_finish
e2e_require_build incg linger || e2e_finish
e2e_setup || e2e_finish
require_alertmanager || e2e_finish

# ---- the programs: copies of linger under telling and innocent names
BIN=$E2E_TMP/bin
mkdir -p "$BIN/allowed" "$BIN/latency" || {
	fail_all "cannot create $BIN"
	e2e_finish
}
cp "$AW_TOOLS/linger" "$BIN/xmrig" && cp "$AW_TOOLS/linger" "$BIN/worker" &&
	cp "$AW_TOOLS/linger" "$BIN/modprobe" && cp "$AW_TOOLS/linger" "$BIN/helper" &&
	cp "$AW_TOOLS/linger" "$BIN/InsMod" && ln -s InsMod "$BIN/loader" &&
	cp "$AW_TOOLS/linger" "$BIN/allowed/xmrig" || {
	fail_all "cannot copy linger"
	e2e_finish
}
# Bytes after the ELF image change the digest, not the program.
printf 'abusewatch e2e: denied\n' >>"$BIN/helper"
printf 'abusewatch e2e: allowed\n' >>"$BIN/allowed/xmrig"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
DENIED_SHA=$(sha_of "$BIN/helper")
ALLOWED_SHA=$(sha_of "$BIN/allowed/xmrig")
MINER_SHA=$(sha_of "$BIN/xmrig")
for ((i = 0; i < 100; i++)); do
	mkdir -p "$BIN/latency/$i" && ln "$BIN/xmrig" "$BIN/latency/$i/xmrig" || break
done

AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/tenants/killer/**\"
    tenant: killer
    plan: killing
  - cgroup: \"$AWTEST_REL/tenants/freezer/**\"
    tenant: freezer
    plan: freezing" write_config software "plans:
  default:
    window: 2s
    software: standard
  killing:
    window: 2s
    software: killing
  freezing:
    window: 2s
    software: freezing
software:
  standard:
    deny: [builtin:miners, builtin:scanners, builtin:flooders, builtin:tunnels]
    deny_sha256: [$DENIED_SHA]
    deny_paths: [\"memfd:*\"]
    allow_sha256: [$ALLOWED_SHA]
  killing:
    deny: [builtin:miners]
    action: kill
  freezing:
    deny: [builtin:miners]
    action: freeze
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in namer hasher allowed marker memfd hugepages msr modprober linked killer freezer flooder \
	builder secretive latency0 latency1 latency2 latency3; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
T=$AW_TENANTS
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

record_check() { first_record_check unauthorized_software "$@"; }

# found_software TENANT RULE CONDITION: waits (<= 10 s) for the firing
# record and for the alert in Alertmanager; prints a description, status 0
# when both are there and the record satisfies CONDITION.
found_software() {
	local tenant=$1 rule=$2 condition=$3 waited record found
	waited=$(wait_events 10 "$AW_EVENTS" tenant="$tenant" rule="$rule" state=firing)
	found=$?
	record=$(record_check "$tenant" "$rule" "$condition")
	if ((found == 0)) && am_alert_wait alertname=AbusewatchUnauthorizedSoftware \
		tenant="$tenant" rule="$rule" severity=critical; then
		printf 'record after %s s, in Alertmanager; record: %s' "$waited" "$record"
		[[ $record == ok ]]
		return
	fi
	printf 'record %s; Alertmanager %s' "$record" \
		"$( ((found == 0)) && echo "missing the alert" || echo "not checked")"
	return 1
}
am_alert_wait() { wait_am_alert 10 "$@" >/dev/null; }

# ---- by name: a copy of linger called xmrig
"$AW_TOOLS/incg" "$T/namer" "$BIN/xmrig" 1 &
miner=$!
what=$(found_software namer name "r['exe'] == '$BIN/xmrig' and r['comm'] == 'xmrig' and r['sha256'] == '$MINER_SHA' and r['pid'] > 0 and r['action'] == 'alert' and 'builtin:miners' in r['reason']")
check software_name "$?" "xmrig in tenant namer: $what"
wait "$miner"
# The process exited after 1 s; the window is 2 s.
waited=$(wait_events 10 "$AW_EVENTS" tenant=namer rule=name state=resolved)
resolved=$?
# The resolved alert carries the firing one's labels, so Alertmanager drops it.
in_am=yes
for ((i = 0; i < 50; i++)); do
	am_alert alertname=AbusewatchUnauthorizedSoftware tenant=namer rule=name >/dev/null || {
		in_am=no
		break
	}
	sleep 0.1
done
((resolved == 0)) && [[ $in_am == no ]]
check software_resolved "$?" "namer's alert resolved after its process exited: record ${waited:-not within 10 s} s; still in Alertmanager 5 s later: $in_am"

# ---- by sha256, under an innocent name, in a process that exits at once
"$AW_TOOLS/incg" "$T/hasher" "$BIN/helper" 0
what=$(found_software hasher sha256 "r['sha256'] == '$DENIED_SHA' and r['exe'] == '$BIN/helper' and r['comm'] == 'helper'")
check software_sha256 "$?" "denied digest as helper (exited at once): $what"

# ---- allow_sha256 wins over the name
"$AW_TOOLS/incg" "$T/allowed" "$BIN/allowed/xmrig" 0
execs=$(wait_metric 5 abusewatch_tenant_execs_total allowed ">=" 1)
seen=$?
wait_intervals 5
records=$(events_count "$AW_EVENTS" tenant=allowed)
((seen == 0 && records == 0))
check software_allow "$?" "an allowed xmrig: execs_total $execs (want >= 1), records $records (want 0)"

# ---- a stratum marker on an innocent program's command line
"$AW_TOOLS/incg" "$T/marker" "$BIN/worker" 0 -o stratum+tcp://127.0.0.1:3333 -u wallet
what=$(found_software marker argv "'stratum+tcp://' in r['reason'] and r['exe'] == '$BIN/worker'")
check software_argv "$?" "worker with a stratum URL: $what"

# ---- file-less: linger run from a memfd, alive for a second
"$AW_TOOLS/incg" "$T/memfd" python3 -c '
import os, sys
fd = os.memfd_create("payload", 0)
with open(sys.argv[1], "rb") as source:
    os.write(fd, source.read())
os.execv("/proc/self/fd/%d" % fd, ["payload", "1"])' "$AW_TOOLS/linger"
what=$(found_software memfd path "r['exe'].startswith('memfd:payload') and r['sha256'] == '$(sha_of "$AW_TOOLS/linger")' and 'memfd:*' in r['reason']")
check software_memfd "$?" "a memfd exec: $what"

# ---- miner behaviour: the current huge-page count written back (no change)
"$AW_TOOLS/incg" "$T/hugepages" sh -c 'cat /proc/sys/vm/nr_hugepages >/proc/sys/vm/nr_hugepages'
what=$(found_software hugepages miner_behavior "'huge' in r['reason']")
check software_hugepages "$?" "vm.nr_hugepages written: $what"

# An MSR device node (major 202) opened for writing; nothing is written.
mknod "$E2E_TMP/msr" c 202 0
"$AW_TOOLS/incg" "$T/msr" python3 -c '
import os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY))
except OSError:
    pass' "$E2E_TMP/msr"
what=$(found_software msr miner_behavior "'MSR' in r['reason']")
check software_msr "$?" "an MSR device opened for writing: $what"

"$AW_TOOLS/incg" "$T/modprober" "$BIN/modprobe" 0 msr allow_writes=on
what=$(found_software modprober miner_behavior "'modprobe msr' in r['reason'] and r['comm'] == 'modprobe'")
check software_modprobe "$?" "modprobe msr: $what"

# The same by the file's name alone, in any case: run through a link, its
# comm is the link's.
"$AW_TOOLS/incg" "$T/linked" "$BIN/loader" 0 msr
what=$(found_software linked miner_behavior "'modprobe msr' in r['reason'] and r['comm'] == 'loader' and r['exe'] == '$BIN/InsMod'")
check software_modprobe_file "$?" "InsMod msr run as loader: $what"

# ---- action kill: the miner dies
"$AW_TOOLS/incg" "$T/killer" "$BIN/xmrig" 30 &
victim=$!
for ((i = 0; i < 100; i++)); do
	kill -0 "$victim" 2>/dev/null || break
	sleep 0.1
done
wait "$victim"
status=$?
what=$(found_software killer name "r['action'] == 'kill' and r['action_result'].startswith('killed pid')")
((status == 137)) && [[ $what == *"record: ok" ]]
check software_kill "$?" "xmrig under action kill: exit status $status (want 137, SIGKILL); $what"

# ---- action freeze: the tenant's cgroup is frozen
"$AW_TOOLS/incg" "$T/freezer" "$BIN/xmrig" 30 &
miner=$!
frozen=no
for ((i = 0; i < 100; i++)); do
	grep -q '^frozen 1' "$T/freezer/cgroup.events" 2>/dev/null && frozen=yes && break
	sleep 0.1
done
what=$(found_software freezer name "r['action'] == 'freeze' and r['action_result'] == 'frozen'")
[[ $frozen == yes && $what == *"record: ok" ]]
check software_freeze "$?" "xmrig under action freeze: cgroup frozen: $frozen; $what"
echo 0 >"$T/freezer/cgroup.freeze"
cgroup_kill_tree "$T/freezer"
wait "$miner"

# ---- flood control: twenty runs, one alert
suppressed() {
	awk '$1 == "abusewatch_alerts_suppressed_total{kind=\"unauthorized_software\"}" { print $2 }' \
		"$AW_TEXTFILE"
}
before=$(suppressed)
for ((i = 0; i < 20; i++)); do
	"$AW_TOOLS/incg" "$T/flooder" "$BIN/xmrig" 0
done
wait_events 10 "$AW_EVENTS" tenant=flooder rule=name state=firing >/dev/null
wait_intervals 5
after=$(suppressed)
firing=$(events_count "$AW_EVENTS" tenant=flooder state=firing)
((firing == 1)) && num_cmp "${after:-0}" ">=" "$((${before:-0} + 19))"
check software_flood "$?" "20 runs of xmrig: $firing firing records (want 1); suppressed_total ${before:-missing} -> ${after:-missing} (want +19)"

# ---- a benign build: make and gcc on three files, git, python
PROJECT=$E2E_TMP/project
mkdir -p "$PROJECT"
for part in one two three; do
	printf 'int %s(void) { return %d; }\n' "$part" "${#part}" >"$PROJECT/$part.c"
done
printf 'int one(void); int two(void); int three(void);\nint main(void) { return one() + two() + three() - 11; }\n' \
	>"$PROJECT/main.c"
printf 'app: main.o one.o two.o three.o\n\t$(CC) -o $@ $^\n%%.o: %%.c\n\t$(CC) -O2 -c -o $@ $<\n' \
	>"$PROJECT/Makefile"
"$AW_TOOLS/incg" "$T/builder" sh -c "
	cd '$PROJECT' && make -s && ./app &&
	git init -q && git add . && git -c user.name=ci -c user.email=ci@example.invalid commit -qm build &&
	python3 -c 'import json; print(json.dumps({\"ok\": True}))'" >"$E2E_TMP/build.out" 2>&1
built=$?
execs=$(wait_metric 5 abusewatch_tenant_execs_total builder ">=" 10)
wait_intervals 10
records=$(events_count "$AW_EVENTS" tenant=builder)
((built == 0 && records == 0)) && ! am_alert tenant=builder >/dev/null
check software_benign "$?" "make+gcc (4 files), git, python in builder: status $built, execs_total $execs, records $records (want 0)"

# ---- a secret in argv and in the environment of a flagged process
"$AW_TOOLS/incg" "$T/secretive" env AW_E2E_TOKEN=env-secret-8d1f "$BIN/worker" 1 \
	-o stratum+tcp://127.0.0.1:3333 --pass=argv-secret-77c2
what=$(found_software secretive argv "True")
am=$(curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts")
leaks=$( (cat "$AW_EVENTS" "$AGENT_LOG" "$AW_TEXTFILE"; printf '%s' "$am"; find "$AW_DIR/state" -type f -exec cat {} + 2>/dev/null) |
	grep -c 'secret-8d1f\|secret-77c2\|127.0.0.1:3333')
[[ $what == *"record: ok" ]] && ((leaks == 0))
check software_secrets "$?" "flagged process with secrets in argv and environment: $what; lines holding them in the events log, agent log, textfile, state and Alertmanager: $leaks (want 0)"

# ---- exec to record: 100 execs of the miner under 100 paths (one alert
# each), over four tenants (a tenant has at most 64 alerts firing at once)
python3 - "$BIN/latency" "$AW_EVENTS" "$AW_TOOLS/incg" "$T/latency" >"$E2E_TMP/latency.out" 2>&1 <<'EOF'
import json, os, statistics, subprocess, sys, time

root, events, incg, cgroups = sys.argv[1:5]
log = open(events)
log.seek(0, os.SEEK_END)
pending = ""
latencies = []
for i in range(100):
    exe = os.path.join(root, str(i), "xmrig")
    start = time.time()
    subprocess.run([incg, cgroups + str(i % 4), exe, "0"], check=True)
    deadline = start + 5
    found = None
    while found is None and time.time() < deadline:
        chunk = log.read()
        if not chunk:
            time.sleep(0.0005)
            continue
        pending += chunk
        *lines, pending = pending.split("\n")
        for line in lines:
            record = json.loads(line)
            if record.get("exe") == exe and record.get("state") == "firing":
                found = time.time() - start
    if found is None:
        print("missing %s" % exe)
        sys.exit(1)
    latencies.append(found)
latencies.sort()
print("records 100 median %.1f ms worst %.1f ms" %
      (statistics.median(latencies) * 1000, latencies[-1] * 1000))
EOF
result=$(tail -n 1 "$E2E_TMP/latency.out")
[[ $result == "records 100 "* ]]
check software_latency "$?" "exec of a denied binary to its record in the events log: $result"
e2e_log "software exec to events log record: $result"

stop_agent
e2e_finish
