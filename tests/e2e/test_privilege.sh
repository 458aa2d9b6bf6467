#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Least privilege around the agent's files and sinks:
# - priv_config_refused: a configuration writable by its group or others,
#   or owned by another user, is refused by run, check-config and a reload
#   (the running agent keeps its configuration), naming the file;
# - priv_secret_refused: the same for the webhook secret file, at its line;
# - priv_modes: under umask 000 and 077 alike, the textfile is 0644 (its
#   directory 0755), the events log 0640 (0750), state_dir, its spool 0700,
#   the spool files and firing.json 0600;
# - priv_tls_ca: HTTPS sinks with a private CA (made here with openssl, the
#   server python's ssl on 127.0.0.1): without the CA file the certificate
#   is refused (logged; the records wait in the spool), with it (a reload
#   adds alerts.webhook.ca_file and alerts.alertmanager_ca_file) every
#   record is delivered;
# - priv_secrets_not_logged: the webhook secret, a basic-auth password in
#   the Alertmanager and webhook URLs and a token in the webhook URL's query
#   reach neither the logs, nor the events log, the textfile or state_dir,
#   after sinks failing (500, 401), a reload with a new password and a
#   refused reload with a bad URL; the server did get the credentials.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases priv_config_refused priv_secret_refused priv_modes priv_tls_ca priv_secrets_not_logged
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn linger || e2e_finish
e2e_require_commands python3 openssl || e2e_finish
e2e_setup || e2e_finish

e2e_fake_miner || e2e_finish
T=$AW_TENANTS
export ABUSEWATCH_TEST_BACKOFF_MS=100

miner_in() {
	tenant_cgroup "$1" >/dev/null && "$AW_TOOLS/incg" "$T/$1" "$BIN/xmrig" 0
}

# reload: SIGHUP, then waits (<= 5 s) for the agent to say how it went.
reload() {
	local before i
	before=$(grep -cE "configuration reloaded|reload refused" "$AGENT_LOG")
	kill -HUP "$AGENT_PID"
	for ((i = 0; i < 50; i++)); do
		(($(grep -cE "configuration reloaded|reload refused" "$AGENT_LOG") > before)) && return 0
		sleep 0.1
	done
	return 1
}

PLAN="plans:
  default:
    window: 2s
    software: watching
software:
  watching:
    deny: [builtin:miners]"

# ---- a configuration others could write
write_config refused "$PLAN
alerts:
  alertmanager: []" || {
	fail_all "cannot write the configuration"
	e2e_finish
}
CONFIG=$AW_CONFIG
chmod 0664 "$CONFIG"
run_out=$("$AW_BIN" run -c "$CONFIG" --once 2>&1)
run_status=$?
check_out=$("$AW_BIN" check-config "$CONFIG" 2>&1)
check_status=$?
chmod 0644 "$CONFIG" && chown 65534:65534 "$CONFIG"
owner_out=$("$AW_BIN" check-config "$CONFIG" 2>&1)
owner_status=$?
chown 0:0 "$CONFIG"
reload_note="agent did not start"
if start_agent "$CONFIG"; then
	chmod 0646 "$CONFIG"
	reload
	reload_note=$(grep "reload refused" "$AGENT_LOG" | tail -n 1 | cut -c 26-)
	kill -0 "$AGENT_PID" 2>/dev/null && running=yes || running=no
	chmod 0644 "$CONFIG"
	stop_agent
fi
want="$CONFIG: refused: the file is writable by its group or by others"
((run_status == 1 && check_status == 1 && owner_status == 1)) && [[ $run_out == *"$want (mode 0664)"* &&
	$check_out == *"$want (mode 0664)"* && $owner_out == *"$CONFIG: refused: the file is owned by uid 65534"* &&
	$reload_note == *"$want (mode 0646)"* && $running == yes ]]
check priv_config_refused "$?" "run: status $run_status, '$(tail -n 1 <<<"$run_out")'; check-config: status $check_status; owned by nobody: status $owner_status, '$owner_out'; reload: '$reload_note', agent running: ${running:-?}"

