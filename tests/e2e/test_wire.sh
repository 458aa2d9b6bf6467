#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Mining on the wire, whatever the name, end to end: a mining client this
# project writes (tests/tools/poolclient.c, copied under innocent names,
# its pool, wallet and password read from a configuration file, never from
# argv) against a fake pool (tests/tools/fake_pool.py) and a DNS responder
# (tests/tools/dns_responder.py) on 127.0.0.0/8, in tenant cgroups whose
# software policy denies builtin:miners, into the events log:
# - stratum in the first bytes of a TCP connection, rule=stratum, for each
#   family of opening methods: Monero-style login with an agent (compact
#   JSON as XMRig sends it, and with blanks), mining.subscribe +
#   mining.authorize (with blanks, as cpuminer sends them), eth_submitLogin;
# - the same from a client called cc1plus-helper, run with no argv at all
#   (execve with argc 0, which Linux >= 5.18 turns into one empty
#   argument), its configuration in its working directory, on port 15555;
# - a pool host name in the SNI of a TLS ClientHello (port 443 where it is
#   free), rule=pool_domain, the record naming the matched suffix only;
# - a pool host name in a DNS query over UDP (with EDNS0) and over TCP (in
#   mixed case) to port 53, rule=pool_domain, the suffix only;
# - action kill: the client dies;
# - ten runs of a miner: one alert; an alert resolves once the window has
#   passed and the client has exited;
# - quiet: the same miner in a tenant whose policy allows miners; JSON-RPC
#   that is not stratum (an LSP initialize, an Ethereum node query, a web
#   application's "login" without a miner's agent); curl over HTTPS with an
#   ordinary SNI; DNS lookups of ordinary names and of names that only look
#   like pools (no label boundary, not a suffix); git clone from a local
#   git daemon;
# - privacy: the wallet, the password and the pool host names appear in no
#   record, log line, textfile or state file of the agent, nor anywhere in
#   its memory (heap, stacks, the ring buffers and maps it maps).
# Loopback only; every server and client is bounded in time.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases wire_stratum_xmr wire_stratum_xmr_spaced wire_stratum_subscribe wire_stratum_eth \
	wire_stratum_renamed wire_tls_sni wire_dns_udp wire_dns_tcp wire_kill wire_once wire_resolved \
	wire_policy_off wire_benign_jsonrpc wire_benign_https wire_benign_dns wire_dns_lookalike \
	wire_benign_git wire_privacy wire_agent_memory
e2e_require_root_bpf || e2e_finish
e2e_require_commands python3 openssl curl git timeout ss || e2e_finish
e2e_require_build incg poolclient || e2e_finish
e2e_setup || e2e_finish

# What the clients send and must never come out of the agent.
WALLET=48e2eWa11et$(printf '%04x%04x' "$RANDOM" "$RANDOM")q7VbJ5dPzW3mK9tXcR2nL8hF4sG6yU1oE3iA5wB7zC9vN2mQ4pT6rY8uI0kH3jD5fS7gL9
PASSWORD=rigpass-$(printf '%04x' "$RANDOM")-e2e
# Pool host names: the records may name the suffixes of the built-in list
# (supportxmr.com, moneroocean.stream, nanopool.org), never these labels.
SNI_POOL=pool.supportxmr.com
UDP_POOL=gulf.moneroocean.stream
# In mixed case: DNS names are compared in any case.
TCP_POOL=Xmr-EU1.NanoPool.ORG
SERVERS_LIFETIME=240

# start_server NAME COMMAND...: COMMAND outside every tenant, its output in
# $E2E_TMP/NAME.out and NAME.err; waits (<= 5 s) for "listening" on stderr.
# Sets SERVER_PID (killed at exit); status 1 when it did not start.
start_server() {
	local name=$1 i
	shift
	"$AW_TOOLS/incg" "$AW_HOST_CG" "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
	SERVER_PID=$!
	on_cleanup kill "$SERVER_PID"
	for ((i = 0; i < 50; i++)); do
		grep -q '^listening' "$E2E_TMP/$name.err" 2>/dev/null && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	return 1
}

