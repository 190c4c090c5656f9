// Package suites holds the Ginkgo matrix: one container per kernel of kernels.yaml, labelled
// kernel:<name>, with one entry per registry helper asserting that the kernel does what the
// registry claims. Guests boot once, before the specs, through the same observation pipeline
// as `bpfmatrix verify` (cached per kernel image and agent); the compatibility report is written
// after the suite.
//
// Run it with `make matrix` (every kernel) or, for some kernels,
// `go test ./suites -ginkgo.label-filter='kernel:5.10 || kernel:7.3'`.
// Environment: BPFMATRIX_REGISTRY (a registry file instead of the built-in one), BPFMATRIX_KFUNCS
// (a kfunc file instead of the built-in one),
// BPFMATRIX_KERNELS_FILE (default ../kernels.yaml), BPFMATRIX_OUT (default: a new temporary
// directory, named at the end; `make matrix` sets it to out/),
// BPFMATRIX_OFFLINE=1, BPFMATRIX_REFRESH=1 (ignore cached observations), BPFMATRIX_QEMU,
// BPFMATRIX_PARALLEL, BPFMATRIX_TIMEOUT (per guest, a Go duration; default that of the
// architecture's guests), BPFMATRIX_ARCH (amd64, the default, or arm64: the kernels' builds to
// boot, on BPFMATRIX_QEMU_ARM64 for arm64; `make matrix ARCH=arm64` sets it), BPFMATRIX_ARCHDIFFS
// (an archdiffs file instead of the built-in one: the answers of arm64 kernels expected instead
// of the registry's, verdict.ArchExpectation). Containers stay labelled kernel:<name>.
package suites

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/chromium"
	"github.com/bpfmatrix/bpfmatrix/internal/kfunctags"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/registry/foreign"
	"github.com/bpfmatrix/bpfmatrix/report"
	"github.com/bpfmatrix/bpfmatrix/verdict"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// settings are read once, before the spec tree is built.
type settings struct {
	registry    *registry.Registry
	provenance  *foreign.Provenance // how a foreign table's entries were written; nil for ours
	kfuncs      *registry.Kfuncs
	kernelsFile string
	kernels     []string // every kernel of kernels.yaml, in file order
	out         string
	offline     bool
	refresh     bool
	harness     harness.Config
	// arch is the architecture of the builds to boot and judge; archDiffs the recorded answers
	// in which its kernels differ from amd64's.
	arch      observation.Arch
	archDiffs *registry.ArchDiffs
}

var cfg settings

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// tableFromEnv loads the table the environment variable name points to, or the built-in one
// when it is unset.
func tableFromEnv[T any](name string, load func(string) (T, error), builtin func() (T, error)) (T, error) {
	if path := os.Getenv(name); path != "" {
		return load(path)
	}
	return builtin()
}

func loadSettings() (settings, error) {
	s := settings{
		kernelsFile: env("BPFMATRIX_KERNELS_FILE", filepath.Join("..", "kernels.yaml")),
		out:         os.Getenv("BPFMATRIX_OUT"),
		offline:     os.Getenv("BPFMATRIX_OFFLINE") == "1",
		refresh:     os.Getenv("BPFMATRIX_REFRESH") == "1",
		harness:     harness.DefaultConfig(),
	}
	var err error
	if s.out == "" {
		// A test run must leave the checkout as it found it.
		if s.out, err = os.MkdirTemp("", "bpfmatrix-matrix-"); err != nil {
			return s, err
		}
	}
	if path := os.Getenv("BPFMATRIX_REGISTRY"); path != "" {
		s.registry, s.provenance, err = foreign.LoadTable(path)
	} else {
		s.registry, err = registry.Default()
	}
	if err != nil {
		return s, err
	}
	if s.kfuncs, err = tableFromEnv("BPFMATRIX_KFUNCS", registry.LoadKfuncs, registry.DefaultKfuncs); err != nil {
		return s, err
	}
	if err := s.readArch(); err != nil {
		return s, err
	}
	kc, err := vmimages.LoadConfig(s.kernelsFile)
	if err != nil {
		return s, err
	}
	entries, err := kc.SelectArch(s.arch, nil)
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		s.kernels = append(s.kernels, e.Name)
	}
	s.harness.QEMU = env("BPFMATRIX_QEMU", s.harness.QEMU)
	s.harness.QEMUARM64 = env("BPFMATRIX_QEMU_ARM64", s.harness.QEMUARM64)
	s.harness.Timeout = harness.DefaultTimeout(s.arch)
	if p := os.Getenv("BPFMATRIX_PARALLEL"); p != "" {
		if s.harness.Parallel, err = strconv.Atoi(p); err != nil || s.harness.Parallel < 1 {
			return s, fmt.Errorf("BPFMATRIX_PARALLEL=%q: want a positive number", p)
		}
	}
	if t := os.Getenv("BPFMATRIX_TIMEOUT"); t != "" {
		if s.harness.Timeout, err = time.ParseDuration(t); err != nil {
			return s, fmt.Errorf("BPFMATRIX_TIMEOUT: %w", err)
		}
	}
	return s, nil
}