# ---- a secret file others could write
SECRET=$E2E_TMP/webhook.secret
printf 'whsec_%s\n' "$(head -c 24 /dev/urandom | base64)" >"$SECRET"
chmod 0666 "$SECRET"
write_config secret "$PLAN
alerts:
  alertmanager: []
  webhook: {url: \"http://127.0.0.1:9/hook\", secret_file: \"$SECRET\"}" || {
	fail priv_secret_refused "cannot write the configuration"
}
run_out=$("$AW_BIN" run -c "$AW_CONFIG" --once 2>&1)
run_status=$?
chmod 0600 "$SECRET"
check_out=$("$AW_BIN" check-config "$AW_CONFIG" 2>&1)
check_status=$?
((run_status == 1 && check_status == 0)) &&
	[[ $run_out == *"$AW_CONFIG:"*"alerts.webhook.secret_file: $SECRET is writable by its group or by others (mode 0666): refused"* ]]
check priv_secret_refused "$?" "run with a 0666 secret file: status $run_status (want 1), '$(tail -n 1 <<<"$run_out")'; at 0600 check-config: status $check_status (want 0)"

# ---- modes, whatever the umask
modes_note=()
for mask in 000 077; do
	write_config "umask$mask" "plans:
  default:
    cpu: 0.1
    window: 2s
    for: 1s
alerts:
  alertmanager: []
  webhook: {url: \"http://127.0.0.1:9/hook\"}" || continue
	# Everything the agent makes: nothing there yet.
	rm -rf "$AW_DIR/textfile" "$AW_DIR/state"
	sed -i -e "s|^  textfile: .*|  textfile: \"$AW_DIR/new/textfile/abusewatch.prom\"|" \
		-e "s|^  events_log: .*|  events_log: \"$AW_DIR/new/log/events.jsonl\"|" \
		-e "s|^  state_dir: .*|  state_dir: \"$AW_DIR/new/state\"|" "$AW_CONFIG"
	mkdir -p "$AW_DIR/new"
	burner=$(tenant_cgroup "burner$mask")
	(
		umask "$mask"
		start_agent "$AW_CONFIG" && echo "$AGENT_PID" >"$AW_DIR/pid" && wait "$AGENT_PID"
	) &
	for ((i = 0; i < 150; i++)); do
		[[ -s $AW_DIR/pid ]] && break
		sleep 0.1
	done
	"$AW_TOOLS/incg" "$burner" "$AW_TOOLS/burn" 4
	for ((i = 0; i < 50; i++)); do
		[[ -s $AW_DIR/new/state/firing.json ]] && ls "$AW_DIR"/new/state/spool/*.queue >/dev/null 2>&1 && break
		sleep 0.1
	done
	got=$(cd "$AW_DIR/new" && stat -c '%n %a' textfile textfile/abusewatch.prom log log/events.jsonl \
		state state/spool state/spool/*.queue state/firing.json 2>&1 | sed 's|/webhook-[^ ]*queue| queue|' | tr '\n' ' ')
	want="textfile 755 textfile/abusewatch.prom 644 log 750 log/events.jsonl 640 state 700 state/spool 700 state/spool queue 600 state/firing.json 600 "
	[[ $got == "$want" ]] || modes_note+=("umask $mask: $got")
	kill -TERM "$(cat "$AW_DIR/pid" 2>/dev/null)" 2>/dev/null
	wait
	# Started in a subshell (for its umask), the agent is not in lib.sh's
	# list of agents to unpin at the end: its pinned probes go here.
	"$AW_BIN" unpin -c "$AW_CONFIG" >/dev/null 2>&1
done
((${#modes_note[@]} == 0))
check priv_modes "$?" "want: $want; ${modes_note[*]}"

# ---- HTTPS with a private CA
PKI=$E2E_TMP/pki
mkdir -p "$PKI"
if ! (cd "$PKI" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
		-subj "/CN=abusewatch test CA" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
		-subj "/CN=127.0.0.1" 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >server.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
		-days 2 -extfile server.ext 2>/dev/null); then
	fail priv_tls_ca "openssl could not make the test CA and certificate"
elif ! start_fault_server ok tls --cert "$PKI/server.pem" --key "$PKI/server.key"; then
	fail priv_tls_ca "the TLS test server did not start: $(tail -n 1 "$E2E_TMP/tls.err")"
else
	TLS_SINKS="  alertmanager: [\"https://127.0.0.1:$FS_PORT/am\"]
  webhook: {url: \"https://127.0.0.1:$FS_PORT/hook\"}"
	write_config tls "$PLAN
alerts:
$TLS_SINKS"
	if agent_or_report priv_tls_ca "$AW_CONFIG"; then
		miner_in tls-1
		wait_events 10 "$AW_EVENTS" tenant=tls-1 state=firing >/dev/null
		sleep 2
		refused_got=$(grep -c . "$FS_OUT")
		refused_log=$(grep -c "SSL certificate problem" "$AGENT_LOG")
		spooled=$(cat "$AW_DIR"/state/spool/webhook-*.queue 2>/dev/null | grep -c tls-1)
		# The CA files, by a reload: the waiting records go out.
		sed -i "s|^  webhook: .*|  webhook: {url: \"https://127.0.0.1:$FS_PORT/hook\", ca_file: \"$PKI/ca.pem\"}\n  alertmanager_ca_file: \"$PKI/ca.pem\"|" "$AW_CONFIG"
		reload
		miner_in tls-2
		for ((i = 0; i < 100; i++)); do
			hook=$(grep -c '"kind": "webhook"' "$FS_OUT")
			am=$(grep -c '"kind": "alertmanager"' "$FS_OUT")
			records=$(events_count "$AW_EVENTS")
			((hook >= records && am >= 1 && records >= 2)) && break
			sleep 0.1
		done
		delivered=$(python3 -c '
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
hooks = [json.loads(l)["body"] for l in open(sys.argv[2]) if json.loads(l)["kind"] == "webhook"]
am = {e["labels"]["tenant"] for l in open(sys.argv[2]) if json.loads(l)["kind"] == "alertmanager" for e in json.loads(l)["body"]}
ok = all(r in hooks for r in records) and {"tls-1", "tls-2"} <= am
print("ok" if ok else "%d records, %d at the webhook, Alertmanager has %s" % (len(records), len(hooks), sorted(am)))' \
			"$AW_EVENTS" "$FS_OUT")
		stop_agent
		((refused_got == 0 && refused_log >= 1 && spooled >= 1)) && [[ $delivered == ok ]]
		check priv_tls_ca "$?" "without the CA file: $refused_got requests got through (want 0), certificate errors logged $refused_log, spooled $spooled; with it (reload): $delivered"
	fi
fi

# ---- secrets stay out of logs and records
PASSWORD=pw-$RANDOM$RANDOM-AM
NEW_PASSWORD=pw-$RANDOM$RANDOM-NEW
HOOK_PASSWORD=pw-$RANDOM$RANDOM-HOOK
TOKEN=tok-$RANDOM$RANDOM
KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf 'whsec_%s\n' "$(printf '%s' "$KEY" | base64 -w0)" >"$SECRET"
chmod 0600 "$SECRET"
if start_fault_server ok secrets; then
	secret_sinks() {
		printf 'alerts:\n  alertmanager: ["http://abusewatch:%s@127.0.0.1:%s/am"]\n  webhook: {url: "http://hook:%s@127.0.0.1:%s/hook?token=%s", secret_file: "%s"}\n' \
			"$1" "$FS_PORT" "$HOOK_PASSWORD" "$FS_PORT" "$TOKEN" "$SECRET"
	}
	write_config secrets "$PLAN
$(secret_sinks "$PASSWORD")"
	if agent_or_report priv_secrets_not_logged "$AW_CONFIG" -v; then
		# Refused for good (logged, dropped), then failing (retried).
		echo 401 >"$FS_MODE"
		miner_in secret-0
		wait_events 10 "$AW_EVENTS" tenant=secret-0 state=firing >/dev/null
		sleep 1
		echo 500 >"$FS_MODE"
		miner_in secret-1
		wait_events 10 "$AW_EVENTS" tenant=secret-1 state=firing >/dev/null
		sleep 1
		# A reload with a new password, then one refused for a bad URL holding it.
		sed -i "s|$PASSWORD|$NEW_PASSWORD|" "$AW_CONFIG"
		reload
		cp "$AW_CONFIG" "$E2E_TMP/good.yaml"
		sed -i "s|\"http://abusewatch:|\"ftp://abusewatch:|" "$AW_CONFIG"
		reload
		cp "$E2E_TMP/good.yaml" "$AW_CONFIG"
		reload
		echo ok >"$FS_MODE"
		miner_in secret-2
		for ((i = 0; i < 100; i++)); do
			grep -q '"secret-2"' "$FS_OUT" && (($(grep -c '"kind": "webhook"' "$FS_OUT") >= 2)) && break
			sleep 0.1
		done
		stop_agent
		leaks=$(grep -rlaF -e "$PASSWORD" -e "$NEW_PASSWORD" -e "$HOOK_PASSWORD" -e "$TOKEN" -e "$KEY" \
			-e "$(cat "$SECRET" | tr -d '\n')" \
			"$E2E_TMP"/agent.*.log "$AW_EVENTS" "$AW_TEXTFILE" "$AW_DIR/state" 2>/dev/null | tr '\n' ' ')
		names=$(find "$AW_DIR/state" | grep -cF -e "$PASSWORD" -e "$NEW_PASSWORD" -e "$HOOK_PASSWORD" -e "$TOKEN")
		used=$(python3 -c '
import base64, json, sys
auth = [json.loads(l)["auth"] or "" for l in open(sys.argv[1])]
want = {base64.b64encode(("abusewatch:" + sys.argv[2]).encode()).decode(), base64.b64encode(("hook:" + sys.argv[3]).encode()).decode()}
print("yes" if want <= {a.split(" ", 1)[-1] for a in auth} else "no")' "$FS_OUT" "$NEW_PASSWORD" "$HOOK_PASSWORD")
		refused=$(grep -c "reload refused" "$AGENT_LOG")
		logged_urls=$(grep -c "127.0.0.1:$FS_PORT/hook?\.\.\." "$AGENT_LOG")
		[[ -z $leaks && $used == yes ]] && ((names == 0 && refused == 1 && logged_urls >= 1))
		check priv_secrets_not_logged "$?" "files holding a secret: ${leaks:-none}; file names holding one: $names; credentials sent to the server: $used; reloads refused: $refused (want 1); log lines naming the webhook as ...hook?...: $logged_urls"
	fi
else
	fail priv_secrets_not_logged "the test server did not start: $(tail -n 1 "$E2E_TMP/secrets.err")"
fi
e2e_finish