# start_pool NAME ADDRESS PORT [TLS]: fake_pool.py on ADDRESS:PORT (0: any
# port), with the test's certificate when TLS is given; sets PORT_OF_POOL.
start_pool() {
	local name=$1 address=$2 port=$3 tls=()
	PORT_OF_POOL=""
	[[ -n ${4:-} ]] && tls=(--cert "$E2E_TMP/cert.pem" --key "$E2E_TMP/key.pem")
	start_server "$name" timeout "$((SERVERS_LIFETIME + 10))" python3 \
		"$E2E_REPO/tests/tools/fake_pool.py" --address "$address" --port "$port" \
		--log "$E2E_TMP/$name.log" --lifetime "$SERVERS_LIFETIME" "${tls[@]}" || return 1
	PORT_OF_POOL=$(awk '$1 == "listening" { print $2; exit }' "$E2E_TMP/$name.err")
}

# port_free ADDRESS PORT: no TCP socket listens on it (nor on the wildcard).
port_free() {
	! ss -Hltn "sport = :$2" 2>/dev/null | awk '{ print $4 }' |
		grep -qE "^($1|0\.0\.0\.0|\*|\[::\]):$2\$"
}

# ---- the certificate of the TLS servers, for pool and ordinary names
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=abusewatch-e2e \
	-addext "subjectAltName=DNS:deb.debian.org,DNS:$SNI_POOL" \
	-keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" >"$E2E_TMP/openssl.log" 2>&1 || {
	fail_all "openssl could not make a self-signed certificate: $(tail -n 1 "$E2E_TMP/openssl.log")"
	e2e_finish
}

# ---- the servers, outside every tenant
start_pool pool 127.0.0.1 0 || {
	fail_all "the fake pool did not start: $(tail -n 1 "$E2E_TMP/pool.err")"
	e2e_finish
}
POOL_PORT=$PORT_OF_POOL
# A port on no list of pool ports.
if ! port_free 127.0.0.1 15555 || ! start_pool oddpool 127.0.0.1 15555; then
	e2e_log "port 15555 is taken: the renamed client uses another unusual port"
	start_pool oddpool 127.0.0.1 0 || {
		fail_all "the fake pool did not start: $(tail -n 1 "$E2E_TMP/oddpool.err")"
		e2e_finish
	}
fi
ODD_PORT=$PORT_OF_POOL
# TLS on 443 where it is free, as a pool behind HTTPS would be.
TLS_ADDR=127.0.0.154
if ! port_free "$TLS_ADDR" 443 || ! start_pool tlspool "$TLS_ADDR" 443 tls; then
	e2e_log "port 443 of $TLS_ADDR is taken: the TLS pool listens on another port"
	TLS_ADDR=127.0.0.1
	start_pool tlspool "$TLS_ADDR" 0 tls || {
		fail_all "the TLS pool did not start: $(tail -n 1 "$E2E_TMP/tlspool.err")"
		e2e_finish
	}
fi
TLS_PORT=$PORT_OF_POOL
# The resolver: port 53 of an address of 127.0.0.0/8 nobody else serves.
RESOLVER=""
DNS_WHY=""
for address in 127.0.0.153 127.0.0.155 127.0.0.157 127.0.0.159; do
	if start_server dns timeout "$((SERVERS_LIFETIME + 10))" python3 \
		"$E2E_REPO/tests/tools/dns_responder.py" --address "$address" --port 53 \
		--log "$E2E_TMP/dns.log" --lifetime "$SERVERS_LIFETIME"; then
		RESOLVER=$address
		break
	fi
	DNS_WHY+="$address: $(tail -n 1 "$E2E_TMP/dns.err"); "