// readArch reads BPFMATRIX_ARCH (amd64 when unset) and the table of architecture differences.
func (s *settings) readArch() error {
	s.arch = observation.DefaultArch
	if w := os.Getenv("BPFMATRIX_ARCH"); w != "" {
		a, err := observation.ParseArch(w)
		if err != nil {
			return fmt.Errorf("BPFMATRIX_ARCH: %w", err)
		}
		s.arch = a
	}
	var err error
	s.archDiffs, err = tableFromEnv("BPFMATRIX_ARCHDIFFS", registry.LoadArchDiffs, registry.DefaultArchDiffs)
	return err
}

// judged is k as the verdicts judge it: with the answers recorded for its architecture and
// release expected instead of the registry's (none for amd64, whose Arch is empty).
func judged(k report.Kernel) report.Kernel {
	k.Expect = verdict.ArchExpectation(cfg.archDiffs, k.Version, k.Arch)
	return k
}

func TestMatrix(t *testing.T) {
	var err error
	if cfg, err = loadSettings(); err != nil {
		t.Fatal(err)
	}
	RegisterFailHandler(Fail)
	for _, name := range cfg.kernels {
		describeKernel(name)
	}
	RunSpecs(t, "bpfmatrix kernel matrix")
}

func kernelLabel(name string) string { return "kernel:" + name }

// selectedKernels are the kernels whose containers the label filter keeps: only they boot.
func selectedKernels() []string {
	filter := GinkgoLabelFilter()
	var out []string
	for _, k := range cfg.kernels {
		if filter == "" || Label(kernelLabel(k)).MatchesLabelFilter(filter) {
			out = append(out, k)
		}
	}
	return out
}

func observationsDir() string { return filepath.Join(cfg.out, "observations") }

// The guests boot once, in the first parallel process, all through one harness pool; every
// process then reads the per-kernel files.
// logEvent prints the run's steps, one plain line each.
var logEvent = observe.LineLogger(os.Stderr)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) {
	kernels := selectedKernels()
	if len(kernels) == 0 {
		return
	}
	// Files of kernels not run this time would mix old results into the report.
	Expect(os.RemoveAll(observationsDir())).To(Succeed())
	obs, err := observe.Run(ctx, observe.Options{
		KernelsFile: cfg.kernelsFile,
		Kernels:     kernels,
		Arch:        cfg.arch,
		Offline:     cfg.offline,
		Refresh:     cfg.refresh,
		Harness:     cfg.harness,
		// Straight to stderr: Ginkgo holds GinkgoWriter back until a spec fails, and a cold
		// run spends minutes fetching and booting before the first spec. A finished kernel is
		// prepared for its container at once, beside the guests still running.
		OnEvent: func(e observe.Event) {
			logEvent(e)
			if e.Phase == observe.PhaseDone && e.Observation != nil {
				startPrepare(e.Observation.Name, e.Observation.Doc)
			}
		},
	})
	Expect(err).NotTo(HaveOccurred(), "observing kernels %s", strings.Join(kernels, ", "))
	_, err = observe.WriteDir(observationsDir(), obs)
	Expect(err).NotTo(HaveOccurred())
	startReport(obs)
	for _, o := range obs {
		how := "booted"
		if o.Cached {
			how = "from cache"
		}
		if o.Failed {
			how = "FAILED"
		}
		fmt.Fprintf(GinkgoWriter, "kernel %s: %s\n", o.Label(), how)
	}
}, func() {}, NodeTimeout(90*time.Minute))

