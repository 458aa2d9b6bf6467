#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian package, built from this tree and installed into a scratch
# root, never into this machine. Minutes of work and Debian's archive, so
# only under `make package-test` (AW_PACKAGE_TESTS=1):
# - pkg_build: `dpkg-buildpackage -us -uc -b` (scripts/build-deb) makes the
#   .deb; every library the binary needs (its NEEDED entries) comes from a
#   package in Depends; the configuration is a conffile;
# - pkg_lintian: lintian reports no error and no warning;
# - pkg_scratch_root: a Debian root of this release with the package
#   (mmdebstrap, scripts/build-image --rootfs, which apt fills with the
#   dependencies): dpkg knows it installed, the installed binary accepts the
#   installed configuration (check-config), the unit is enabled;
# - pkg_remove_purge: in that root, purging leaves nothing of the package,
#   a fresh `dpkg -i` works, remove keeps the changed configuration, and
#   purge removes it and what the agent wrote (state, events log, textfile):
#   the root is file for file what it was before the package came back.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases pkg_build pkg_lintian pkg_scratch_root pkg_remove_purge
if [[ ${AW_PACKAGE_TESTS:-} != 1 ]]; then
	skip_all "builds a package and a Debian root (minutes, Debian's archive): run by make package-test"
	e2e_finish
fi
if ((EUID != 0)); then
	skip_all "not root (a scratch root needs chroot)"
	e2e_finish
fi
for tool in dpkg-buildpackage dh lintian mmdebstrap; do
	if ! command -v "$tool" >/dev/null; then
		fail_all "$tool is missing (scripts/install-deps --package installs it)"
		e2e_finish
	fi
done
e2e_tmpdir || e2e_finish

VERSION=$(cat "$E2E_REPO/VERSION")
ARCH=$(dpkg --print-architecture)
DEB=$E2E_REPO/build/package/abusewatch_${VERSION}_$ARCH.deb

# ---- build
start=$SECONDS
if ! out=$("$E2E_REPO/scripts/build-deb" 2>&1) || [[ ! -f $DEB ]]; then
	fail_all "scripts/build-deb failed: $(tail -n 5 <<<"$out")"
	e2e_finish
fi
e2e_log "built $(basename "$DEB") in $((SECONDS - start)) s: $(stat -c %s "$DEB") bytes," \
	"installed size $(dpkg-deb -f "$DEB" Installed-Size) KiB"
depends=$(dpkg-deb -f "$DEB" Depends)
dpkg-deb -x "$DEB" "$E2E_TMP/contents" && dpkg-deb -e "$DEB" "$E2E_TMP/control"
missing=()
while read -r soname; do
	library=$(ldconfig -p | awk -v s="$soname" '$1 == s { print $NF; exit }')
	# dpkg knows a library by the path its package ships, /lib or /usr/lib.
	real=$(readlink -f "$library")
	owner=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null)
	owner=$(head -n 1 <<<"$owner" | cut -d: -f1)
	in_depends="(^|[ ,])$owner([ ,(]|\$)"
	[[ -n $owner && $depends =~ $in_depends ]] || missing+=("$soname (${owner:-no package})")
