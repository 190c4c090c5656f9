package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/objload"
	"github.com/bpfmatrix/bpfmatrix/objverdict"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

func init() {
	register(&command{
		name:    "load",
		summary: "load every program of your BPF objects on the kernels and say, per program, where it loads and why not",
		run:     runLoad,
	})
}

const loadUsage = `usage: bpfmatrix load [--kernels 5.10,7.3] [--arch arm64] [--format text|json|md|junit] [--out DIR] [--static]
                      [--set [OBJECT:]PROG.target=FUNC] [--set [OBJECT:]MAP.max_entries=N] [--attach]
                      [flags] OBJ.o...

Boots each kernel of kernels.yaml (all, or those named) once, loads every program of every object
in it, each on its own with the maps it uses, and answers per (object, program, kernel): loaded,
or the cause (helper_unknown, helper_not_for_type, kfunc_unknown, kfunc_not_for_type, gpl_only,
prog_type, attach_target, core_relocation, map, btf, verifier, loader, kernel_failed, unknown)
with the line that decided it and the registries' explanation, then a summary line per program.
--static answers from the objects and the registries alone, without booting: whether what each
program calls is offered on each kernel (maps, CO-RE, attach targets and the verifier's walk are
settled only by a kernel). --set gives what a loader sets at run time (repeatable); --attach also
attaches each program whose section names a target. --out DIR also writes DIR/load.json,
DIR/load.md and DIR/load.xml (JUnit). Answers are cached per kernel image and object; without
--timeout a guest gets the default limit plus 2 s per program. --arch arm64 boots the arm64 builds
of the kernels (as bpfmatrix run --arch arm64 does) and names each kernel <name>-arm64 in the
answers; --static answers for amd64 only (the registries describe amd64 kernels).
Exit status: 0 every program loads on every kernel asked, 1 some program is refused or a kernel
failed, 2 bad input (a file that is no BPF object, an unknown kernel, a bad flag).
`

// loadFlags are load's flags.
type loadFlags struct {
	kernels, format, out *string
	static, attach       *bool
	set                  *[]string
	registry, kfuncs     *string
	gf                   *guestFlags
}

func addLoadFlags(fs *flag.FlagSet) *loadFlags {
	f := &loadFlags{
		kernels: fs.String("kernels", "", "comma-separated kernel names of kernels.yaml (default: all)"),
		format:  formatFlag(fs, "text", "json", "md", "junit"),
		out:     fs.String("out", "", "also write load.json, load.md and load.xml (JUnit) into this directory"),
		static:  fs.Bool("static", false, "answer from the objects and the registries alone, without booting"),
		attach:  fs.Bool("attach", false, "also attach each loaded program whose section names a target, then detach it"),
		set:     new([]string),
	}
	fs.Var(&settings{items: f.set}, "set", "a run-time setting: [OBJECT:]PROG.target=FUNC or [OBJECT:]MAP.max_entries=N (repeatable)")
	f.registry, f.kfuncs = registryFlag(fs), kfuncsFlag(fs)
	f.gf = addGuestFlags(fs)
	f.gf.addArch(fs)
	return f
}

// settings is the repeatable --set flag; each word is checked as it is given.
type settings struct{ items *[]string }

func (s *settings) String() string {
	if s.items == nil {
		return ""
	}
	return strings.Join(*s.items, " ")
}

func (s *settings) Set(v string) error {
	if err := checkSetting(v); err != nil {
		return err
	}
	*s.items = append(*s.items, v)
	return nil
}

// checkSetting checks a --set word with the loader's own parser, so that a word the guest would
// refuse is bad input here, before anything boots.
func checkSetting(s string) error {
	_, err := objload.ParseSetting(s)
	return err
}

