#!/usr/bin/env bash
# Split the kernels of kernels.yaml into shards for a CI job matrix.
#
#   ci/shards.sh [SHARDS] [KERNELS]
#
# SHARDS (default 4) is the number of jobs; KERNELS is an optional comma-separated subset of the
# kernel names (default: all). Names are checked by `bpfmatrix kernels list`, which fails on a name
# kernels.yaml does not have. Prints one line of JSON, a GitHub Actions matrix:
#
#   {"include":[{"shard":1,"kernels":"5.10,6.17,7.1","key":"5.10_6.17_7.1"},...]}
#
# kernels is what `make matrix KERNELS=...` takes; key is the same list without commas (cache
# keys cannot hold commas). Kernels are dealt round-robin so that every shard gets old and new
# kernels alike (newer kernels know more helpers, so they take longer). Never more shards than
# kernels. Needs go and jq; run it from anywhere inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

shards=${1:-4}
kernels=${2:-}
case $shards in
'' | *[!0-9]* | 0) echo "ci/shards.sh: SHARDS must be a positive integer, not '$shards'" >&2; exit 2 ;;
esac

names=()
if [ -n "$kernels" ]; then
	IFS=', ' read -r -a names <<<"$kernels"
fi
# ${names[@]+...}: an empty array is "unbound" under set -u in bash < 4.4.
list=$(go run ./cmd/bpfmatrix kernels list --format json ${names[@]+"${names[@]}"})

jq -c --argjson n "$shards" '
	[.[].name] as $k
	| if ($k | length) == 0 then error("no kernels selected") else . end
	| {include: [
		range(0; [$n, ($k | length)] | min) as $i
		| [$k | to_entries[] | select(.key % $n == $i) | .value]
		| {shard: ($i + 1), kernels: join(","), key: join("_")}
	]}' <<<"$list"
