#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The package's systemd unit under a real systemd. This machine's PID 1 may
# not be systemd, so the test boots one: a Debian root of this release with
# systemd as init and the package (scripts/build-image --systemd-rootfs),
# in a podman container (privileged, as an init system needs; the unit's own
# bounding set is what limits the agent). Minutes of work and Debian's
# archive, so only under `make package-test` (AW_PACKAGE_TESTS=1):
# - systemd_starts: after boot the service is active (the package enabled
#   it), the textfile is written, the state directory exists (0700) and
#   the log directory (0750);
# - systemd_sandbox: the agent's bounding, effective and permitted sets are
#   exactly the unit's CapabilityBoundingSet, no new privileges, / mounted
#   read-only and the state directory writable in its mount namespace;
# - systemd_reload: `systemctl reload` succeeds and the agent reloads; with
#   an invalid file it fails, and the agent runs on (same PID);
# - systemd_restart: killed with SIGKILL, it is started again;
# - systemd_counts: so sandboxed, it counts a tenant: a cgroup the default
#   configuration's rule /machine.slice/{machine} matches, in the
#   container's hierarchy, gets its CPU time within 1% of cpu.stat;
# - systemd_stop: `systemctl stop` ends it with status 0.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases systemd_starts systemd_sandbox systemd_reload systemd_restart systemd_counts systemd_stop
if [[ ${AW_PACKAGE_TESTS:-} != 1 ]]; then
	skip_all "builds a Debian root and boots systemd in a container (minutes, Debian's archive): run by make package-test"
	e2e_finish
fi
e2e_require_root_bpf || e2e_finish
e2e_require_build incg burn || e2e_finish
for tool in mmdebstrap podman capsh; do
	if ! command -v "$tool" >/dev/null; then
		fail_all "$tool is missing (scripts/install-deps --package installs it)"
		e2e_finish
	fi
done
e2e_tmpdir || e2e_finish

start=$SECONDS
if ! ROOTFS=$("$E2E_REPO/scripts/build-image" --systemd-rootfs 2>"$E2E_TMP/build.err"); then
	fail_all "scripts/build-image --systemd-rootfs: $(tail -n 3 "$E2E_TMP/build.err")"
	e2e_finish
fi
e2e_log "root with systemd in $((SECONDS - start)) s: $(stat -c %s "$ROOTFS") bytes"

IMAGE=localhost/abusewatch-systemd-test:$$
NAME=abusewatch-systemd-test-$$
on_cleanup "podman rm -f '$NAME'; podman rmi -f '$IMAGE'"
if ! podman import --change 'CMD ["/sbin/init"]' "$ROOTFS" "$IMAGE" >/dev/null 2>"$E2E_TMP/import.err"; then
	fail_all "podman import: $(tail -n 2 "$E2E_TMP/import.err")"
	e2e_finish
fi
runtime=()
if [[ $(e2e_v2_root) != /sys/fs/cgroup ]] && command -v runc >/dev/null; then
	# crun refuses hybrid cgroups.
	runtime=(--runtime runc)
fi
if ! podman "${runtime[@]}" run -d --name "$NAME" --privileged --systemd=always \
	--ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$IMAGE" >/dev/null 2>"$E2E_TMP/run.err"; then
	fail_all "podman run: $(tail -n 2 "$E2E_TMP/run.err")"
	e2e_finish
fi
in_box() { podman exec "$NAME" "$@"; }
unit_show() { in_box systemctl show -p "$1" --value abusewatch.service 2>/dev/null; }

# ---- boot
state=""
for ((i = 0; i < 300; i++)); do
	state=$(in_box systemctl is-system-running 2>/dev/null)
	[[ $state == running || $state == degraded ]] && break
	sleep 0.1
done
TEXTFILE=/var/lib/node_exporter/textfile_collector/abusewatch.prom
for ((i = 0; i < 100; i++)); do
	in_box test -s "$TEXTFILE" && break
	sleep 0.1
done
active=$(unit_show ActiveState)
modes=$(in_box stat -c '%n %a' /var/lib/abusewatch /var/log/abusewatch 2>&1 | tr '\n' ' ')
[[ $active == active ]] && in_box test -s "$TEXTFILE" &&
	[[ $modes == "/var/lib/abusewatch 700 /var/log/abusewatch 750 " ]]
check systemd_starts "$?" "system $state; abusewatch.service $active; textfile: $(in_box ls -l "$TEXTFILE" 2>&1); directories: $modes; $(in_box journalctl -u abusewatch --no-pager 2>&1 | tail -n 3 | tr '\n' ' ')"

