package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "judge registry entries against the kernels (cached observations, booting only what is missing)",
		run:     runVerify,
	})
}

// exitNoEvidence is verify's answer when a requested entry could not be judged: every kernel
// that could have told failed.
const exitNoEvidence = 3

const verifyUsage = `usage: bpfmatrix verify [--registry FILE] [--kernels 5.10,7.3] [--format text|json] [HELPER...]

Judges registry entries (all, or the HELPERs named, by name or id) against what the kernels of
kernels.yaml do. Observations are cached per kernel image and agent binary, so a registry edit
is judged in about a second; kernels not observed yet are fetched and booted first.
Exit status: 0 nothing contradicted, 1 a contradiction, 2 bad input, 3 a requested entry has no
evidence (its kernels failed).
`

// verifyOutput is the JSON document of verify --format json.
type verifyOutput struct {
	Registry string                  `json:"registry"`
	Kernels  []verifyKernel          `json:"kernels"`
	Helpers  []verdict.HelperVerdict `json:"helpers"`
	// Contradicted counts the helpers above whose verdict is contradicted.
	Contradicted int `json:"contradicted"`
}

type verifyKernel struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Status  string `json:"status"`
	Cached  bool   `json:"cached"`
	Error   string `json:"error,omitempty"`
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	regPath := registryFlag(fs)
	kernels := fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)")
	format := fs.String("format", "text", "text or json")
	gf := addGuestFlags(fs)
	refresh := fs.Bool("refresh", false, "ignore cached observations and boot every kernel")
	out := fs.String("out", "", "also write the per-kernel observations to DIR (the layout bpfmatrix report --in reads)")
	in := fs.String("in", "", "judge the saved observations in DIR (as run, verify --out or the suite write them) instead of observing kernels")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, verifyUsage+"\nflags:\n"+flagUsage(fs))
		return exitOK
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "bpfmatrix verify: %s\n", oneLine(err))
		return exitBadArgs
	}
	if err != nil {
		return bad(err)
	}
	if *format != "text" && *format != "json" {
		return bad(fmt.Errorf("--format %q: text or json", *format))
	}
	reg, err := loadRegistry(*regPath)
	if err != nil {
		fmt.Fprintf(stderr, "bpfmatrix: %s\n", oneLine(err))
		return exitBadArgs
	}
	var wanted []*registry.Helper
	for _, arg := range pos {
		h, err := reg.Find(arg)
		if err != nil {
			return bad(err)
		}
		wanted = append(wanted, h)
	}
	hcfg, err := gf.config()
	if err != nil {
		return bad(err)
	}
	var names []string
	if *kernels != "" {
		names = strings.Split(*kernels, ",")
	}

	start := time.Now()
	doc := verifyOutput{Registry: reg.File()}
	var judged []verdict.Kernel
	addKernel := func(k report.Kernel, cached bool) {
		vk := verifyKernel{Name: k.Name, Status: "ok", Cached: cached}
		if !k.Version.IsZero() {
			vk.Version = k.Version.String()
		}
		if k.Failed {
			vk.Status, vk.Error = "failed", k.Error
			fmt.Fprintf(stderr, "bpfmatrix verify: kernel %s failed: %s\n", k.Name, oneLine(errors.New(k.Error)))
		}
		doc.Kernels = append(doc.Kernels, vk)
		judged = append(judged, k.Kernel)
	}
	if *in != "" {
		if *kernels != "" || *refresh || *out != "" {
			return bad(fmt.Errorf("--in judges saved observations: --kernels, --refresh and --out do not apply"))
		}
		ks, err := report.ReadDir(*in)
		if err != nil {
			// Unreadable files are named; the others are still judged.
			fmt.Fprintf(stderr, "bpfmatrix verify: %v\n", err)
			if len(ks) == 0 {
				return exitBadArgs
			}
		}
		for _, k := range ks {
			addKernel(k, true)
		}
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		obs, err := observe.Run(ctx, observe.Options{
			KernelsFile: gf.kernelsFile,
			Kernels:     names,
			CacheDir:    gf.cacheDir,
			Offline:     gf.offline,
			Refresh:     *refresh,
			Harness:     hcfg,
			Log:         stderr,
			NeedQEMU:    func() error { return lookQEMU(hcfg.QEMU) },
		})
		if err != nil {
			return bad(err)
		}
		if *out != "" {
			if _, err := observe.WriteDir(*out, obs); err != nil {
				fmt.Fprintf(stderr, "bpfmatrix verify: %v\n", err)
				return exitNo
			}
		}
		// Parsing a few MB of JSON per kernel is most of a cached check's time: in parallel.
		parsed := make([]report.Kernel, len(obs))
		var wg sync.WaitGroup
		for i, o := range obs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := report.ParseKernel(o.Name, "observations of kernel "+o.Name, o.Data)
				if err != nil {
					// Unreadable observations are a failed kernel, not a reason to lose the others.
					k = report.Kernel{Kernel: verdict.Kernel{Name: o.Name, Failed: true, Error: err.Error()}}
				}
				parsed[i] = k
			}()
		}
		wg.Wait()
		for i, o := range obs {
			addKernel(parsed[i], o.Cached)
		}
	}
	all := verdict.Judge(reg, judged)
	if len(wanted) == 0 {
		doc.Helpers = all
	} else {
		byID := map[int]verdict.HelperVerdict{}
		for _, hv := range all {
			byID[hv.ID] = hv
		}
		for _, h := range wanted {
			doc.Helpers = append(doc.Helpers, byID[h.ID])
		}
	}
	noEvidence := false
	okKernels := 0
	for _, k := range doc.Kernels {
		if k.Status == "ok" {
			okKernels++
		}
	}
	for _, hv := range doc.Helpers {
		switch hv.Verdict {
		case verdict.Contradicted:
			doc.Contradicted++
		case verdict.NoEvidence:
			noEvidence = true
		}
	}

	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			fmt.Fprintf(stderr, "bpfmatrix verify: %v\n", err)
			return exitNo
		}
	} else {
		printVerdicts(stdout, doc)
	}
	fmt.Fprintf(stderr, "bpfmatrix verify: %d helper(s) against %d kernel(s) (%d ok) in %.2fs: %d contradicted\n",
		len(doc.Helpers), len(doc.Kernels), okKernels, time.Since(start).Seconds(), doc.Contradicted)
	switch {
	case doc.Contradicted > 0:
		return exitNo
	case okKernels == 0 || (len(wanted) > 0 && noEvidence):
		return exitNoEvidence
	}
	return exitOK
}

// printVerdicts prints one block per helper: its verdict, how each program type fared, and each
// contradiction in full.
func printVerdicts(w io.Writer, doc verifyOutput) {
	for _, hv := range doc.Helpers {
		fmt.Fprintf(w, "bpf_%s (id %d): %s\n", hv.Name, hv.ID, hv.Verdict)
		if r := hv.Existence.Reason; r != "" {
			fmt.Fprintf(w, "  exists: %s: %s\n", hv.Existence.Verdict, r)
		}
		for _, tv := range hv.Types {
			if tv.Verdict == verdict.Contradicted {
				continue // said in full below
			}
			span := ""
			if tv.FirstOffered != "" {
				span = fmt.Sprintf(" (offered on %s..%s)", tv.FirstOffered, tv.LastOffered)
			}
			fmt.Fprintf(w, "  %s: %s%s\n", tv.ProgType, tv.Verdict, span)
		}
		for _, p := range hv.Problems {
			fmt.Fprintf(w, "  CONTRADICTED %s\n", p)
		}
	}
}
