// Command objcorpus gathers real BPF objects from Debian packages: the .o files a package
// installs and the objects its binaries embed (libbpf skeletons, Go programs' embedded objects).
// It is a tool for measuring `bpfmatrix load` on real-world objects, not part of the CLI.
// Packages come through vmimages' private apt state (the machine's own apt, the archive taken
// from its configuration or BPFMATRIX_DEBIAN_MIRROR; the system's apt state is never touched).
//
//	go run ./tools/objcorpus -out /tmp/corpus
//	go run ./tools/objcorpus -pin realobjects/realobjects.lock -packages libxdp1,xdp-tools
//
// With -out it writes each distinct object (by sha256) to OUT/<suite>/<package>_<version>/ and
// OUT/manifest.json (package, version, suite, file, offset, sha256, and what bpfobj.Read found),
// and prints a summary. With -pin it writes an object lock for realobjects instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bpfmatrix/bpfmatrix/realobjects"
)

// defaultPackages are Debian packages known to ship BPF objects or embed them.
var defaultPackages = []string{
	"libbpf-tools", "xdp-tools", "libxdp1", "bpftool", "libsystemd-shared", "systemd",
	"linux-perf", "pwru", "suricata", "bpftrace", "pcp",
}

func main() {
	out := flag.String("out", "", "directory to gather the corpus into")
	pin := flag.String("pin", "", "write an object lock of the packages to this file instead")
	suites := flag.String("suites", "bookworm,trixie", "comma-separated Debian suites to take packages from")
	pkgs := flag.String("packages", strings.Join(defaultPackages, ","), "comma-separated packages")
	cache := flag.String("cache", "", "bpfmatrix cache directory (default: the user's)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := realobjects.Options{CacheDir: *cache, Progress: os.Stderr}
	names, suiteList := split(*pkgs), split(*suites)
	var err error
	switch {
	case *pin != "" && *out == "":
		err = writePin(ctx, *pin, names, suiteList, opts)
	case *out != "" && *pin == "":
		err = gather(ctx, *out, names, suiteList, opts)
	default:
		fmt.Fprintln(os.Stderr, "usage: objcorpus -out DIR | -pin FILE [-suites LIST] [-packages LIST]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "objcorpus:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// writePin pins the packages of every suite into one lock file, checked by parsing it back.
func writePin(ctx context.Context, file string, names, suites []string, opts realobjects.Options) error {
	all := &realobjects.Lock{Path: file}
	for _, s := range suites {
		l, err := realobjects.Pin(ctx, names, s, opts)
		if err != nil {
			return err
		}
		all.Packages = append(all.Packages, l.Packages...)
	}
	data := all.Marshal()
	if _, err := realobjects.ParseLock(data, file); err != nil {
		return fmt.Errorf("the lock written would not load: %w", err)
	}
	return os.WriteFile(file, data, 0o644)
}