done
[[ -n $RESOLVER ]] || e2e_log "no DNS responder: $DNS_WHY"
# git daemon serving one repository with one commit.
GIT_PORT=""
GIT_BASE=$E2E_TMP/git
if git init -q --bare "$GIT_BASE/project.git" &&
	git init -q "$E2E_TMP/project" &&
	printf 'int main(void) { return 0; }\n' >"$E2E_TMP/project/main.c" &&
	git -C "$E2E_TMP/project" add main.c &&
	git -C "$E2E_TMP/project" -c user.name=ci -c user.email=ci@example.invalid commit -qm one &&
	git -C "$E2E_TMP/project" push -q "$GIT_BASE/project.git" HEAD:refs/heads/main 2>/dev/null &&
	git --git-dir="$GIT_BASE/project.git" symbolic-ref HEAD refs/heads/main &&
	GIT_PORT=$(free_port); then
	"$AW_TOOLS/incg" "$AW_HOST_CG" timeout "$((SERVERS_LIFETIME + 10))" git daemon \
		--listen=127.0.0.1 --port="$GIT_PORT" --base-path="$GIT_BASE" --export-all \
		--reuseaddr "$GIT_BASE" >"$E2E_TMP/gitd.log" 2>&1 &
	on_cleanup kill "$!"
	for ((i = 0; i < 50; i++)); do
		timeout 5 git ls-remote "git://127.0.0.1:$GIT_PORT/project.git" >/dev/null 2>&1 && break
		sleep 0.1
	done
	((i < 50)) || GIT_PORT=""
fi

AW_RULES_EXTRA="  - cgroup: \"$AWTEST_REL/tenants/killer/**\"
    tenant: killer
    plan: killing
  - cgroup: \"$AWTEST_REL/tenants/open/**\"
    tenant: open
    plan: open" write_config wire "plans:
  default:
    window: 2s
    software: nominers
  killing:
    window: 2s
    software: killing
  open:
    window: 2s
software:
  nominers:
    deny: [builtin:miners]
  killing:
    deny: [builtin:miners]
    action: kill
network:
  pool_ports: [3333]
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
for name in xmr xmrstak flood subscribe eth renamed tls dnsudp dnstcp killer open lsp browser resolver \
	lookalike gitter; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
