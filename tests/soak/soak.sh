#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak`: the agent for SOAK_SECONDS (default 1800) on a node that is
# busy the whole time, then checks that it stayed flat. As root: real
# probes, real cgroups under the v2 root, a real webhook receiver on
# 127.0.0.1.
#
# Every CYCLE_S seconds, in tenant cgroups:
#   - cgroup churn: 20 cgroups made and removed a second for 20 s, each a
#     tenant of its own running exit0 (tests/tools/cgchurn);
#   - an exec storm: up to 500 execs a second for 20 s (execburst);
#   - CPU over the plan's limit for 20 s (burn), so an overuse alert fires
#     and resolves, and goes to the webhook;
#   - 32 MiB of O_DIRECT writes (dd), loopback connects and datagrams
#     (netload), and a denied program (linger copied as xmrig).
# 200 idle tenants sit beside them.
#
# A sampler records the agent's resident memory, open files and BPF map
# entries every SAMPLE_S seconds into build/soak/samples.tsv. After the first
# cycle and a settling pause (gone tenants expire) it takes the baseline; at
# the end, after the same pause, the final sample. Checks:
#   - the agent ran the whole time;
#   - open files at the end <= baseline;
#   - map entries of the soak's cgroups at the end <= baseline, and no more
#     entries of removed cgroups than at the baseline (waiting up to 30 s
#     for those that other users of the host just removed);
#   - resident memory at the end <= baseline + 10%;
#   - no kernel event lost (abusewatch_events_lost_total stays 0);
#   - the exec storm's tenant counted exactly the execs it made.
# Prints one line per check, "soak: N passed, N failed" last, writes
# build/soak/soak.json; exit 1 when a check failed.
#
#   SOAK_SECONDS=180 tests/soak/soak.sh     CI's short version
set -uo pipefail

HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=../bench/lib.sh source-path=SCRIPTDIR
source "$HERE/../bench/lib.sh"
# shellcheck source=../bench/agent_lib.sh source-path=SCRIPTDIR
source "$HERE/../bench/agent_lib.sh"

# ---------------------------------------------------------------- settings

SOAK_SECONDS=${SOAK_SECONDS:-1800}
CYCLE_S=30
LOAD_S=20		# of each cycle; the rest is quiet
SAMPLE_S=5
INTERVAL_S=1
EXPIRY_S=5
SETTLE_S=$((EXPIRY_S + 10 * INTERVAL_S))
CGROUP_PREFIX=abusewatch-soak
IDLE_TENANTS=200
OUT_DIR=$BENCH_BUILD/soak
NET_PORT=$((20000 + RANDOM % 20000))

TMP=""
CONFIG=""
TEXTFILE=""
EVENTS=""
RECEIVER_PID=""
SAMPLER_PID=""
CYCLES=0
STORM_EXECS=0		# what execburst made in the storm tenant, and incg's exec
PASSED=0
FAILED=0
CHECKS=()

log() {
	printf 'soak: %s\n' "$*" >&2
}

# check NAME OK "what": one line, and the verdict into soak.json.
check() {
	local name=$1 ok=$2 what=$3
	if [[ $ok == true ]]; then
		PASSED=$((PASSED + 1))
		printf 'ok    %s: %s\n' "$name" "$what"
	else
		FAILED=$((FAILED + 1))
		printf 'FAIL  %s: %s\n' "$name" "$what"
	fi
	CHECKS+=("$name"$'\t'"$ok"$'\t'"$what")
}

cleanup() {
	local status=$? pid
	trap - EXIT INT TERM HUP
	for pid in "$SAMPLER_PID" "$RECEIVER_PID"; do
		[[ -n $pid ]] && kill "$pid" 2>/dev/null
	done
	stop_agent
	wait 2>/dev/null
	remove_cgroups
	[[ -n $TMP ]] && rm -rf "$TMP"
	exit "$status"
}

# ---------------------------------------------------------------- set-up

write_config() {
	config_head soak "$OUT_DIR/events.jsonl" >"$TMP/config.yaml" || return 1
	cat >>"$CONFIG" <<EOF
plans:
  default:
    window: 5s
    for: 2s
    cpu: 0.5
    memory: 1GiB
    connections: 1000/s
    software: standard
software:
  standard:
    deny: [builtin:miners, builtin:scanners]
alerts:
  alertmanager: []
  webhook: {url: "http://127.0.0.1:$(cat "$TMP/port")/hook", secret_file: "$TMP/secret"}
EOF
}

start_receiver() {
	local i
	(umask 077 && echo "whsec_$(head -c 32 /dev/urandom | base64)" >"$TMP/secret") || return 1
	python3 "$BENCH_REPO/tests/tools/webhook_receiver.py" --port-file "$TMP/port" \
		--secret-file "$TMP/secret" --out "$OUT_DIR/webhook.jsonl" &
	RECEIVER_PID=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s $TMP/port ]] && return 0
		sleep 0.1
	done
	log "the webhook receiver did not start"
	return 1
}

