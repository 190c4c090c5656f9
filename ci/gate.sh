#!/usr/bin/env bash
# Decide a merged matrix run from its report: fail when any registry entry is contradicted, any
# kernel failed, or a kernel that should have been run has no result at all (its shard crashed
# before writing observations).
#
#   ci/gate.sh out/report.json [EXPECTED]     EXPECTED: comma-separated kernel names
#
# Exit 0 when the report is clean, 1 when it is not, 2 on bad input.
set -euo pipefail

report=${1:?usage: ci/gate.sh REPORT.json [KERNEL,...]}
expected=${2:-}
[ -r "$report" ] || { echo "ci/gate.sh: $report: no report (did every shard fail?)" >&2; exit 2; }

err() {
	if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::error::$*"; else echo "error: $*" >&2; fi
}

bad=0
contradicted=$(jq -r '.summary.contradicted // [] | length' "$report")
failed=$(jq -r '.summary.failed_kernels // [] | length' "$report")
if [ "$contradicted" -gt 0 ]; then
	err "$contradicted registry entries contradicted: $(jq -r '.summary.contradicted | join(", ")' "$report")"
	bad=1
fi
if [ "$failed" -gt 0 ]; then
	err "$failed kernels failed: $(jq -r '.summary.failed_kernels | join(", ")' "$report")"
	bad=1
fi

types=$(jq -r '.summary.missing_prog_types // [] | join(", ")' "$report")
if [ -n "$types" ]; then
	# Prog types kernels allow but the registry omits: reported, not gated here (make matrix decides).
	msg="prog types the registry omits but kernels allow: $types"
	if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::warning::$msg"; else echo "warning: $msg" >&2; fi
fi

missing=()
if [ -n "$expected" ]; then
	IFS=', ' read -r -a want <<<"$expected"
	for k in "${want[@]}"; do
		jq -e --arg k "$k" 'any(.kernels[]?; .name == $k)' "$report" >/dev/null || missing+=("$k")
	done
fi
if [ "${#missing[@]}" -gt 0 ]; then
	err "no observations for kernels: ${missing[*]}"
	bad=1
fi

kernels=$(jq -r '[.kernels[]?.name] | join(", ")' "$report")
if [ "$bad" -eq 0 ]; then
	echo "matrix clean: kernels $kernels; no contradictions, no failed kernels"
fi
exit "$bad"
