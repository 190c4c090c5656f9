package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

func init() {
	registerGroup("kernels", "list or fetch the kernel images of kernels.yaml", kernelsUsage, map[string]subcommand{
		"list": runKernelsList, "fetch": runKernelsFetch,
	})
}

const kernelsUsage = `usage:
  bpfmatrix kernels list  [--arch A] [--kernels-file F] [--format table|json] [--cache-dir D]
  bpfmatrix kernels fetch [NAME...] [--arch A] [--update] [--offline] [--kernels-file F] [--cache-dir D]

list shows each kernel of kernels.yaml with its pin in kernels.lock and whether the pinned image
is cached. fetch downloads the pinned images (all kernels, or the NAMEs given) and pins kernels
that have no pin yet; --update moves the pins to the newest builds, --offline refuses to download.
--arch (amd64 or arm64; default amd64) picks the builds of that architecture: the kernels whose
entry lists it in its arch key (all of them for amd64 unless an entry says otherwise).
The Debian archive comes from this machine's apt configuration, or from ` + vmimages.EnvDebianMirror + `
(and ` + vmimages.EnvDebianSecurityMirror + `) on machines whose apt is not Debian's.
`

// kernelsFlags are the flags every kernels subcommand takes.
type kernelsFlags struct {
	file, cacheDir string
	arch           *string
}

func (k *kernelsFlags) register(fs *flag.FlagSet) {
	k.arch = archFlag(fs, "the architecture of the builds: amd64 or arm64")
	fs.StringVar(&k.file, "kernels-file", "", "the kernels file (default: kernels.yaml here, else the one built into bpfmatrix)")
	fs.StringVar(&k.cacheDir, "cache-dir", "", "cache directory (default $XDG_CACHE_HOME/bpfmatrix)")
}

// maxFetchParallel bounds kernels fetch --parallel: more kernels at once than any kernels file
// holds gains nothing.
const maxFetchParallel = 64

// entries loads the kernels file and returns its kernels named in names (all that have a build
// of the --arch architecture when none is), and that architecture. An unknown architecture word
// or a named kernel without a build of it is an error.
func (k *kernelsFlags) entries(names []string) ([]vmimages.Entry, observation.Arch, error) {
	arch, err := archOf(*k.arch)
	if err != nil {
		return nil, "", err
	}
	cfg, err := vmimages.LoadConfig(k.path())
	if err != nil {
		return nil, "", err
	}
	entries, err := cfg.SelectArch(arch, names)
	return entries, arch, err
}

// path is the kernels file to use: the one named, else kernels.yaml in the current directory,
// else the built-in one (an installed bpfmatrix works in any directory).
func (k *kernelsFlags) path() string {
	if k.file != "" {
		return k.file
	}
	return vmimages.DefaultKernelsFile()
}

func runKernelsList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var kf kernelsFlags
	kf.register(fs)
	format := formatFlag(fs, "table", "json")
	c := cmdline{"kernels list", kernelsUsage}
	pos, code := c.parse(fs, -1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	entries, arch, err := kf.entries(pos)
	if err != nil {
		return c.fail(stderr, err)
	}
	sts, err := vmimages.StatusArch(kf.cacheDir, arch, entries)
	if err != nil {
		return c.fail(stderr, err)
	}
	if *format == "json" {
		type row struct {
			Name          string `json:"name"`
			Arch          string `json:"arch,omitempty"` // for builds other than amd64
			Source        string `json:"source"`
			Locked        bool   `json:"locked"`
			Version       string `json:"version,omitempty"`
			Release       string `json:"release,omitempty"`
			Package       string `json:"package,omitempty"`
			DebianVersion string `json:"debian_version,omitempty"`
			Suite         string `json:"suite,omitempty"`
			SHA256        string `json:"sha256,omitempty"`
			Cached        bool   `json:"cached"`
		}
		rows := []row{}
		for _, st := range sts {
			r := row{Name: st.Entry.Name, Source: st.Entry.Source.Spec(), Cached: st.Cached}
			if arch != observation.DefaultArch {
				r.Arch = string(arch)
			}
			if l := st.Locked; l != nil {
				r.Locked, r.Version, r.Release, r.Package, r.DebianVersion, r.Suite, r.SHA256 = true, l.Version, l.Release, l.Package, l.DebianVersion, l.Suite, l.SHA256
			}
			rows = append(rows, r)
		}
		return writeJSON(stdout, stderr, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tVERSION\tRELEASE\tSHA256\tCACHED")
	for _, st := range sts {
		version, release, sum, cached := "(not locked)", "-", "-", "no"
		if l := st.Locked; l != nil {
			version, release, sum = l.Version, l.Release, short(l.SHA256)
			if version == "" {
				version = "-"
			}
		}
		if st.Cached {
			cached = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", st.Entry.Name, st.Entry.Source.Spec(), version, release, sum, cached)
	}
	tw.Flush()
	return exitOK
}

func runKernelsFetch(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	var kf kernelsFlags
	kf.register(fs)
	update := fs.Bool("update", false, "resolve the newest builds again and move the pins in kernels.lock")
	offline := fs.Bool("offline", false, "refuse any download; fail for kernels whose image is not cached")
	parallel := intFlag(fs, "parallel", 0, 0, maxFetchParallel, "kernels processed at once (0: number of CPUs, at most 4)")
	c := cmdline{"kernels fetch", kernelsUsage}
	pos, code := c.parse(fs, -1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if *update && *offline {
		return c.fail(stderr, errors.New("--update needs the network; it cannot be combined with --offline"))
	}
	entries, arch, err := kf.entries(pos)
	if err != nil {
		return c.fail(stderr, err)
	}
	for i := 0; err == nil && i < len(entries); i++ {
		err = entries[i].CheckFiles()
	}
	if err != nil {
		return c.fail(stderr, err)
	}
	ctx, stop := signalContext()
	defer stop()

	f := &vmimages.Fetcher{CacheDir: kf.cacheDir, Arch: arch, Offline: *offline, Update: *update, Parallel: *parallel}
	var live *liveBoard
	if isTerminal(stdout) && os.Getenv("CI") == "" {
		live = newLiveBoard(stdout, cfgNames(entries))
		f.OnStep = live.step
	} else {
		f.Progress = stdout
	}
	start := time.Now()
	images, err := f.Fetch(ctx, entries)
	if live != nil {
		live.finish()
	}
	var fe *vmimages.FetchError
	if err != nil && !errors.As(err, &fe) {
		return c.fail(stderr, err)
	}
	if len(images) > 0 {
		fmt.Fprintln(stdout)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVERSION\tRELEASE\tPACKAGE\tSUITE\tSHA256\tSIZE")
		for _, img := range images {
			size := "-"
			if st, err := os.Stat(img.Path); err == nil {
				size = fmt.Sprintf("%.1f MB", float64(st.Size())/1e6)
			}
			pkg, suite := img.Package, img.Suite
			if pkg == "" {
				pkg, suite = "-", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", img.Name, img.Version, img.Release, pkg+" "+img.DebianVersion, suite, short(img.SHA256), size)
		}
		tw.Flush()
	}
	fmt.Fprintf(stdout, "%d of %d kernels ready in %.1fs\n", len(images), len(entries), time.Since(start).Seconds())
	if fe != nil {
		c.say(stderr, fe)
		return exitNo
	}
	return exitOK
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// cfgNames lists the names of entries.
func cfgNames(entries []vmimages.Entry) []string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names
}