# ---------------------------------------------------------------- sampling

# One line: seconds since start, RSS MiB, open files, map entries (the
# agent's own maps) of all cgroups, of removed cgroups and of the soak's
# live cgroups, kernel events lost.
sample() {
	local total stale mine lost
	read -r total stale mine < <(agent_maps "$AGENT_PID" entries "$V2" "$CG")
	lost=$(agent_maps "$AGENT_PID" lost | awk '{ print $1 }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SECONDS" "$(rss_mib "$AGENT_PID")" \
		"$(fd_count "$AGENT_PID")" "${total:-?}" "${stale:-?}" "${mine:-?}" "${lost:-?}"
}

# final_sample BASE: a sample once the soak's cgroups have as few map
# entries as at BASE and the entries of removed cgroups are down to BASE's
# (other cgroups of a shared host come and go too: each removed one is
# forgotten after --tenant-expiry), or the last of 15 tries 2 s apart.
final_sample() {
	local base=$1 now i
	for ((i = 0; i < 15; i++)); do
		now=$(sample)
		(($(field "$now" 5) <= $(field "$base" 5) &&
			$(field "$now" 6) <= $(field "$base" 6))) 2>/dev/null && break
		sleep 2
	done
	echo "$now"
}

sampler() {
	while kill -0 "$AGENT_PID" 2>/dev/null; do
		sample >>"$OUT_DIR/samples.tsv"
		sleep "$SAMPLE_S"
	done
}

# ---------------------------------------------------------------- load

# One cycle of load; returns when every part of it has ended (each stops by
# itself within LOAD_S).
cycle() {
	local mirror=() storm pids=()
	[[ $MEM_MODE == v1 ]] && mirror=(-m "$MEM_TENANTS")
	"$AW_TOOLS/cgchurn" "${mirror[@]}" "$TENANTS" 20 "$LOAD_S" 1 "$AW_TOOLS/exit0" \
		>>"$OUT_DIR/churn.log" &
	pids+=($!)
	"$AW_TOOLS/incg" "$TENANTS/cpu" "$AW_TOOLS/burn" "$LOAD_S" 0.8 &
	pids+=($!)
	"$AW_TOOLS/incg" "$TENANTS/disk" dd if=/dev/zero of="$TMP/disk.img" bs=1M count=32 \
		oflag=direct status=none &
	pids+=($!)
	# netload listens for at most 10 minutes: one listener a cycle.
	"$AW_TOOLS/netload" listen "$NET_PORT" $((LOAD_S + 5)) 2>/dev/null &
	pids+=($!)
	(sleep 0.5 && exec "$AW_TOOLS/incg" "$TENANTS/net" "$AW_TOOLS/netload" tcp4 "$NET_PORT" \
		200 20 >/dev/null) &
	pids+=($!)
	"$AW_TOOLS/incg" "$TENANTS/net" "$AW_TOOLS/netload" send4 "$NET_PORT" 5000 500 \
		>/dev/null &
	pids+=($!)
	"$AW_TOOLS/incg" "$TENANTS/net" "$TMP/bin/xmrig" 2 &
	pids+=($!)
	storm=$("$AW_TOOLS/incg" "$TENANTS/storm" "$AW_TOOLS/execburst" -r 500 -t "$LOAD_S" \
		$((500 * LOAD_S)) "$AW_TOOLS/exit0")
	wait "${pids[@]}" 2>/dev/null
	# "execs DONE failed F seconds S"; incg's exec of execburst counts too.
	STORM_EXECS=$((STORM_EXECS + $(awk '{ print $2 }' <<<"$storm") + 1))
	CYCLES=$((CYCLES + 1))
	rm -f "$TMP/disk.img"
}

# Cycles until the soak's time (less the final pause) is spent.
run_cycles() {
	local until=$1 start
	while ((SECONDS + CYCLE_S <= until)); do
		start=$SECONDS
		cycle
		kill -0 "$AGENT_PID" 2>/dev/null || return 1
		sleep $((CYCLE_S - (SECONDS - start) > 0 ? CYCLE_S - (SECONDS - start) : 0))
	done
}

# ---------------------------------------------------------------- checks

# field N of a sample line
field() {
	cut -f "$2" <<<"$1"
}

judge() {
	local base=$1 final=$2 alive=$3 counted lost
	check alive "$alive" "the agent ran ${SECONDS}s through $CYCLES cycles"
	check open_files "$(verdict "$(field "$final" 3)" "<=" "$(field "$base" 3)")" \
		"open files $(field "$base" 3) at the baseline, $(field "$final" 3) at the end"
	check map_entries "$(verdict "$(field "$final" 6)" "<=" "$(field "$base" 6)")" \
		"usage and network map entries of the soak's cgroups $(field "$base" 6) -> $(
			field "$final" 6) (of all cgroups $(field "$base" 4) -> $(field "$final" 4))"
	check stale_entries "$(verdict "$(field "$final" 5)" "<=" "$(field "$base" 5)")" \
		"entries of removed cgroups $(field "$base" 5) -> $(field "$final" 5)"
	check rss "$(verdict "$(field "$final" 2)" "<=" "$(calc "$(field "$base" 2) * 1.1")")" \
		"resident $(field "$base" 2) -> $(field "$final" 2) MiB (at most +10%), highest $(
			cut -f 2 "$OUT_DIR/samples.tsv" | sort -g | tail -n 1) MiB"
	lost=$(field "$final" 7)
	check events_lost "$(verdict "$lost" "==" 0)" "kernel events lost: $lost"
	counted=$(tenant_execs storm)
	check storm_execs "$(verdict "${counted:-null}" "==" "$STORM_EXECS")" \
		"the storm tenant made $STORM_EXECS execs, the agent counted ${counted:-none}"
}

