#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Storage per tenant, end to end. Each tenant's files live under
# STORE/{tenant} (a disk-backed directory), measured every second:
# - the figure equals `du -sB1 -x` of the tenant's directory (the kernel's
#   st_blocks; hard links once, symlinks not followed, a tmpfs mounted
#   inside not entered);
# - a tenant writing past its 16 MiB plan raises AbusewatchOveruse for
#   `storage` in a real Alertmanager, and resolves when the files go;
# - a path that does not exist counts 0 and is logged once, not per pass;
#   so is a path that vanishes, and a path that is a symlink (not followed);
# - a directory with a project quota is read from the quota, where the
#   kernel keeps project quotas (skipped, with the reason, where it does not).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases storage_matches_du storage_alert storage_resolves storage_missing_once \
	storage_vanished_once storage_symlink_once storage_project_quota
e2e_require_root_bpf || e2e_finish
e2e_require_build incg || e2e_finish
e2e_setup || e2e_finish

WINDOW=2
FOR=1

disk_backed_dir storage
STORE=$DISK_BACKED_DIR
if [[ -z $STORE ]]; then
	skip_all "no disk-backed directory ($E2E_REPO/build, /var/tmp) to keep tenant files in"
	e2e_finish
fi
# Cleanups run in order: these before the directory's removal would be too late.
E2E_CLEANUPS=("umount -l '$STORE/keeper/mnt'" "umount -l '$STORE/quota'" "${E2E_CLEANUPS[@]}")

require_alertmanager || e2e_finish
AW_AGENT_EXTRA="  storage_interval: 1s" AW_RULE_EXTRA="    storage: [\"$STORE/{tenant}\"]" \
	write_config storage "plans:
  default:
    storage: 16MiB
    window: ${WINDOW}s
    for: ${FOR}s
    hysteresis: 0.9
