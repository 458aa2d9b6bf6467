#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Block I/O per tenant: a 64 MiB O_DIRECT write (fsync'd) and a 64 MiB
# O_DIRECT read in tenant "disk" must reach the block layer as 64 MiB each.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases disk_write disk_read
e2e_require_root_bpf || e2e_finish
e2e_require_build incg || e2e_finish
e2e_setup || e2e_finish

SIZE=$((64 * 1024 * 1024))

# A directory on a disk-backed file system: the build directory (kept out of
# git) or /var/tmp. tmpfs and ramfs never reach the block layer.
data_dir() {
	local base fstype
	for base in "$E2E_REPO/build" /var/tmp; do
		[[ -d $base && -w $base ]] || continue
		fstype=$(stat -f -c %T "$base" 2>/dev/null) || continue
		case $fstype in
		tmpfs | ramfs) continue ;;
		esac
		mktemp -d "$base/abusewatch-e2e-disk.XXXXXX" && return 0
	done
	return 1
}

DIR=$(data_dir) || {
	skip_all "no disk-backed directory: $E2E_REPO/build and /var/tmp are tmpfs or not writable"
	e2e_finish
}
on_cleanup rm -rf "'$DIR'"
FSTYPE=$(stat -f -c %T "$DIR")

write_config disk || { fail_all "cannot write the configuration"; e2e_finish; }
CG=$(tenant_cgroup disk) || { fail_all "cannot create cgroup disk"; e2e_finish; }
# Cache dd and its libraries, so that the tenant's own reads are the file's.
dd --version >/dev/null
agent_or_report "disk_write disk_read" "$AW_CONFIG" || e2e_finish

if ! "$AW_TOOLS/incg" "$CG" dd if=/dev/zero of="$DIR/f" bs=1M count=64 oflag=direct conv=fsync \
	2>"$E2E_TMP/dd-write.err"; then
	stop_agent
	skip_all "O_DIRECT write on $FSTYPE ($DIR) failed: $(tail -n 1 "$E2E_TMP/dd-write.err")"
	e2e_finish
fi
if ! "$AW_TOOLS/incg" "$CG" dd if="$DIR/f" of=/dev/null bs=1M iflag=direct \
	2>"$E2E_TMP/dd-read.err"; then
	stop_agent
	reason=$(tail -n 1 "$E2E_TMP/dd-read.err")
	skip disk_read "O_DIRECT read on $FSTYPE ($DIR) failed: $reason"
fi
wait_intervals 3
stop_agent

written=$(metric abusewatch_tenant_disk_written_bytes_total disk)
within_pct "$written" "$SIZE" 5
check disk_write "$?" "disk_written_bytes_total = ${written:-missing}, want $SIZE +-5% (64 MiB O_DIRECT on $FSTYPE)"

# Reads may include page-cache misses of the tenant's binaries: allowed
# only upwards, and within 5%.
read_bytes=$(metric abusewatch_tenant_disk_read_bytes_total disk)
if [[ -z ${E2E_RECORDED[disk_read]:-} ]]; then
	num_cmp "$read_bytes" ">=" "$SIZE" && within_pct "$read_bytes" "$SIZE" 5
	check disk_read "$?" "disk_read_bytes_total = ${read_bytes:-missing}, want $SIZE to +5% (64 MiB O_DIRECT on $FSTYPE)"
fi
e2e_finish