func runLoad(args []string, stdout, stderr io.Writer) int {
	c := cmdline{"load", loadUsage}
	f, paths, code := parseWith(c, addLoadFlags, -1, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(paths) == 0 {
		return c.fail(stderr, errors.New("no object named; see bpfmatrix load --help"))
	}
	objs, inputs, err := readObjects(paths)
	if err != nil {
		return c.fail(stderr, err)
	}
	regs, err := loadRegistries(*f.registry, *f.kfuncs)
	if err != nil {
		return c.fail(stderr, err)
	}
	var kernels []string
	var answers []objverdict.Answer
	if *f.static {
		kernels, answers, err = staticAnswers(f, objs, inputs, regs)
		if err != nil {
			return c.fail(stderr, err)
		}
	} else {
		if kernels, code = bootedKernelNames(c, f, stderr); code >= 0 {
			return code
		}
		if kernels, answers, err = bootedAnswers(f, kernels, objs, inputs, regs, stderr); err != nil {
			c.say(stderr, err)
			return exitNo
		}
	}
	return writeLoadReport(c, f, objverdict.NewReport(kernels, answers), stdout, stderr)
}

// loadRegistries reads the helper registry and the kfunc table (the built-in ones for "").
func loadRegistries(helpersPath, kfuncsPath string) (objverdict.Registries, error) {
	h, _, err := loadRegistry(helpersPath)
	if err != nil {
		return objverdict.Registries{}, err
	}
	k, err := loadKfuncs(kfuncsPath)
	if err != nil {
		return objverdict.Registries{}, err
	}
	return objverdict.Registries{Helpers: h, Kfuncs: k}, nil
}

// readObjects reads every object named. A file that is missing, no regular file, too large, not
// an ELF or an ELF for another machine is bad input, named with the reason; an object that
// cilium/ebpf's loader refuses is not (its programs are answered `loader`). Each object's name
// in the guests is its base name, made unique when two share one.
func readObjects(paths []string) ([]*bpfobj.Object, []loadInput, error) {
	var objs []*bpfobj.Object
	var inputs []loadInput
	names := map[string]bool{}
	for i, p := range paths {
		obj, err := bpfobj.Read(p)
		if err != nil {
			return nil, nil, err
		}
		in := loadInput{Path: p, Name: filepath.Base(p), SHA256: obj.SHA256, Programs: len(obj.Programs)}
		for _, prev := range inputs {
			if prev.Path == p {
				return nil, nil, fmt.Errorf("%s: named twice", p)
			}
		}
		if names[in.Name] {
			in.Name = fmt.Sprintf("%d-%s", i+1, in.Name)
		}
		names[in.Name] = true
		objs, inputs = append(objs, obj), append(inputs, in)
	}
	return objs, inputs, nil
}

// staticAnswers answers every program of objs on the kernels --kernels names from the
// registries. A kernel's release is its pin in the kernels file's lock; a kernel without a pin
// is asked about as the series its name gives (Debian entries are named by series).
func staticAnswers(f *loadFlags, objs []*bpfobj.Object, inputs []loadInput, regs objverdict.Registries) ([]string, []objverdict.Answer, error) {
	opts, err := f.gf.guestOptions(*f.kernels)
	if err != nil {
		return nil, nil, err
	}
	if opts.Arch != observation.DefaultArch {
		// The registries' answers are amd64 kernels'; saying them of arm64 would be a guess.
		return nil, nil, fmt.Errorf("--static answers for amd64 kernels only, not --arch %s: boot the %s builds (without --static)", opts.Arch, opts.Arch)
	}
	cfg, err := vmimages.LoadConfig(opts.KernelsFile)
	if err != nil {
		return nil, nil, err
	}
	entries, err := cfg.Select(opts.Kernels)
	if err != nil {
		return nil, nil, err
	}
	lock, err := vmimages.LoadLock(cfg.LockPath())
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var ks []objverdict.Kernel
	for _, e := range entries {
		k := objverdict.Kernel{Name: e.Name}
		if pin := lock.Find(e.Name); pin != nil && pin.Source == e.Source.Spec() {
			k.Version = pin.Version
		}
		names, ks = append(names, e.Name), append(ks, k)
	}
	var answers []objverdict.Answer
	for i, obj := range objs {
		answers = append(answers, objverdict.StaticObject(obj, inputs[i].Path, ks, regs)...)
	}
	return names, answers, nil
}

// bootedKernelNames checks the guest flags and the kernels named, before anything boots: an
// unknown kernel or a missing QEMU is bad input.
func bootedKernelNames(c cmdline, f *loadFlags, stderr io.Writer) ([]string, int) {
	opts, err := f.gf.options(*f.kernels)
	if err == nil {
		err = lookQEMUFor(opts)
	}
	var names []string
	if err == nil {
		names, err = opts.Select()
	}
	if err != nil {
		return nil, c.fail(stderr, err)
	}
	return names, -1
}

// writeLoadReport prints the report in --format, writes --out's files and returns load's exit
// code.
func writeLoadReport(c cmdline, f *loadFlags, rep *objverdict.Report, stdout, stderr io.Writer) int {
	var code int
	switch *f.format {
	case "json":
		code = writeJSON(stdout, stderr, rep)
	case "md":
		code = writeOrSay(c, stderr, rep.WriteMarkdown(escapeControls(stdout)))
	case "junit":
		code = writeOrSay(c, stderr, rep.WriteJUnit(stdout))
	default:
		code = writeOrSay(c, stderr, rep.WriteText(escapeControls(stdout)))
	}
	if *f.out != "" {
		if err := writeLoadFiles(*f.out, rep); err != nil {
			c.say(stderr, fmt.Errorf("--out: %w", err))
			code = exitNo
		}
	}
	if code == exitOK && !rep.AllLoaded() {
		code = exitNo
	}
	return code
}

// writeOrSay turns a renderer's error into load's exit code; a failed write of standard output is
// said by dispatch.
func writeOrSay(c cmdline, stderr io.Writer, err error) int {
	var oe *outputError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &oe):
		return exitNo
	}
	c.say(stderr, err)
	return exitNo
}