write_json() {
	python3 - "$OUT_DIR/samples.tsv" "$OUT_DIR/soak.json" "$SOAK_SECONDS" "${CHECKS[@]}" <<'PY'
import json, sys
names = ["seconds", "rss_mib", "open_files", "map_entries", "stale_entries", "soak_entries",
         "events_lost"]
samples = []
for line in open(sys.argv[1]):
    fields = line.split("\t")
    samples.append({n: (float(v) if v.strip().replace(".", "", 1).isdigit() else None)
                    for n, v in zip(names, fields)})
checks = [dict(zip(["check", "ok", "what"], c.split("\t"))) for c in sys.argv[4:]]
for c in checks:
    c["ok"] = c["ok"] == "true"
json.dump({"seconds": int(sys.argv[3]), "checks": checks, "samples": samples},
          open(sys.argv[2], "w"), indent=1)
PY
}

# ---------------------------------------------------------------- main

main() {
	local tool base final alive=true names=() i
	if ((EUID != 0)); then
		log "needs root (it loads BPF programs and makes cgroups)"
		return 1
	fi
	for tool in incg burn execburst exit0 cgchurn linger netload; do
		[[ -x $AW_TOOLS/$tool ]] || {
			log "$AW_TOOLS/$tool is not built (make test-tools)"
			return 1
		}
	done
	[[ -x $AW_BIN ]] || {
		log "$AW_BIN is not built (make)"
		return 1
	}
	if ((SOAK_SECONDS < 2 * CYCLE_S + 2 * SETTLE_S)); then
		log "SOAK_SECONDS=$SOAK_SECONDS: at least $((2 * CYCLE_S + 2 * SETTLE_S)) are needed"
		return 1
	fi
	mkdir -p "$OUT_DIR" && rm -f "$OUT_DIR"/*
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/abusewatch-soak.XXXXXX") || return 1
	setup_cgroups || {
		log "cannot make cgroups under the v2 root ($(v2_root))"
		return 1
	}
	for ((i = 0; i < IDLE_TENANTS; i++)); do
		names+=("$(printf 'idle-%03d' "$i")")
	done
	add_tenants cpu disk net storm "${names[@]}" || return 1
	mkdir -p "$TMP/bin" && cp "$AW_TOOLS/linger" "$TMP/bin/xmrig" || return 1
	start_receiver && write_config || return 1
	start_agent || {
		log "$AGENT_STATUS"
		return 1
	}
	log "agent $AGENT_PID over $((IDLE_TENANTS + 4)) tenants for ${SOAK_SECONDS}s;" \
		"samples in $OUT_DIR/samples.tsv"
	SECONDS=0
	sampler &
	SAMPLER_PID=$!

	# The first cycle fills what is filled once (caches, the spool, malloc's
	# arenas); the baseline comes after it has settled.
	cycle
	sleep "$SETTLE_S"
	wait_fresh_textfile
	base=$(sample)
	log "baseline: $base"
	run_cycles $((SOAK_SECONDS - SETTLE_S)) || alive=false
	sleep "$SETTLE_S"
	wait_fresh_textfile
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		final=$(final_sample "$base")
	else
		alive=false
		final=$(printf 'x\tnull\tnull\tnull\tnull\tnull\tnull')
		log "the agent exited: $(tail -n 3 "$AGENT_LOG")"
	fi
	log "final: $final"
	judge "$base" "$final" "$alive"
	log "webhook deliveries: $(wc -l <"$OUT_DIR/webhook.jsonl" 2>/dev/null || echo 0);" \
		"agent warnings: $(grep -c ' warn ' "$AGENT_LOG")"
	cp "$AGENT_LOG" "$OUT_DIR/agent.log"
	write_json
	echo "soak: $PASSED passed, $FAILED failed"
	((FAILED == 0))
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
main
