#!/usr/bin/env bash
# Prepare a Debian or Ubuntu CI machine for `make matrix` / `make test`:
#   - install QEMU and the Debian archive keyring (the kernels are Debian packages, verified by apt);
#   - let every user open /dev/kvm (guests use KVM when it opens, else TCG, which is ~10x slower);
#   - say which Debian mirror will be used.
# Uses sudo when not root. Safe to run twice.
set -euo pipefail

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi

pkgs=(qemu-system-x86 debian-archive-keyring)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ -e /dev/kvm ]; then
	echo 'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"' |
		"${sudo[@]}" tee /etc/udev/rules.d/99-bpfmatrix-kvm.rules >/dev/null
	"${sudo[@]}" udevadm control --reload-rules 2>/dev/null || true
	"${sudo[@]}" udevadm trigger --name-match=kvm 2>/dev/null || true
	# udev may not run in a container: set the mode directly as well.
	"${sudo[@]}" chmod 0666 /dev/kvm || true
	echo "KVM: /dev/kvm is present; guests will use it"
else
	echo "KVM: no /dev/kvm; guests will run under TCG (slow)"
fi

# On Debian, bpfmatrix takes the archive from the system's apt sources. Elsewhere it needs a mirror.
if [ -z "${BPFMATRIX_DEBIAN_MIRROR:-}" ]; then
	if grep -qs '^ID=debian$' /etc/os-release; then
		echo "Debian mirror: from this machine's apt configuration"
	else
		msg="BPFMATRIX_DEBIAN_MIRROR is not set and this machine's apt is not Debian's: kernels that are not cached yet cannot be fetched (see ci/README.md)"
		if [ "${GITHUB_ACTIONS:-}" = true ]; then
			echo "::warning::$msg"
		else
			echo "warning: $msg" >&2
		fi
	fi
else
	echo "Debian mirror: $BPFMATRIX_DEBIAN_MIRROR"
fi