// writeLoadFiles writes the report into dir as load.json, load.md and load.xml, each atomically.
func writeLoadFiles(dir string, rep *objverdict.Report) error {
	if err := files.MakeDir(dir); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"load.json": rep.WriteJSON, "load.md": rep.WriteMarkdown, "load.xml": rep.WriteJUnit,
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			return err
		}
		if err := files.WriteAtomic(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// bootedAnswers boots the kernels with every object and turns what each guest said into answers:
// calls from the ELF, refusals explained, a failed kernel's programs answered kernel_failed, a
// program a guest gave no answer for answered unknown (never dropped). It returns the kernels'
// labels (kernelAnswers) in the order booted, with the answers.
func bootedAnswers(f *loadFlags, kernels []string, objs []*bpfobj.Object, inputs []loadInput, regs objverdict.Registries, stderr io.Writer) ([]string, []objverdict.Answer, error) {
	ctx, stop := signalContext()
	defer stop()
	booted, err := bootLoads(ctx, f.gf, kernels, inputs, *f.set, *f.attach, stderr)
	if err != nil {
		return nil, nil, err
	}
	var labels []string
	var answers []objverdict.Answer
	for _, o := range booted {
		labels = append(labels, observation.KernelLabel(o.Name, o.Image.Arch))
		answers = append(answers, kernelAnswers(o, objs, inputs, regs)...)
	}
	return labels, answers, nil
}

// kernelAnswers are one kernel's answers for every program of every object.
// A failed kernel keeps the answers it had from the cache; its other programs are kernel_failed.
// The kernel is named by its label (observation.KernelLabel): its name for amd64, as before,
// <name>-arm64 for an arm64 build, so that answers of two architectures never pass for one.
func kernelAnswers(o observe.LoadObservation, objs []*bpfobj.Object, inputs []loadInput, regs objverdict.Registries) []objverdict.Answer {
	k := objverdict.Kernel{Name: observation.KernelLabel(o.Name, o.Image.Arch), Version: o.Image.Version}
	why := "the guest failed"
	if o.Guest != nil && o.Guest.Error != "" {
		why = o.Guest.Error
	}
	said := map[string]observation.ProgramLoad{}
	for _, pl := range o.Loads {
		said[pl.Object+"\x00"+pl.Program+"\x00"+pl.Section] = pl
	}
	var out []objverdict.Answer
	for i, obj := range objs {
		for _, prog := range obj.Programs {
			pl, ok := said[inputs[i].Name+"\x00"+prog.Name+"\x00"+prog.Section]
			var a objverdict.Answer
			switch {
			case !ok && o.Failed:
				a = objverdict.KernelFailed(inputs[i].Path, prog, k, why)
			case !ok:
				pl = observation.ProgramLoad{Program: prog.Name, Section: prog.Section, Cause: observation.CauseUnknown,
					Reason: "the guest of kernel " + k.Name + " gave no answer for this program"}
				a = objverdict.FromLoad(pl, k, prog, regs)
			default:
				a = objverdict.FromLoad(pl, k, prog, regs)
			}
			a.Object = inputs[i].Path
			out = append(out, a)
		}
	}
	return out
}
