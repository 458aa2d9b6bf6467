#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Executables judged by their content (YARA rules) and digests learned on
# this node, end to end, with real processes in tenant cgroups this test
# creates, into the events log:
# - tests/tools/contentload, which carries the strings and tables of a
#   miner's executable, copied under an innocent name and run with no
#   arguments: rule content, naming a built-in rule of builtin:miners;
# - an operator rule file of a policy (software.*.yara) matching a marker
#   string of another tool (linger's usage line): content naming that rule;
# - a bad rule file: check-config fails naming the file and line; sent by
#   SIGHUP, the agent keeps its rules and still finds contentload;
# - one file caught by name (a copy of linger called xmrig) in tenant first,
#   then under other names in tenants second (learned_sha256 naming rule
#   name) and, after an agent restart, third; allow_sha256 still wins;
#   the learned file is 0600;
# - a file seen run clean is not learned from a name: /usr/bin/true copied
#   as xmrig is found by name, and true stays quiet in another tenant;
#   also when it was seen clean before an agent restart (/usr/bin/false:
#   state_dir/seen_clean_sha256, 0600);
# - a tenant truncating its executable while the worker scans it (mapped):
#   the agent goes on (a fault in the worker once killed it with SIGBUS)
#   and still finds contentload afterwards;
# - benign work stays quiet under the rules: make -j2 and gcc on a
#   multi-file C project, git, python3, node with its JIT. The build runs
#   twice in a fresh agent, whose figures (executables from the cache vs
#   hashed and scanned, MiB scanned and the time) are logged for the note.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases content_builtin content_operator content_bad_rule content_bad_reload \
	content_learned content_learned_restart content_learned_file content_allow content_not_poisoned \
	content_truncated content_benign content_not_poisoned_restart
e2e_require_root_bpf || e2e_finish
e2e_require_build incg linger contentload || e2e_finish
e2e_require_commands make gcc git python3 || e2e_finish
e2e_setup || e2e_finish