// describeKernel declares one kernel's container: its observations are read once, a failed
// kernel fails the container (with its console tail) instead of 211 entries, and each helper is
// an entry.
func describeKernel(name string) {
	Describe("kernel "+name, Ordered, ContinueOnFailure, Label(kernelLabel(name)), func() {
		var k report.Kernel
		var verdicts map[int]verdict.HelperVerdict
		var kfuncVerdicts map[string]verdict.KfuncVerdict
		var tagged []string
		var tagsErr error
		pointVerdicts := map[string]verdict.PointVerdict{} // by "function at key"

		BeforeAll(func() {
			p := prepared(name)
			Expect(p.err).NotTo(HaveOccurred())
			k, verdicts, kfuncVerdicts, tagged, tagsErr = p.k, p.verdicts, p.kfuncVerdicts, p.tagged, p.tagsErr
			if k.Failed {
				Fail(fmt.Sprintf("kernel %s failed: %s\nconsole tail:\n%s", name, k.Error, k.ConsoleTail))
			}
			for _, hv := range verdicts {
				for _, pv := range hv.AttachPoints {
					pointVerdicts["bpf_"+hv.Name+" at "+pv.Key] = pv
				}
			}
			for _, kv := range kfuncVerdicts {
				for _, pv := range kv.AttachPoints {
					pointVerdicts[kv.Name+" at "+pv.Key] = pv
				}
			}
		})

		It("vmlinux kfuncs in the observation equal the image's bpf_kfunc tags", func() {
			checkKfuncTags(k, tagged, tagsErr)
		})

		var entries []TableEntry
		for _, h := range cfg.registry.Helpers() {
			entries = append(entries, Entry(fmt.Sprintf("bpf_%s (id %d)", h.Name, h.ID), h))
		}
		DescribeTable("does what the registry claims", func(h *registry.Helper) {
			hv, ok := verdicts[h.ID]
			Expect(ok).To(BeTrue())
			problems := kernelProblems(h, hv, k)
			if len(problems) > 0 {
				Fail(strings.Join(problems, "\n"))
			}
		}, entries)

		describePoints(name, pointVerdicts)

		var kfuncEntries []TableEntry
		for _, kf := range cfg.kfuncs.All() {
			kfuncEntries = append(kfuncEntries, Entry(kf.Name, kf))
		}
		if len(kfuncEntries) == 0 {
			return
		}
		DescribeTable("kfuncs do what kfuncs.yaml claims", func(kf *registry.Kfunc) {
			kv, ok := kfuncVerdicts[kf.Name]
			Expect(ok).To(BeTrue())
			var problems []string
			for _, f := range kv.Findings {
				problems = append(problems, fmt.Sprintf("%s on kernel %s (%s): %s", kf.Name, k.Name, k.Version, f))
			}
			if len(problems) > 0 {
				Fail(strings.Join(problems, "\n"))
			}
		}, kfuncEntries)
	})
}

// describePoints declares one entry per attach point claim of either table (a JUnit testcase
// each): it fails when the kernel's variants at the attach point contradict the claim.
func describePoints(kernel string, verdicts map[string]verdict.PointVerdict) {
	var entries []TableEntry
	for _, h := range cfg.registry.Helpers() {
		for _, key := range slices.Sorted(maps.Keys(h.AttachPoints)) {
			claim := "bpf_" + h.Name + " at " + key
			entries = append(entries, Entry(claim, claim))
		}
	}
	for _, kf := range cfg.kfuncs.All() {
		for _, key := range slices.Sorted(maps.Keys(kf.AttachPoints)) {
			claim := kf.Name + " at " + key
			entries = append(entries, Entry(claim, claim))
		}
	}
	if len(entries) == 0 {
		return
	}
	DescribeTable("attach points do what the registry claims", func(claim string) {
		pv, ok := verdicts[claim]
		Expect(ok).To(BeTrue(), "no verdict for %s", claim)
		if pv.Verdict == verdict.Contradicted {
			Fail(fmt.Sprintf("%s on kernel %s: %s", claim, kernel, pv.Reason))
		}
	}, entries)
}