done < <(
	objdump -p "$E2E_TMP/contents/usr/sbin/abusewatch" | awk '$1 == "NEEDED" { print $2 }'
	# Loaded with dlopen at the first HTTP request (user/sinks/http.c).
	echo libcurl.so.4
)
conffiles=$(cat "$E2E_TMP/control/conffiles" 2>/dev/null)
((${#missing[@]} == 0)) && [[ $conffiles == /etc/abusewatch/abusewatch.yaml ]]
check pkg_build "$?" "Depends: $depends; libraries without their package there: ${missing[*]:-none}; conffiles: ${conffiles:-none}"

# ---- lintian
start=$SECONDS
lintian --info "$E2E_REPO/build/package/abusewatch_${VERSION}_$ARCH.changes" >"$E2E_TMP/lintian.txt" 2>&1
status=$?
e2e_log "lintian in $((SECONDS - start)) s, status $status: $(grep -c '^[EWI]:' "$E2E_TMP/lintian.txt") tags: $(grep '^[EWI]:' "$E2E_TMP/lintian.txt" | tr '\n' ' ')"
! grep -q '^[EW]:' "$E2E_TMP/lintian.txt" && ((status == 0))
check pkg_lintian "$?" "lintian (status $status): $(grep '^[EW]:' "$E2E_TMP/lintian.txt" | head -n 5 | tr '\n' ' ')"

# ---- a scratch root with the package
start=$SECONDS
if ! out=$("$E2E_REPO/scripts/build-image" --rootfs 2>&1); then
	report_each "pkg_scratch_root pkg_remove_purge" fail "scripts/build-image --rootfs: $(tail -n 5 <<<"$out")"
	e2e_finish
fi
ROOT=$E2E_TMP/root
mkdir "$ROOT" && tar -xf "$E2E_REPO/build/package/rootfs.tar" -C "$ROOT" || {
	report_each "pkg_scratch_root pkg_remove_purge" fail "cannot unpack the root"
	e2e_finish
}
e2e_log "scratch root in $((SECONDS - start)) s: $(du -sh "$ROOT" | cut -f1)"
in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
status=$(in_root dpkg-query -W -f='${db:Status-Status} ${Version}' abusewatch 2>&1)
checked=$(in_root abusewatch check-config /etc/abusewatch/abusewatch.yaml 2>&1)
[[ $status == "installed $VERSION" && $checked == "/etc/abusewatch/abusewatch.yaml: ok"* &&
	-L $ROOT/etc/systemd/system/multi-user.target.wants/abusewatch.service ]]
check pkg_scratch_root "$?" "dpkg: $status; check-config: $checked; unit enabled: $([[ -L $ROOT/etc/systemd/system/multi-user.target.wants/abusewatch.service ]] && echo yes || echo no)"

# listing FILE: every path of the root but dpkg's own records, with type and size.
listing() {
	(cd "$ROOT" && find . -path ./var/lib/dpkg -prune -o -path ./var/log/dpkg.log -prune -o \
		-path ./var/cache/debconf -prune -o -path ./tmp -prune -o -printf '%y %s %p\n' | sort) >"$1"
}
purge_problems=()
in_root dpkg --purge abusewatch >"$E2E_TMP/dpkg.log" 2>&1 || purge_problems+=("first purge failed")
listing "$E2E_TMP/before"
cp "$DEB" "$ROOT/tmp/" && in_root dpkg -i "/tmp/$(basename "$DEB")" >>"$E2E_TMP/dpkg.log" 2>&1 ||
	purge_problems+=("dpkg -i failed: $(tail -n 2 "$E2E_TMP/dpkg.log")")
rm -f "$ROOT/tmp/$(basename "$DEB")"
# What a running agent leaves, at the configuration's places.
mkdir -p "$ROOT/var/lib/abusewatch/spool" "$ROOT/var/log/abusewatch" \
	"$ROOT/var/lib/node_exporter/textfile_collector" &&
	echo '{}' >"$ROOT/var/lib/abusewatch/firing.json" &&
	echo '{}' >"$ROOT/var/log/abusewatch/events.jsonl" &&
	echo 'abusewatch_build_info 1' >"$ROOT/var/lib/node_exporter/textfile_collector/abusewatch.prom"
echo '# changed' >>"$ROOT/etc/abusewatch/abusewatch.yaml"
in_root dpkg --remove abusewatch >>"$E2E_TMP/dpkg.log" 2>&1 || purge_problems+=("remove failed")
[[ -f $ROOT/etc/abusewatch/abusewatch.yaml && ! -e $ROOT/usr/sbin/abusewatch ]] ||
	purge_problems+=("remove: configuration not kept, or binary left")
in_root dpkg --purge abusewatch >>"$E2E_TMP/dpkg.log" 2>&1 || purge_problems+=("purge failed")
listing "$E2E_TMP/after"
left=$(diff "$E2E_TMP/before" "$E2E_TMP/after" | grep '^[<>]' | head -n 10 | tr '\n' ' ')
[[ -n $left ]] && purge_problems+=("differences from before: $left")
((${#purge_problems[@]} == 0))
check pkg_remove_purge "$?" "${purge_problems[*]}"

e2e_finish
