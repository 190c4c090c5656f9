#!/usr/bin/env bash
# Run a command as root with the caller's environment, then give back to the caller what root
# wrote: the checkout, the bpfmatrix cache and Go's caches (so that later steps and cache uploads,
# which run as the caller, can read and replace them).
#
#   ci/as-root.sh make matrix KERNELS=5.10,7.3
#   ci/as-root.sh true            # only give the files back (e.g. after a step was cancelled)
#
# Probing loads BPF programs, which needs root. HOME and PATH are passed explicitly because sudo
# resets them (secure_path), and root should use the caller's Go toolchain, module cache, build
# cache and ~/.cache/bpfmatrix instead of filling its own.
set -euo pipefail

[ "$#" -gt 0 ] || { echo "usage: ci/as-root.sh COMMAND [ARG...]" >&2; exit 2; }

if [ "$(id -u)" -eq 0 ]; then
	exec "$@"
fi

uid=$(id -u)
gid=$(id -g)
cache=${XDG_CACHE_HOME:-$HOME/.cache}
gomod=$(go env GOMODCACHE 2>/dev/null || true)
gobuild=$(go env GOCACHE 2>/dev/null || true)

status=0
sudo -E env "PATH=$PATH" "HOME=$HOME" "$@" || status=$?

for d in "$PWD" "$cache" "$gomod" "$gobuild"; do
	if [ -n "$d" ] && [ -e "$d" ]; then
		sudo chown -R "$uid:$gid" "$d" || true
	fi
done
exit "$status"
