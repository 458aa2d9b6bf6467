#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` and `make uninstall` (no BPF, no root needed), into
# scratch directories only:
# - install_destdir: DESTDIR=D PREFIX=/usr puts exactly the expected files
#   under D: the binary, both man pages, the reference and the example, the
#   systemd unit (ExecStart at /usr/sbin) and /etc/abusewatch/abusewatch.yaml;
# - install_man_clean: man -l renders both installed pages at 80 columns
#   without a warning, and groff -ww finds nothing;
# - install_config_valid: the installed binary accepts the installed
#   configuration and the example (check-config);
# - install_keeps_config: a second install leaves a changed configuration
#   alone, and uninstall keeps it;
# - install_uninstall_clean: uninstall leaves no file behind;
# - install_unit_verify: with PREFIX and SYSCONFDIR in a scratch directory,
#   the installed unit names the installed binary and passes
#   `systemd-analyze verify` (its man: links found in the installed pages);
# - install_unit_hardened: the unit has what issue 13 asks of it, and
#   `systemd-analyze security` rates it (logged).
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases install_destdir install_man_clean install_config_valid install_keeps_config \
	install_uninstall_clean install_unit_verify install_unit_hardened
e2e_tmpdir || e2e_finish
# shellcheck disable=SC2119 # no tools needed, only the agent
e2e_require_build || e2e_finish

D=$E2E_TMP/dest
MAKE_LOG=$E2E_TMP/make.log
make_in_repo() {
	make -C "$E2E_REPO" --no-print-directory "$@" >>"$MAKE_LOG" 2>&1
}

# ---- DESTDIR
expected="etc/abusewatch/abusewatch.yaml
lib/systemd/system/abusewatch.service
sbin/abusewatch
share/doc/abusewatch/abusewatch.example.yaml
share/doc/abusewatch/alerts.md
share/doc/abusewatch/cli.md
share/doc/abusewatch/configuration.md
share/doc/abusewatch/metrics.md
share/man/man5/abusewatch.yaml.5
share/man/man8/abusewatch.8"
if make_in_repo install DESTDIR="$D" PREFIX=/usr; then
	# /etc stays /etc; everything else is under the prefix.
	got=$(cd "$D" && find . -type f | sed -e 's|^\./||' -e 's|^usr/||' | sort)
	unit=$D/usr/lib/systemd/system/abusewatch.service
	[[ $got == "$(sort <<<"$expected")" ]] &&
		grep -q '^ExecStart=/usr/sbin/abusewatch run ' "$unit" &&
		[[ $(stat -c %a "$D/usr/sbin/abusewatch") == 755 ]]
	check install_destdir "$?" "files under DESTDIR: $(tr '\n' ' ' <<<"$got"); ExecStart: $(grep '^ExecStart=' "$unit" 2>/dev/null)"
else
	fail install_destdir "make install failed: $(tail -n 3 "$MAKE_LOG")"
fi

# ---- man pages render cleanly
if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
	fail install_man_clean "man or groff is missing (scripts/install-deps installs man-db)"
else
	problems=""
	for page in "$D/usr/share/man/man8/abusewatch.8" "$D/usr/share/man/man5/abusewatch.yaml.5"; do
		warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$E2E_TMP/page.txt")
		warnings+=$(groff -man -ww -z "$page" 2>&1)
		[[ -z $warnings ]] || problems+="$(basename "$page"): $warnings; "
		grep -q "abusewatch $(cat "$E2E_REPO/VERSION")" "$E2E_TMP/page.txt" ||
			problems+="$(basename "$page"): no version $(cat "$E2E_REPO/VERSION") in the footer; "
		python3 -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 80 for l in open(sys.argv[1], encoding="utf-8")))' \
			"$E2E_TMP/page.txt" ||
			problems+="$(basename "$page"): lines over 80 columns; "
	done
	[[ -z $problems ]]
	check install_man_clean "$?" "$problems"
fi

