// Package hostkernel tells which kernel this process runs on: the one system call behind the
// registry guide's "running-kernel version detection", kept out of the registry's model so that
// the model stays data. probe.RunningKernel parses the release into a registry version.
package hostkernel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Release returns the running kernel's uname release string, such as
// "6.12.117+deb13-cloud-amd64" or Debian's ABI form "5.10.0-32-cloud-amd64".
func Release() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}
