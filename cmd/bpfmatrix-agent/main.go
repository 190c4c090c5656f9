// Command bpfmatrix-agent is the init of bpfmatrix's QEMU guests: it probes the guest's kernel
// and streams the results to the host. It holds only the probe engine and the guest side of the
// harness, so that observations, which are cached by the agent binary's hash, stay valid across
// changes to the rest of bpfmatrix; harness.BuildAgent builds it (statically, with the
// guest-agent build tag). An installed bpfmatrix built with CGO_ENABLED=0 can play the same
// part without a Go toolchain.
package main

import (
	"fmt"
	"os"

	"github.com/bpfmatrix/bpfmatrix/harness/guest"
)

func main() {
	if !guest.IsInit() {
		fmt.Fprintln(os.Stderr, "bpfmatrix-agent runs as /init of a bpfmatrix guest; use `bpfmatrix agent` to probe this machine")
		os.Exit(2)
	}
	guest.RunAgent()
}