# ---- what the agent may do
pid=$(unit_show MainPID)
want=$(sed -n 's/^CapabilityBoundingSet=//p' "$E2E_REPO/deploy/systemd/abusewatch.service" |
	tr ' ' '\n' | grep . | tr 'A-Z' 'a-z' | sort | tr '\n' ',')
sets=""
problems=()
for set in CapBnd CapEff CapPrm; do
	mask=$(in_box awk -v s="$set:" '$1 == s { print $2 }' "/proc/$pid/status")
	names=$(capsh --decode="$mask" | cut -d= -f2 | tr ',' '\n' | sort | tr '\n' ',')
	sets+="$set $names; "
	[[ $names == "$want" ]] || problems+=("$set $names")
done
[[ $(in_box awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$pid/status") == 1 ]] ||
	problems+=("NoNewPrivs not set")
# Mount options of / and of the state directory in the agent's namespace.
mounts=$(in_box awk '$5 == "/" || $5 == "/var/lib/abusewatch" { print $5, $6 }' "/proc/$pid/mountinfo")
grep -qE '^/ ro' <<<"$mounts" || problems+=("/ not read-only: $mounts")
grep -qE '^/var/lib/abusewatch rw' <<<"$mounts" || problems+=("state directory not writable: $mounts")
((${#problems[@]} == 0))
check systemd_sandbox "$?" "want $want: ${problems[*]}"
e2e_log "the agent under systemd: $sets mounts: $(tr '\n' ' ' <<<"$mounts")"

# ---- reload, good and bad
in_box systemctl reload abusewatch.service 2>"$E2E_TMP/reload.err"
good=$?
sleep 0.5
reloaded=$(in_box journalctl -u abusewatch --no-pager 2>/dev/null | grep -c 'configuration reloaded')
in_box sh -c 'cp /etc/abusewatch/abusewatch.yaml /tmp/good.yaml &&
	printf "agent: {interval: 0s}\n" >>/etc/abusewatch/abusewatch.yaml'
in_box systemctl reload abusewatch.service 2>/dev/null
bad=$?
in_box cp /tmp/good.yaml /etc/abusewatch/abusewatch.yaml
((good == 0 && reloaded >= 1 && bad != 0)) && [[ $(unit_show ActiveState) == active && $(unit_show MainPID) == "$pid" ]]
check systemd_reload "$?" "reload: status $good, 'configuration reloaded' logged $reloaded times; with an invalid file: status $bad (want non-zero), $(unit_show ActiveState), PID $(unit_show MainPID) (was $pid) $(head -c 300 "$E2E_TMP/reload.err")"

# ---- restart after a crash (RestartSec=5s)
restarts=$(unit_show NRestarts)
in_box kill -KILL "$pid"
for ((i = 0; i < 150; i++)); do
	[[ $(unit_show ActiveState) == active && $(unit_show MainPID) != "$pid" && $(unit_show MainPID) != 0 ]] && break
	sleep 0.1
done
[[ $(unit_show ActiveState) == active && $(unit_show NRestarts) -gt $restarts ]]
check systemd_restart "$?" "after SIGKILL: $(unit_show ActiveState), restarts $(unit_show NRestarts) (were $restarts)"

# ---- a tenant of the container's hierarchy
v2=$(in_box awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
machine=$v2/machine.slice/e2e-vm
podman cp "$AW_TOOLS/incg" "$NAME:/usr/local/bin/incg" && podman cp "$AW_TOOLS/burn" "$NAME:/usr/local/bin/burn" &&
	in_box mkdir -p "$machine" && in_box /usr/local/bin/incg "$machine" /usr/local/bin/burn 1
truth=$(in_box awk '$1 == "usage_usec" { printf "%.6f", $2 / 1e6 }' "$machine/cpu.stat")
value=""
for ((i = 0; i < 100; i++)); do
	value=$(in_box awk 'index($0, "abusewatch_tenant_cpu_seconds_total{tenant=\"e2e-vm\"") == 1 { print $NF }' "$TEXTFILE")
	within_pct "$value" "$truth" 1 && break
	sleep 0.1
done
within_pct "$value" "$truth" 1
check systemd_counts "$?" "tenant e2e-vm at $machine: cpu_seconds_total ${value:-missing}, cpu.stat ${truth:-missing}"
in_box rmdir "$machine" "$v2/machine.slice" 2>/dev/null

# ---- stop
in_box systemctl stop abusewatch.service
[[ $(unit_show ActiveState) == inactive && $(unit_show ExecMainStatus) == 0 && $(unit_show Result) == success ]]
check systemd_stop "$?" "after stop: $(unit_show ActiveState), status $(unit_show ExecMainStatus), result $(unit_show Result)"

e2e_finish