T=$AW_TENANTS
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# client TENANT NAME CONFIG-LINES...: a copy of poolclient called NAME in
# $E2E_TMP/clients/TENANT/, its configuration there as pool.cfg (named by
# $POOLCLIENT_CONFIG); run in the tenant's cgroup with argv[0] only. Its
# stderr goes to the directory's client.err; sets CLIENT_EXE. Status: the
# client's.
client_prepare() {
	local tenant=$1 name=$2 dir
	shift 2
	dir=$E2E_TMP/clients/$tenant
	CLIENT_EXE=$dir/$name
	mkdir -p "$dir" && cp "$AW_TOOLS/poolclient" "$CLIENT_EXE" &&
		printf '%s\n' "wallet=$WALLET" "pass=$PASSWORD" "timeout=10" "$@" >"$dir/pool.cfg"
}
client() {
	local tenant=$1
	client_prepare "$@" || return 1
	POOLCLIENT_CONFIG=${CLIENT_EXE%/*}/pool.cfg "$AW_TOOLS/incg" "$T/$tenant" "$CLIENT_EXE" \
		2>>"${CLIENT_EXE%/*}/client.err"
}
client_said() { tail -n 1 "$E2E_TMP/clients/$1/client.err" 2>/dev/null; }

record_check() { first_record_check unauthorized_software "$@"; }

# found_wire TENANT RULE CONDITION: waits (<= 10 s) for the firing record;
# prints a description, status 0 when it satisfies CONDITION (on r).
found_wire() {
	local tenant=$1 rule=$2 condition=$3 waited record
	waited=$(wait_events 10 "$AW_EVENTS" tenant="$tenant" rule="$rule" state=firing) || {
		printf 'no firing %s record within 10 s' "$rule"
		return 1
	}
	record=$(record_check "$tenant" "$rule" "$condition")
	printf 'record after %s s: %s' "$waited" "$record"
	[[ $record == ok ]]
}

# sender_fields TENANT RULE: which of exe, comm, pid the record carries.
sender_fields() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == sys.argv[2] and r.get("rule") == sys.argv[3]:
        print(" ".join("%s=%s" % (k, r[k]) for k in ("exe", "comm", "pid") if k in r) or "none")
        break' "$AW_EVENTS" "$@" 2>/dev/null
}

# A condition on r: a sender field, when the record has it, is the client's.
sender_is() {
	printf "r.get('exe', '%s') == '%s' and r.get('comm', '%s') == '%s' and r.get('pid', 1) > 0" \
		"$1" "$1" "${1##*/}" "${1##*/}"
}

# dns_asked TRANSPORT NAME: the responder got a query for NAME over it.
dns_asked() {
	grep -qF "{\"transport\": \"$1\", \"name\": \"$2\"," "$E2E_TMP/dns.log" 2>/dev/null
}

# ---- benign traffic first: the agent has every later wait to report it
# JSON-RPC that is not stratum: an LSP initialize, an Ethereum node query.
client lsp clangd-helper "port=$POOL_PORT" protocol=jsonrpc
lsp_status=$?
client lsp clangd-helper "port=$POOL_PORT" protocol=ethnode
lsp_status=$((lsp_status | $?))
client lsp clangd-helper "port=$POOL_PORT" protocol=applogin
lsp_status=$((lsp_status | $?))

# HTTPS to an ordinary name: curl, its SNI deb.debian.org.
https_body=$("$AW_TOOLS/incg" "$T/browser" curl -sS --max-time 20 --noproxy '*' \
	--cacert "$E2E_TMP/cert.pem" --resolve "deb.debian.org:$TLS_PORT:$TLS_ADDR" \
	"https://deb.debian.org:$TLS_PORT/debian/dists/stable/Release" 2>&1)
https_status=$?

# DNS lookups of ordinary names and of names that only look like pools.
ORDINARY=(deb.debian.org github.com pypi.org registry.npmjs.org)
LOOKALIKE=(notsupportxmr.com supportxmr.com.example.org hashvault.pro.internal.example myc3pool.com)
dns_benign_status=0
dns_lookalike_status=0
if [[ -n $RESOLVER ]]; then
	for name in "${ORDINARY[@]}"; do
		for transport in udp tcp; do
			client resolver apt-helper protocol=none "dns=$transport" "name=$name" \
				"resolver=$RESOLVER" edns=1 || dns_benign_status=1
		done
	done
	for name in "${LOOKALIKE[@]}"; do
		for transport in udp tcp; do
			client lookalike apt-helper protocol=none "dns=$transport" "name=$name" \
				"resolver=$RESOLVER" || dns_lookalike_status=1
		done
	done
fi

# git clone from a local git daemon.
git_status=1
if [[ -n $GIT_PORT ]]; then
	"$AW_TOOLS/incg" "$T/gitter" timeout 60 git clone -q "git://127.0.0.1:$GIT_PORT/project.git" \
		"$E2E_TMP/clone" >"$E2E_TMP/clone.log" 2>&1 && [[ -f $E2E_TMP/clone/main.c ]]
	git_status=$?
fi

# The miner itself in a tenant whose policy allows it.
client open xmrig-like "port=$POOL_PORT" protocol=xmr
open_status=$?

# ---- stratum, each family of opening methods, on the fake pool's port
client xmr build-worker "port=$POOL_PORT" protocol=xmr
status=$?
what=$(found_wire xmr stratum "r['dst_port'] == $POOL_PORT and r['action'] == 'alert' and $(sender_is "$CLIENT_EXE")")
((status == 0)) && [[ $what == *": ok" ]]
check wire_stratum_xmr "$?" "login with agent to port $POOL_PORT (client: $(client_said xmr)): $what"

client xmrstak build-worker "port=$POOL_PORT" protocol=xmr style=spaced
status=$?
what=$(found_wire xmrstak stratum "r['dst_port'] == $POOL_PORT and $(sender_is "$CLIENT_EXE")")
((status == 0)) && [[ $what == *": ok" ]]
check wire_stratum_xmr_spaced "$?" "login with agent, JSON with blanks, to port $POOL_PORT (client: $(client_said xmrstak)): $what"

client subscribe build-worker "port=$POOL_PORT" protocol=stratum style=spaced
status=$?
what=$(found_wire subscribe stratum "r['dst_port'] == $POOL_PORT and $(sender_is "$CLIENT_EXE")")
((status == 0)) && [[ $what == *": ok" ]]
check wire_stratum_subscribe "$?" "mining.subscribe + mining.authorize to port $POOL_PORT (client: $(client_said subscribe)): $what"

client eth build-worker "port=$POOL_PORT" protocol=eth
status=$?
what=$(found_wire eth stratum "r['dst_port'] == $POOL_PORT and $(sender_is "$CLIENT_EXE")")
((status == 0)) && [[ $what == *": ok" ]]
check wire_stratum_eth "$?" "eth_submitLogin to port $POOL_PORT (client: $(client_said eth)): $what"

# ---- renamed, no argv at all, its configuration in its working directory
client_prepare renamed cc1plus-helper "port=$ODD_PORT" protocol=xmr argc0=1 &&
	mv "${CLIENT_EXE%/*}/pool.cfg" "${CLIENT_EXE%/*}/settings.ini"
(cd "${CLIENT_EXE%/*}" && exec "$AW_TOOLS/incg" "$T/renamed" "$CLIENT_EXE" 2>>client.err)
status=$?
said=$(client_said renamed)
what=$(found_wire renamed stratum "r['dst_port'] == $ODD_PORT and $(sender_is "$CLIENT_EXE")")
((status == 0)) && [[ $said == *"argv[0] empty"* && $what == *": ok" ]]
check wire_stratum_renamed "$?" "cc1plus-helper with an empty argv to port $ODD_PORT (client: $said): $what"
e2e_log "stratum record's sender fields: $(sender_fields renamed stratum)"

# ---- TLS with a pool's SNI
client tls cc1plus-helper "address=$TLS_ADDR" "port=$TLS_PORT" protocol=xmr tls=1 "sni=$SNI_POOL"
status=$?
what=$(found_wire tls pool_domain "r['dst_port'] == $TLS_PORT and 'supportxmr.com' in r['reason'] and $(sender_is "$CLIENT_EXE")")
sni_seen=$(grep -c "\"sni\": \"$SNI_POOL\"" "$E2E_TMP/tlspool.log" 2>/dev/null)
((status == 0 && sni_seen > 0)) && [[ $what == *": ok" ]]
check wire_tls_sni "$?" "TLS to $TLS_ADDR:$TLS_PORT with SNI $SNI_POOL (client: $(client_said tls); connections with that SNI at the pool: ${sni_seen:-0}): $what"

# ---- DNS queries for pool names, then the pool at the address answered
if [[ -n $RESOLVER ]]; then
	client dnsudp cc1plus-helper "port=$POOL_PORT" protocol=xmr dns=udp "name=$UDP_POOL" \
		"resolver=$RESOLVER" edns=1
	status=$?
	what=$(found_wire dnsudp pool_domain "r['dst_port'] == 53 and 'moneroocean.stream' in r['reason'] and 'gulf' not in json.dumps(r) and $(sender_is "$CLIENT_EXE")")
	((status == 0)) && dns_asked udp "$UDP_POOL" && [[ $what == *": ok" ]]
	check wire_dns_udp "$?" "DNS over UDP for $UDP_POOL (client: $(client_said dnsudp); resolver asked: $(dns_asked udp "$UDP_POOL" && echo yes || echo no)): $what"

	client dnstcp cc1plus-helper "port=$POOL_PORT" protocol=xmr dns=tcp "name=$TCP_POOL" \
		"resolver=$RESOLVER"
	status=$?
	what=$(found_wire dnstcp pool_domain "r['dst_port'] == 53 and 'nanopool.org' in r['reason'].lower() and 'xmr-eu1' not in json.dumps(r).lower() and $(sender_is "$CLIENT_EXE")")
	((status == 0)) && dns_asked tcp "$TCP_POOL" && [[ $what == *": ok" ]]
	check wire_dns_tcp "$?" "DNS over TCP for $TCP_POOL (client: $(client_said dnstcp); resolver asked: $(dns_asked tcp "$TCP_POOL" && echo yes || echo no)): $what"
else
	skip wire_dns_udp "no DNS responder could listen on port 53 of 127.0.0.153-159: $DNS_WHY"
	skip wire_dns_tcp "no DNS responder could listen on port 53 of 127.0.0.153-159: $DNS_WHY"
fi

# ---- action kill: a client that stays connected for 30 s dies
client_prepare killer cc1plus-helper "port=$POOL_PORT" protocol=xmr hold=30
POOLCLIENT_CONFIG=${CLIENT_EXE%/*}/pool.cfg "$AW_TOOLS/incg" "$T/killer" "$CLIENT_EXE" \
	2>>"${CLIENT_EXE%/*}/client.err" &
victim=$!
for ((i = 0; i < 150; i++)); do
	kill -0 "$victim" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$victim" 2>/dev/null && e2e_log "the client of tenant killer is alive after 15 s"
kill -KILL "$victim" 2>/dev/null
wait "$victim"
status=$?
what=$(found_wire killer stratum "r['action'] == 'kill' and r.get('action_result', '').startswith('killed pid')")
((i < 150 && status == 137)) && [[ $what == *": ok" ]]
check wire_kill "$?" "client under action kill: $( ((i < 150)) && echo "ended after $((i / 10)).$((i % 10)) s" || echo "alive after 15 s (killed by the test)"), exit status $status (want 137, SIGKILL); $what"

# ---- ten runs, one alert
statuses=0
for ((i = 0; i < 10; i++)); do
	client flood build-worker "port=$POOL_PORT" protocol=xmr || statuses=$((statuses + 1))
done
wait_events 10 "$AW_EVENTS" tenant=flood rule=stratum state=firing >/dev/null
wait_intervals 5
firing=$(events_count "$AW_EVENTS" tenant=flood state=firing)
((statuses == 0 && firing == 1))
check wire_once "$?" "ten runs of one client in a tenant: $firing firing records (want 1); clients that failed: $statuses"

# ---- resolved: the xmr client exited long ago; the window is 2 s
waited=$(wait_events 10 "$AW_EVENTS" tenant=xmr rule=stratum state=resolved)
check wire_resolved "$?" "the stratum alert of tenant xmr resolved: ${waited:+after $waited s more}${waited:-no record within 10 s}"

# ---- the quiet ones, now that the agent had its time
wait_intervals 10
quiet() {
	local tenant count
	for tenant in "$@"; do
		count=$(events_count "$AW_EVENTS" tenant="$tenant")
		((count == 0)) || {
			printf '%s records of tenant %s: %s' "$count" "$tenant" \
				"$(grep -m 1 "\"tenant\":\"$tenant\"" "$AW_EVENTS")"
			return 1
		}
	done
	printf 'no record'
}

what=$(quiet open)
((open_status == 0)) && [[ $what == "no record" ]]
check wire_policy_off "$?" "the same client in a tenant whose plan has no software policy (client: $(client_said open)): $what"

what=$(quiet lsp)
methods=$(grep -c '"initialize"\|"eth_blockNumber"' "$E2E_TMP/pool.log" 2>/dev/null)
((lsp_status == 0 && methods >= 2)) && [[ $what == "no record" ]]
check wire_benign_jsonrpc "$?" "JSON-RPC initialize, eth_blockNumber and an application's login (clients: status $lsp_status, $(client_said lsp); initialize and eth_blockNumber seen by the server: ${methods:-0} of 2): $what"

what=$(quiet browser)
((https_status == 0)) && [[ $https_body == ok && $what == "no record" ]] &&
	grep -q '"sni": "deb.debian.org"' "$E2E_TMP/tlspool.log"
check wire_benign_https "$?" "curl https://deb.debian.org:$TLS_PORT (to $TLS_ADDR): status $https_status, body '${https_body:0:80}'; $what"

if [[ -n $RESOLVER ]]; then
	missing=""
	for name in "${ORDINARY[@]}"; do
		dns_asked udp "$name" && dns_asked tcp "$name" || missing+=" $name"
	done
	what=$(quiet resolver)
	((dns_benign_status == 0)) && [[ -z $missing && $what == "no record" ]]
	check wire_benign_dns "$?" "${ORDINARY[*]} over UDP and TCP (client: $(client_said resolver); not asked:${missing:- none}): $what"

	missing=""
	for name in "${LOOKALIKE[@]}"; do
		dns_asked udp "$name" && dns_asked tcp "$name" || missing+=" $name"
	done
	what=$(quiet lookalike)
	((dns_lookalike_status == 0)) && [[ -z $missing && $what == "no record" ]]
	check wire_dns_lookalike "$?" "${LOOKALIKE[*]} over UDP and TCP (client: $(client_said lookalike); not asked:${missing:- none}): $what"
else
	skip wire_benign_dns "no DNS responder could listen on port 53 of 127.0.0.153-159: $DNS_WHY"
	skip wire_dns_lookalike "no DNS responder could listen on port 53 of 127.0.0.153-159: $DNS_WHY"
fi

if [[ -n $GIT_PORT ]]; then
	what=$(quiet gitter)
	((git_status == 0)) && [[ $what == "no record" ]]
	check wire_benign_git "$?" "git clone git://127.0.0.1:$GIT_PORT/project.git: status $git_status ($(tail -n 1 "$E2E_TMP/clone.log" 2>/dev/null)); $what"
else
	skip wire_benign_git "git daemon did not serve on 127.0.0.1: $(tail -n 1 "$E2E_TMP/gitd.log" 2>/dev/null)"
fi

# ---- payload bytes never reach the agent: its memory (heap, stacks, the
# ring buffers and maps it maps, every writable page) holds neither what
# the clients sent nor the names they looked up; the path of its events
# log, which it does hold, shows that the search finds a string there.
memory=$(python3 - "$AGENT_PID" "$AW_EVENTS" "$WALLET" "${WALLET:0:24}" "$PASSWORD" "$SNI_POOL" \
	"$UDP_POOL" "$TCP_POOL" <<'EOF'
import os, sys

pid, control, *needles = sys.argv[1:]
# In any case: a name may come out lowered.
wanted = [control.lower().encode()] + [n.lower().encode() for n in needles]
counts = dict.fromkeys(wanted, 0)
where = {w: set() for w in wanted}
overlap = max(len(w) for w in wanted)
skipped = 0
scanned = [0, 0]
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split("-"))
        name = fields[5] if len(fields) > 5 else ""
        if "r" not in fields[1] or name in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
            continue
        # Read-only pages of a file (the program, its libraries, their
        # constant data such as the commented list of pool domains) hold
        # what is on disk, nothing the agent received.
        if name.startswith("/") and "w" not in fields[1]:
            continue
        # A sanitizer's shadow memory: terabytes reserved, nothing of ours.
        if end - start > 1 << 30:
            skipped += 1
            continue
        tail = b""
        scanned[name.startswith("anon_inode:bpf")] += end - start
        for at in range(start, end, 1 << 20):
            try:
                mem.seek(at)
                chunk = mem.read(min(1 << 20, end - at)).lower()
            except (OSError, ValueError, OverflowError):
                break
            data = tail + chunk
            for w in wanted:
                found = data.count(w) - tail.count(w)
                if found:
                    counts[w] += found
                    where[w].add(name or "anonymous")
                    if w != wanted[0] and os.environ.get("AW_WIRE_MEMORY_CONTEXT"):
                        at_hit = data.find(w)
                        print(name, repr(data[max(0, at_hit - 200):at_hit + 100]), file=sys.stderr)
            tail = data[-overlap:]
print("%.1f MiB scanned, of which %.1f MiB of BPF maps; control %d; %s; %d huge mappings skipped" % (
    sum(scanned) / 2**20, scanned[1] / 2**20,
    counts[wanted[0]],
    ", ".join("%s: %d%s" % (w.decode(), counts[w], " (%s)" % " ".join(sorted(where[w])) if counts[w] else "")
              for w in wanted[1:]),
    skipped))
EOF
)
[[ $memory == *"; control "[1-9]* && $memory != *": "[1-9]* ]]
check wire_agent_memory "$?" "occurrences in the agent's memory (its events log path as control, want > 0; the rest want 0): $memory"
e2e_log "agent memory: $memory"

# ---- privacy: what the clients sent is compared in the kernel, never kept
stop_agent
leaks=$( (cat "$AW_EVENTS" "$AGENT_LOG" "$AW_TEXTFILE" 2>/dev/null
	find "$AW_DIR/state" -type f -exec cat {} + 2>/dev/null) |
	grep -a -c -i -F -e "$WALLET" -e "${WALLET:0:24}" -e "$PASSWORD" -e "$SNI_POOL" -e "$UDP_POOL" \
		-e "$TCP_POOL" -e "${LOOKALIKE[0]}")
((leaks == 0))
check wire_privacy "$?" "lines holding the wallet, the password or a queried host name in the events log, agent log, textfile and state: $leaks (want 0)"

e2e_finish
