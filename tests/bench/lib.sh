# SPDX-License-Identifier: GPL-2.0
#
# Shared by the parts of `make bench` (tests/bench/*.sh). Each part measures
# side by side in one run (the machines are shared and noisy: ratios, not
# absolute times) and reports each figure with bench_figure, one JSON object
# per line in $BENCH_OUT (scripts/bench gathers them into build/bench.json).
#
#   bench_figure ID "what is measured" VALUE UNIT "budget text" OK [NOTE]
#     ID      short stable name, e.g. sched_switch_ratio
#     VALUE   a number (or "null" when it could not be measured)
#     OK      true, false, or null (no budget, or not measured)

BENCH_REPO=${BENCH_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BENCH_BUILD=${BENCH_BUILD:-$BENCH_REPO/build}
BENCH_OUT=${BENCH_OUT:-$BENCH_BUILD/bench/figures.jsonl}
AW_BIN=${AW_BIN:-$BENCH_BUILD/abusewatch}
AW_TOOLS=${AW_TOOLS:-$BENCH_BUILD/tools}

bench_log() {
	printf 'bench: %s\n' "$*" >&2
}

bench_figure() {
	local id=$1 what=$2 value=$3 unit=$4 budget=$5 ok=$6 note=${7:-}
	python3 - "$id" "$what" "$value" "$unit" "$budget" "$ok" "$note" >>"$BENCH_OUT" <<'PY'
import json, sys
id_, what, value, unit, budget, ok, note = sys.argv[1:]
try:
    number = None if value in ("", "null") else float(value)
except ValueError:
    number = None
print(json.dumps({"id": id_, "figure": what, "value": number, "unit": unit,
                  "budget": budget, "ok": {"true": True, "false": False}.get(ok),
                  "note": note}))
PY
}