BIN=$E2E_TMP/bin
RULES=$E2E_TMP/rules
mkdir -p "$BIN/second" "$BIN/third" "$BIN/allowed" "$RULES" || {
	fail_all "cannot create $BIN"
	e2e_finish
}
# Bytes after the ELF image change the digest, not the program: the learned
# file is one of its own, so no other case learns or meets it.
mkdir -p "$BIN/poison" "$BIN/poison2" && cp "$(type -P true)" "$BIN/poison/xmrig" &&
	cp "$(type -P false)" "$BIN/poison2/xmrig" &&
	cp "$AW_TOOLS/contentload" "$BIN/buildstep" && cp "$AW_TOOLS/contentload" "$BIN/compile-helper" &&
	cp "$AW_TOOLS/linger" "$BIN/innocent" &&
	cp "$AW_TOOLS/linger" "$BIN/xmrig" && printf 'abusewatch e2e: learned\n' >>"$BIN/xmrig" &&
	cp "$BIN/xmrig" "$BIN/second/packer" && cp "$BIN/xmrig" "$BIN/third/indexer" &&
	cp "$BIN/xmrig" "$BIN/allowed/formatter" || {
	fail_all "cannot copy the test programs"
	e2e_finish
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
LEARNED_SHA=$(sha_of "$BIN/xmrig")
CONTENT_SHA=$(sha_of "$BIN/buildstep")

# The operator's rule: linger's usage line, a marker no other program has.
cat >"$RULES/operator.yar" <<'EOF'
rule linger_usage_marker
{
	strings:
		$usage = "usage: linger SECONDS"
	condition:
		$usage
}
EOF
printf 'rule broken\n{\n\tstrings:\n\t\t$a = "x"\n\tcondition:\n\t\t$b\n}\n' >"$RULES/broken.yar"

# config_yaml OPERATOR_RULES: the plans and policies, with the operator's file.
config_yaml() {
	printf '%s\n' "plans:
  default:
    window: 60s
    software: miners
  operated:
    window: 60s
    software: operator
  allowing:
    window: 60s
    software: allowing
software:
  miners:
    deny: [builtin:miners]
  operator:
    yara: [$1]
  allowing:
    deny: [builtin:miners]
    allow_sha256: [$LEARNED_SHA]
alerts:
  alertmanager: []"
}
AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/tenants/operated/**\"
    tenant: operated
    plan: operated
  - cgroup: \"$AWTEST_REL/tenants/allowed/**\"
    tenant: allowed
    plan: allowing"
export AW_RULES_EXTRA
write_config content "$(config_yaml "$RULES/operator.yar")" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in hidden operated reloaded first second third allowed builder poisoner victim truncater \
	after_truncation poisoner2 victim2; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
T=$AW_TENANTS

# ---- a bad rule file: check-config names the file and the line
cp "$AW_CONFIG" "$E2E_TMP/broken.yaml"
sed -i "s|$RULES/operator.yar|$RULES/broken.yar|" "$E2E_TMP/broken.yaml"
out=$("$AW_BIN" check-config "$E2E_TMP/broken.yaml" 2>&1)
status=$?
((status != 0)) && [[ $out =~ $RULES/broken.yar:[0-9]+:\ undefined\ string ]]
check content_bad_rule "$?" "check-config of a policy with a bad rule file: status $status (want non-zero), output: $out"

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

# ---- contentload as buildstep, no arguments: only its content tells
"$AW_TOOLS/incg" "$T/hidden" "$BIN/buildstep"
what=$(found hidden content "r['exe'] == '$BIN/buildstep' and r['sha256'] == '$CONTENT_SHA' and 'builtin:miners' in r['reason'] and 'YARA rule miner_' in r['reason']")
check content_builtin "$?" "contentload as buildstep, empty argv: $what"

# ---- the operator's rule file: linger as innocent
"$AW_TOOLS/incg" "$T/operated" "$BIN/innocent" 0
what=$(found operated content "r['exe'] == '$BIN/innocent' and 'linger_usage_marker' in r['reason'] and '$RULES/operator.yar' in r['reason']")
check content_operator "$?" "linger as innocent under the operator's rules: $what"

# ---- an executable truncated while it is scanned: the agent goes on
# true with 96 MiB after its image still runs, and takes the worker a
# fraction of a second to hash and scan: each copy is cut back to 4 KiB
# at another moment of that, so that one cut lands in the scan.
survived=yes
for delay in 0.05 0.1 0.15 0.2 0.25 0.3 0.4; do
	big=$BIN/big-$delay
	cp "$(type -P true)" "$big" && head -c 96M /dev/zero >>"$big" || break
	"$AW_TOOLS/incg" "$T/truncater" "$big"
	sleep "$delay"
	truncate -s 4096 "$big"
	sleep 0.5
	kill -0 "$AGENT_PID" 2>/dev/null || {
		survived="no: it died ($(tail -n 1 "$AGENT_LOG"))"
		break
	}
	rm -f "$big"
done
"$AW_TOOLS/incg" "$T/after_truncation" "$BIN/buildstep"
what=$(found after_truncation content "'builtin:miners' in r['reason']")
[[ $survived == yes ]]
check content_truncated "$?" "executables truncated while scanned: the agent survived: $survived; contentload afterwards: $what"
[[ $survived == yes ]] || e2e_finish

# ---- a reload to the bad file is refused; the rules stay
cp "$AW_CONFIG" "$E2E_TMP/good.yaml"
cp "$E2E_TMP/broken.yaml" "$AW_CONFIG"
kill -HUP "$AGENT_PID"
for ((i = 0; i < 50; i++)); do
	grep -Eq "broken.yar:[0-9]+: undefined string" "$AGENT_LOG" && break
	sleep 0.1
done
logged=$(grep -Ec "broken.yar:[0-9]+: undefined string" "$AGENT_LOG")
"$AW_TOOLS/incg" "$T/reloaded" "$BIN/compile-helper"
what=$(found reloaded content "'builtin:miners' in r['reason']")
status=$?
cp "$E2E_TMP/good.yaml" "$AW_CONFIG"
((status == 0 && logged > 0)) && kill -0 "$AGENT_PID"
check content_bad_reload "$?" "SIGHUP to a bad rule file: logged naming file and line $logged times (want > 0); contentload afterwards: $what"

# ---- caught by name in first, then under other names in second
"$AW_TOOLS/incg" "$T/first" "$BIN/xmrig" 0
first=$(found first name "r['sha256'] == '$LEARNED_SHA'")
"$AW_TOOLS/incg" "$T/second" "$BIN/second/packer" 0
what=$(found second learned_sha256 "r['exe'] == '$BIN/second/packer' and r['sha256'] == '$LEARNED_SHA' and 'rule name' in r['reason']")
check content_learned "$?" "xmrig in first: $first; the same file as packer in second: $what"

# ---- allow_sha256 wins over the learned digest
"$AW_TOOLS/incg" "$T/allowed" "$BIN/allowed/formatter" 0
wait_metric 5 abusewatch_tenant_execs_total allowed ">=" 1 >/dev/null
wait_intervals 5
records=$(events_count "$AW_EVENTS" tenant=allowed)
((records == 0))
check content_allow "$?" "the learned file as formatter under allow_sha256: records $records (want 0)"

# ---- a file seen run clean is not learned from its name
TRUE=$(type -P true)
"$AW_TOOLS/incg" "$T/victim" "$TRUE"
wait_metric 5 abusewatch_tenant_execs_total victim ">=" 1 >/dev/null
"$AW_TOOLS/incg" "$T/poisoner" "$BIN/poison/xmrig"
poisoned=$(found poisoner name "r['exe'] == '$BIN/poison/xmrig'")
"$AW_TOOLS/incg" "$T/victim" "$TRUE"
wait_metric 5 abusewatch_tenant_execs_total victim ">=" 2 >/dev/null
wait_intervals 5
records=$(events_count "$AW_EVENTS" tenant=victim)
[[ $poisoned == "record ok"* ]] && ((records == 0)) && grep -q "not learned: it was seen run clean" "$AGENT_LOG"
check content_not_poisoned "$?" "true copied as xmrig: $poisoned; true in victim afterwards: records $records (want 0)"

# false seen run clean before the restart below: after it, copied as xmrig.
FALSE=$(type -P false)
"$AW_TOOLS/incg" "$T/victim2" "$FALSE"
wait_metric 5 abusewatch_tenant_execs_total victim2 ">=" 1 >/dev/null
wait_intervals 2

# ---- after a restart the digest is still learned, from the state directory
stop_agent
mode=$(stat -c %a "$AW_DIR/state/learned_sha256" 2>/dev/null)
lines=$(grep -c "^$LEARNED_SHA miners name\$" "$AW_DIR/state/learned_sha256" 2>/dev/null)
[[ $mode == 600 && $lines == 1 ]]
check content_learned_file "$?" "state/learned_sha256: mode ${mode:-missing} (want 600), lines for the digest $lines (want 1)"

if agent_or_report "content_learned_restart content_not_poisoned_restart content_benign" "$AW_CONFIG"; then
	"$AW_TOOLS/incg" "$T/third" "$BIN/third/indexer" 0
	what=$(found third learned_sha256 "r['exe'] == '$BIN/third/indexer' and 'rule name' in r['reason']")
	check content_learned_restart "$?" "after a restart, the same file as indexer in third: $what"

	# ---- seen run clean before the restart: still not learned from a name
	mode=$(stat -c %a "$AW_DIR/state/seen_clean_sha256" 2>/dev/null)
	"$AW_TOOLS/incg" "$T/poisoner2" "$BIN/poison2/xmrig"
	poisoned=$(found poisoner2 name "r['exe'] == '$BIN/poison2/xmrig'")
	"$AW_TOOLS/incg" "$T/victim2" "$FALSE"
	wait_metric 5 abusewatch_tenant_execs_total victim2 ">=" 2 >/dev/null
	wait_intervals 5
	records=$(events_count "$AW_EVENTS" tenant=victim2)
	[[ $poisoned == "record ok"* && $mode == 600 ]] && ((records == 0)) &&
		grep -q "not learned: it was seen run clean" "$AGENT_LOG"
	check content_not_poisoned_restart "$?" "false run clean before a restart, copied as xmrig after it: $poisoned; false in victim2 afterwards: records $records (want 0); state/seen_clean_sha256 mode ${mode:-missing} (want 600); log: $(grep -E 'seen run clean|learned \(rule' "$AGENT_LOG" | tr '\n' ' ')"
	stop_agent
fi

# ---- benign work, in a fresh agent: a build twice, git, python3, node
PROJECT=$E2E_TMP/project
mkdir -p "$PROJECT"
for ((i = 0; i < 12; i++)); do
	printf '#include <stdio.h>\nint part%d(int x) { char b[32]; snprintf(b, sizeof(b), "%%d", x); return x + %d + b[0]; }\n' \
		"$i" "$i" >"$PROJECT/part$i.c"
	printf 'int part%d(int x);\n' "$i" >>"$PROJECT/parts.h"
done
{
	printf '#include "parts.h"\nint main(void) { int t = 0;\n'
	for ((i = 0; i < 12; i++)); do printf 't += part%d(%d);\n' "$i" "$i"; done
	printf 'return t > 0 ? 0 : 1; }\n'
} >"$PROJECT/main.c"
printf 'OBJS := $(patsubst %%.c,%%.o,$(wildcard *.c))\napp: $(OBJS)\n\t$(CC) -o $@ $^\n%%.o: %%.c parts.h\n\t$(CC) -O2 -c -o $@ $<\nclean:\n\trm -f app *.o\n' \
	>"$PROJECT/Makefile"
NODE=$(command -v node || command -v nodejs || true)
# A loop hot enough for V8 to compile it (TurboFan) in executable memory.
NODE_JS='let s = 0; for (let i = 0; i < 3e7; i++) s += i % 7; console.log(s > 0 ? "ok" : "no")'
if agent_or_report "content_benign" "$AW_CONFIG"; then
	"$AW_TOOLS/incg" "$T/builder" sh -c "
		cd '$PROJECT' && make -s -j2 && ./app && make -s clean && make -s -j2 && ./app &&
		git init -q && git add . && git -c user.name=ci -c user.email=ci@example.invalid commit -qm build &&
		python3 -c 'import json; print(json.dumps({\"ok\": True}))' &&
		{ [ -z '$NODE' ] || '$NODE' -e '$NODE_JS'; }" >"$E2E_TMP/build.out" 2>&1
	built=$?
	wait_metric 5 abusewatch_tenant_execs_total builder ">=" 20 >/dev/null
	wait_intervals 10
	execs=$(metric abusewatch_tenant_execs_total builder)
	records=$(events_count "$AW_EVENTS" tenant=builder)
	stop_agent
	figures=$(grep -o 'executables: .*' "$AGENT_LOG" | tail -n 1)
	e2e_log "benign build (2 x make -j2 of 13 files, git, python3${NODE:+, node}) in a fresh agent: execs_total $execs; ${figures:-no figures logged}"
	((built == 0 && records == 0))
	check content_benign "$?" "make -j2 x2 (13 files), git, python3, ${NODE:-no node}: status $built ($(tail -n 3 "$E2E_TMP/build.out" | tr '\n' ' ')), execs_total $execs, records $records (want 0); ${figures:-}"
fi
e2e_finish