alerts:
  alertmanager: [\"http://127.0.0.1:$AM_PORT\"]" || {
	fail_all "cannot write the configuration"
	e2e_finish
}

# ---- the files, before the agent starts
# Beside STORE, named without "..": STORE is removed first at exit.
OUTSIDE=$(mktemp -d "${STORE%/*}/abusewatch-e2e-outside.XXXXXX") || {
	fail_all "cannot make a directory outside the tenants"
	e2e_finish
}
on_cleanup rm -rf "'$OUTSIDE'"
k=$STORE/keeper
mkdir -p "$k/a/b/c" "$k/links" "$k/mnt" "$STORE/fleeting" &&
	head -c $((3 << 20)) /dev/urandom >"$k/a/data" &&
	ln "$k/a/data" "$k/links/data-again" && ln "$k/a/data" "$k/a/b/c/data-third" &&
	for i in $(seq 1 100); do head -c $((i * 97)) /dev/urandom >"$k/a/b/small-$i"; done &&
	head -c $((8 << 20)) /dev/urandom >"$OUTSIDE/big" && ln -s "$OUTSIDE/big" "$k/to-big" &&
	ln -s "$OUTSIDE" "$k/to-outside" && ln -s "$k" "$STORE/sneaky" &&
	head -c $((1 << 20)) /dev/urandom >"$STORE/fleeting/file" || {
	fail_all "cannot write the tenant files"
	e2e_finish
}
mounted=0
if mount -t tmpfs -o size=8m abusewatch-e2e "$k/mnt" 2>/dev/null; then
	mounted=1
	head -c $((4 << 20)) /dev/urandom >"$k/mnt/in-tmpfs"
fi
sync

for name in keeper hoarder nowhere fleeting sneaky quota; do
	tenant_cgroup "$name" >/dev/null || {
		fail_all "cannot create the tenant cgroups"
		e2e_finish
	}
done
agent_or_report "${E2E_CASES[*]}" "$AW_CONFIG" || e2e_finish

# ---- the figure is du's (hard links once, no symlinks followed, no other file system)
truth=$(du -sB1 -x "$k" | cut -f1)
value=$(wait_metric 10 abusewatch_tenant_storage_bytes keeper == "$truth")
check storage_matches_du "$?" "keeper: abusewatch_tenant_storage_bytes $value, du -sB1 -x $truth (3 MiB file with 3 links, 100 small files, symlinks to 8 MiB outside, tmpfs inside: $( ((mounted)) && echo mounted || echo 'not mounted'))"

# ---- writing past the plan's 16 MiB, then removing the files
mkdir -p "$STORE/hoarder" && start=$(date +%s.%N) &&
	"$AW_TOOLS/incg" "$AW_TENANTS/hoarder" dd if=/dev/urandom of="$STORE/hoarder/blob" bs=1M \
		count=24 conv=fsync status=none
waited=$(wait_am_alert 15 alertname=AbusewatchOveruse tenant=hoarder resource=storage)
found=$?
since=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
record=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("tenant") == "hoarder" and r.get("resource") == "storage" and r.get("state") == "firing":
        print("ok" if r["limit"] == 16 << 20 and r["value"] > 16 << 20 else "bad: " + line.strip())
        break
else:
    print("missing")' "$AW_EVENTS" 2>&1)
((found == 0)) && [[ $record == ok ]]
check storage_alert "$?" "hoarder wrote 24 MiB on a 16 MiB plan: alert in Alertmanager $( ((found == 0)) && echo "$since s after the write started" || echo "missing after 15 s"); record: $record"
e2e_log "storage: write start to alert in Alertmanager: $since s (storage_interval 1 s, window ${WINDOW}s, for ${FOR}s)"

rm -f "$STORE/hoarder/blob"
resolved=$(wait_events 15 "$AW_EVENTS" tenant=hoarder resource=storage state=resolved)
status=$?
value=$(metric abusewatch_tenant_storage_bytes hoarder)
((status == 0)) && num_cmp "$value" "<" $((1 << 20))
check storage_resolves "$?" "resolved record ${resolved:-not within 15} s after the files were removed; storage_bytes now ${value:-missing}"

# ---- problems are logged once, not per pass (several passes have run by now)
# log_lines TEXT: agent log lines that mention TEXT.
log_lines() {
	grep -cF -- "$1" "$AGENT_LOG"
}
value=$(metric abusewatch_tenant_storage_bytes nowhere)
lines=$(log_lines "$STORE/nowhere")
num_cmp "$value" "==" 0 && ((lines == 1))
check storage_missing_once "$?" "nowhere (no directory): storage_bytes ${value:-missing} (want 0), $lines log lines naming it (want 1)"

before=$(log_lines "$STORE/fleeting")
rm -rf "$STORE/fleeting"
wait_metric 10 abusewatch_tenant_storage_bytes fleeting == 0 >/dev/null
status=$?
sleep 3
after=$(log_lines "$STORE/fleeting")
((status == 0 && before == 0 && after == 1))
check storage_vanished_once "$?" "fleeting after its directory was removed: storage_bytes $(metric abusewatch_tenant_storage_bytes fleeting) (want 0); log lines naming it before $before (want 0), after 3 more passes $after (want 1)"

value=$(metric abusewatch_tenant_storage_bytes sneaky)
lines=$(log_lines "$STORE/sneaky")
keeper=$(metric abusewatch_tenant_storage_bytes keeper)
! num_cmp "${value:-0}" ">=" "${keeper:-1}" && ((lines == 1))
check storage_symlink_once "$?" "sneaky (a symlink to keeper's directory): storage_bytes ${value:-none} (want less than keeper's $keeper: not followed), $lines log lines naming it (want 1)"

# ---- a project quota, where the kernel keeps them
quota_reason=""
if ! command -v mkfs.ext4 >/dev/null || ! command -v chattr >/dev/null; then
	quota_reason="mkfs.ext4 or chattr missing (Debian e2fsprogs)"
elif ! truncate -s 64M "$STORE/quota.img" ||
	! mkfs.ext4 -q -O quota,project -E quotatype=prjquota "$STORE/quota.img" 2>"$E2E_TMP/mkfs.err"; then
	quota_reason="cannot make an ext4 image with project quotas: $(tail -n 1 "$E2E_TMP/mkfs.err")"
else
	mkdir -p "$STORE/quota"
	if ! mount -o loop,prjquota "$STORE/quota.img" "$STORE/quota" 2>"$E2E_TMP/mount.err"; then
		quota_reason="cannot mount ext4 with prjquota here: $(dmesg 2>/dev/null | grep -o 'not built with CONFIG_QUOTA' | tail -n 1)"
		[[ $quota_reason == *: ]] && quota_reason+=" $(head -n 1 "$E2E_TMP/mount.err")"
	fi
fi
if [[ -n $quota_reason ]]; then
	skip storage_project_quota "$quota_reason"
else
	# The tenant's directory is the file system's root: project 4242 on it and below.
	chattr +P -p 4242 "$STORE/quota" && head -c $((5 << 20)) /dev/urandom >"$STORE/quota/f" && sync
	truth=$(du -sB1 -x "$STORE/quota" | cut -f1)
	value=$(wait_metric 10 abusewatch_tenant_storage_bytes quota ">=" $((5 << 20)))
	status=$?
	((status == 0)) && within_pct "$value" "$truth" 5 && grep -q "quota: .*project quota" "$AGENT_LOG"
	check storage_project_quota "$?" "quota tenant: storage_bytes $value, du $truth (want within 5%), read from the project quota: $(grep -c 'project quota' "$AGENT_LOG") log lines"
fi

stop_agent
e2e_finish