# ---- the installed binary on the installed configuration
out=$("$D/usr/sbin/abusewatch" check-config "$D/etc/abusewatch/abusewatch.yaml" 2>&1) &&
	out+=" / "$("$D/usr/sbin/abusewatch" check-config \
		"$D/usr/share/doc/abusewatch/abusewatch.example.yaml" 2>&1)
check install_config_valid "$?" "check-config: $out"

# ---- a changed configuration is the operator's
config=$D/etc/abusewatch/abusewatch.yaml
printf '# changed by the operator\n' >>"$config"
make_in_repo install DESTDIR="$D" PREFIX=/usr && grep -q 'changed by the operator' "$config" &&
	make_in_repo uninstall DESTDIR="$D" PREFIX=/usr && grep -q 'changed by the operator' "$config"
check install_keeps_config "$?" "a changed $config was replaced or removed"

# ---- uninstall: nothing left (the changed configuration removed by hand)
rm -f "$config"
make_in_repo install DESTDIR="$D" PREFIX=/usr && make_in_repo uninstall DESTDIR="$D" PREFIX=/usr
left=$(find "$D" -type f -o -name '*abusewatch*' | sort | tr '\n' ' ')
[[ -z $left ]]
check install_uninstall_clean "$?" "left behind: $left"

# ---- the unit, as installed, for systemd
P=$E2E_TMP/prefix
if ! command -v systemd-analyze >/dev/null; then
	fail install_unit_verify "systemd-analyze is missing (package systemd)"
elif make_in_repo install PREFIX="$P" SYSCONFDIR="$E2E_TMP/etc"; then
	unit=$P/lib/systemd/system/abusewatch.service
	verify=$(MANPATH=$P/share/man systemd-analyze verify "$unit" 2>&1)
	status=$?
	((status == 0)) && [[ -z $verify ]] && grep -q "^ExecStart=$P/sbin/abusewatch run " "$unit"
	check install_unit_verify "$?" "systemd-analyze verify $unit: status $status: $verify"
	make_in_repo uninstall PREFIX="$P" SYSCONFDIR="$E2E_TMP/etc"
else
	fail install_unit_verify "make install PREFIX=$P failed: $(tail -n 3 "$MAKE_LOG")"
fi

# ---- what the unit must have
UNIT=$E2E_REPO/deploy/systemd/abusewatch.service
# unit_has KEY=VALUE-REGEX: a line of the unit.
unit_has() { grep -qE "^$1\$" "$UNIT"; }
missing=()
unit_has 'CapabilityBoundingSet=CAP_[A-Z_]+( CAP_[A-Z_]+)*' || missing+=(CapabilityBoundingSet)
unit_has 'NoNewPrivileges=yes' || missing+=(NoNewPrivileges)
unit_has 'ProtectSystem=strict' || missing+=(ProtectSystem=strict)
unit_has 'Restart=on-failure' || missing+=(Restart=on-failure)
unit_has 'ExecReload=/bin/kill -HUP \$MAINPID' || missing+=("ExecReload=kill -HUP")
# The default configuration's directories are writable: state_dir and the
# events log's as the unit's StateDirectory and LogsDirectory, the
# textfile's in ReadWritePaths.
defaults=$E2E_REPO/data/default.yaml
value_of() { awk -v k="$1:" '$1 == k { print $2; exit }' "$defaults"; }
[[ $(value_of state_dir) == /var/lib/abusewatch ]] && unit_has 'StateDirectory=abusewatch' ||
	missing+=("StateDirectory for $(value_of state_dir)")
[[ $(dirname "$(value_of events_log)") == /var/log/abusewatch ]] && unit_has 'LogsDirectory=abusewatch' ||
	missing+=("LogsDirectory for $(value_of events_log)")
unit_has "ReadWritePaths=-?$(dirname "$(value_of textfile)")" ||
	missing+=("ReadWritePaths for $(value_of textfile)")
if command -v systemd-analyze >/dev/null; then
	e2e_log "systemd-analyze security: $(systemd-analyze security --offline=yes "$UNIT" 2>&1 | tail -n 1)"
fi
((${#missing[@]} == 0))
check install_unit_hardened "$?" "$UNIT lacks: ${missing[*]}"

e2e_finish