// kernelProblems lists, one sentence each, every way one kernel disagrees with a registry entry:
// helper, program type, kernel, what the registry declares, what the kernel said and its line.
func kernelProblems(h *registry.Helper, hv verdict.HelperVerdict, k report.Kernel) []string {
	var out []string
	say := func(progType string, c verdict.Cell, declared string) {
		observed := string(c.State)
		if len(c.Conditions) > 0 {
			observed += " (" + strings.Join(c.Conditions, ", ") + ")"
		}
		out = append(out, fmt.Sprintf("bpf_%s in %s on kernel %s (%s): registry declares %s, kernel answered %s: %s",
			h.Name, progType, k.Name, k.Version, declared, observed, c.Detail))
	}
	if c := hv.Existence.Cells[0]; c.Contradicts() {
		declared := fmt.Sprintf("the helper exists from %s", h.MinKernel)
		say("any program type", c, declared)
	}
	for _, tv := range hv.Types {
		c := tv.Cells[0]
		if !c.Contradicts() {
			continue
		}
		declared := "not offered"
		if c.Declared {
			declared = "offered"
		}
		if !tv.Declared {
			declared += " (type missing from prog_types)"
		}
		say(tv.ProgType, c, declared)
	}
	if hv.GPL != nil && hv.GPL.Verdict == verdict.Contradicted {
		out = append(out, fmt.Sprintf("bpf_%s on kernel %s: gpl_only %s", h.Name, k.Name, hv.GPL.Evidence))
	}
	return out
}

// checkKfuncTags holds the guest agent's kfunc discovery against the BTF of the image the guest
// booted, read on the host by code that shares none of the agent's (see preparedKernel): the
// vmlinux kfuncs observed must be exactly the FUNCs the image tags bpf_kfunc (tagged, or why
// they could not be read). Module kfuncs come from module BTF, not vmlinux's: they are reported
// apart, not compared.
func checkKfuncTags(k report.Kernel, tagged []string, tagsErr error) {
	Expect(tagsErr).NotTo(HaveOccurred(), "kernel %s: the BTF of its image", k.Name)
	if len(tagged) == 0 {
		Skip(fmt.Sprintf("kernel %s: its image's BTF predates the %s tag; its %d kfuncs were found by known name",
			k.Name, kfunctags.Tag, len(k.Facts.Kfuncs)))
	}
	observed := make([]kfunctags.Observed, len(k.Facts.Kfuncs))
	for i, kf := range k.Facts.Kfuncs {
		observed[i] = kfunctags.Observed{Name: kf.Name, Module: kf.Module}
	}
	d := kfunctags.Compare(tagged, observed)
	modules := "none"
	if len(d.Modules) > 0 {
		modules = fmt.Sprintf("%d: %s", len(d.Modules), strings.Join(d.Modules, ", "))
	}
	AddReportEntry("kfunc tags", fmt.Sprintf("kernel %s: %d vmlinux kfuncs tagged in the image; module kfuncs (not compared): %s",
		k.Name, len(tagged), modules))
	var problems []string
	if len(d.OnlyImage) > 0 {
		problems = append(problems, fmt.Sprintf("kernel %s: %d kfuncs tagged in the image but not in the observation: %s",
			k.Name, len(d.OnlyImage), strings.Join(d.OnlyImage, ", ")))
	}
	if len(d.OnlyObserved) > 0 {
		problems = append(problems, fmt.Sprintf("kernel %s: %d vmlinux kfuncs in the observation but not tagged in the image: %s",
			k.Name, len(d.OnlyObserved), strings.Join(d.OnlyObserved, ", ")))
	}
	if len(problems) > 0 {
		Fail(strings.Join(problems, "\n"))
	}
}

// The report covers the kernels this run observed: it is written even when specs failed, since
// a contradiction is exactly what it must show. It is built from the observation files, not
// from the specs' outcomes, so the suite starts writing it as soon as the files are there
// (see startReport) and the specs run beside it.
var _ = ReportAfterSuite("compatibility report", func(r Report) {
	if reporting.done == nil {
		startReport(nil)
	}
	<-reporting.done
	if reporting.rep != nil {
		printReport(reporting.rep, reporting.paths)
	}
	Expect(reporting.err).NotTo(HaveOccurred(), "writing the report")
})

