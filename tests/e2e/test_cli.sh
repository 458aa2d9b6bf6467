#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The command line without BPF (no root needed): check-config on good and
# bad files (errors as FILE:LINE:COL:), run with a bad file, --version,
# --help and an unknown subcommand.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

e2e_cases cli_example_valid cli_unknown_key cli_bad_unit cli_bad_pattern \
	cli_run_bad_config cli_version cli_help cli_unknown_subcommand
# shellcheck disable=SC2119 # no tools needed, only the agent
e2e_require_build || e2e_finish
e2e_tmpdir || e2e_finish

# aw ARGS...: runs the agent (bounded), stdout/stderr in $E2E_TMP/out|err; sets STATUS.
aw() {
	timeout -k 5 20 "$AW_BIN" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" </dev/null
	STATUS=$?
}

first_line() {
	grep -v '^[[:space:]]*$' "$1" | head -n 1
}

EXAMPLE=$E2E_REPO/tests/unit/configs/example.yaml
if [[ ! -f $EXAMPLE ]]; then
	skip cli_example_valid "tests/unit/configs/example.yaml is missing"
else
	aw check-config "$EXAMPLE"
	((STATUS == 0))
	check cli_example_valid "$?" "check-config example.yaml: status $STATUS (want 0): $(first_line "$E2E_TMP/err")"
fi

# bad_config CASE LINE: the file on stdin must be rejected with an error at LINE.
bad_config() {
	local case=$1 line=$2 file=$E2E_TMP/$1.yaml
	cat >"$file"
	aw check-config "$file"
	# FILE:LINE:COL: with FILE as given on the command line.
	((STATUS == 1)) && grep -qF "$file:$line:" "$E2E_TMP/err" &&
		grep -F "$file:$line:" "$E2E_TMP/err" | grep -qE ":$line:[0-9]+:"
	check "$case" "$?" "check-config: status $STATUS (want 1), want '$file:$line:COL:' in stderr, got: $(first_line "$E2E_TMP/err")"
}

bad_config cli_unknown_key 3 <<'YAML'
agent:
  interval: 1s
  no_such_key: 3
YAML

bad_config cli_bad_unit 5 <<'YAML'
agent:
  interval: 1s
plans:
  default:
    disk_read: 50XB/s
YAML

bad_config cli_bad_pattern 3 <<'YAML'
# a capture that is never closed
tenants:
  - cgroup: "/ci/{tenant/**"
    plan: default
plans:
  default:
    window: 60s
YAML

aw run -c "$E2E_TMP/cli_unknown_key.yaml" --duration 1
((STATUS == 1))
check cli_run_bad_config "$?" "run -c BADFILE --duration 1: status $STATUS (want 1): $(first_line "$E2E_TMP/err")"

version=$(cat "$E2E_REPO/VERSION" 2>/dev/null)
aw --version
((STATUS == 0)) && [[ -n $version ]] && grep -qF "$version" "$E2E_TMP/out" "$E2E_TMP/err"
check cli_version "$?" "--version: status $STATUS, output '$(first_line "$E2E_TMP/out")' (want status 0 and '$version')"

aw --help
((STATUS == 0)) && grep -q 'check-config' "$E2E_TMP/out" "$E2E_TMP/err"
check cli_help "$?" "--help: status $STATUS (want 0, a usage that names check-config)"

aw no-such-subcommand
((STATUS == 1))
check cli_unknown_subcommand "$?" "unknown subcommand: status $STATUS (want 1)"
e2e_finish
