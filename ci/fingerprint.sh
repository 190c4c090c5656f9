#!/usr/bin/env bash
# Print a short fingerprint of a directory's contents (file paths and sizes), or "none" when it
# does not exist or is empty. The workflow appends it to cache keys so that a cache is saved again
# exactly when its directory changed: kernel images and observation files are named by content
# hashes, so their names and sizes stand for their contents.
#
#   ci/fingerprint.sh ~/.cache/bpfmatrix/images
set -euo pipefail

dir=${1:?usage: ci/fingerprint.sh DIR}
if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then
	echo none
	exit 0
fi
(cd "$dir" && find . -type f ! -name '*.tmp' ! -path '*.corrupt-*' -printf '%p %s\n' | LC_ALL=C sort) |
	sha256sum | cut -c1-16