// reporting is the report being written beside the specs.
var reporting struct {
	done  chan struct{}
	rep   *report.Report
	paths []string
	err   error
}

// startReport starts writing the report files from obs, the observations this run wrote, or
// (nil) from the observation files.
func startReport(obs []observe.Observation) {
	reporting.done = make(chan struct{})
	go func() {
		defer close(reporting.done)
		reporting.rep, reporting.paths, reporting.err = writeReport(obs)
	}()
}

// writeReport builds the report of the kernels observed (obs, else the observations directory's)
// and writes its files (and a screenshot of the HTML page when Chromium is there); nil without
// observations.
func writeReport(obs []observe.Observation) (*report.Report, []string, error) {
	if obs == nil {
		if _, err := os.Stat(observationsDir()); err != nil {
			return nil, nil, nil
		}
		var err error
		if obs, err = observe.ReadDir(observationsDir()); err != nil {
			fmt.Fprintf(os.Stderr, "report: %v\n", err)
		}
	}
	var kernels []report.Kernel
	for _, o := range obs {
		k, err := report.FromDocument(o.Name, "kernel "+o.Name, o.Doc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "report: %v\n", err)
			continue
		}
		kernels = append(kernels, judged(k))
	}
	if len(kernels) == 0 {
		return nil, nil, nil
	}
	rep := report.Build(cfg.registry, cfg.provenance, kernels, "bpfmatrix matrix suite")
	if cfg.kfuncs.Len() > 0 {
		rep.AddKfuncs(cfg.kfuncs, kernels)
	}
	paths, err := rep.WriteFiles(cfg.out)
	if err != nil {
		return rep, paths, err
	}
	png := filepath.Join(cfg.out, "report.png")
	if err := chromium.Screenshot(context.Background(), filepath.Join(cfg.out, "report.html"), "", png); err == nil {
		paths = append(paths, png)
	} else {
		fmt.Fprintf(os.Stderr, "report: no screenshot: %v\n", err)
	}
	return rep, paths, nil
}

// printReport prints the report's summary and the paths of its files.
func printReport(rep *report.Report, paths []string) {
	fmt.Fprintln(os.Stderr)
	for _, k := range rep.Kernels {
		line := fmt.Sprintf("kernel %-6s %-9s %-6s helpers known %3d, unknown ids %3d", k.Name, k.Version, k.Status, k.HelpersKnown, k.HelpersUnknown)
		if k.Error != "" {
			line += ": " + strings.SplitN(k.Error, "\n", 2)[0]
		}
		fmt.Fprintln(os.Stderr, line)
	}
	var words []string
	for _, w := range []verdict.Word{verdict.Confirmed, verdict.Interval, verdict.Consistent, verdict.Withdrawn, verdict.NoEvidence, verdict.Contradicted} {
		words = append(words, fmt.Sprintf("%s %d", w, rep.Summary.Verdicts[w]))
	}
	fmt.Fprintf(os.Stderr, "verdicts: %s\n", strings.Join(words, ", "))
	for _, name := range rep.Summary.Contradicted {
		fmt.Fprintf(os.Stderr, "contradicted: %s\n", name)
	}
	fmt.Fprintf(os.Stderr, "bpfmatrix: %d kernel(s), %d helpers: %d contradicted, %d failed kernel(s)\n",
		len(rep.Kernels), rep.Registry.Helpers, len(rep.Summary.Contradicted), len(rep.Summary.FailedKernels))
	if s := rep.Summary.Kfuncs; s != nil {
		fmt.Fprintf(os.Stderr, "bpfmatrix: %d kfuncs: %d contradicted\n", s.Registry.Helpers, len(s.Contradicted))
		for _, name := range s.Contradicted {
			fmt.Fprintf(os.Stderr, "contradicted kfunc: %s\n", name)
		}
	}
	for _, p := range paths {
		abs, _ := filepath.Abs(p)
		fmt.Fprintf(os.Stderr, "  %s\n", abs)
	}
}
