package kernelsrc

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The extract is a text file, one fact a line, fields split by single spaces, "-" for an
// empty field, and an optional "if GUARD" to the end of the line:
//
//	package linux-source-6.12
//	debian-version 6.12.118-1
//	kernel 6.12.118
//	hook BPF_PROG_TYPE_XDP BTF_KFUNC_HOOK_XDP
//	default-hook BTF_KFUNC_HOOK_MAX
//	set kernel/bpf/helpers.c:3087 generic_btf_ids
//	  kfunc 3089 crash_kexec KF_DESTRUCTIVE if CONFIG_CRASH_DUMP
//	  kfunc 3091 bpf_obj_new_impl KF_ACQUIRE|KF_RET_NULL
//	idset kernel/bpf/helpers.c:3118 generic_kfunc_set generic_btf_ids THIS_MODULE -
//	register kernel/bpf/helpers.c:3194 BPF_PROG_TYPE_TRACING generic_kfunc_set
//
// The kfunc lines belong to the set line above them; the idset fields after the name are the
// set, the owner and the filter. Lines starting with # are comments.

// WriteExtract writes s as an extract; header lines are written first as comments.
func (s *Source) WriteExtract(w io.Writer, header ...string) error {
	b := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintf(b, "# %s\n", h)
	}
	fmt.Fprintf(b, "package %s\ndebian-version %s\nkernel %s\n", dash(s.Package), dash(s.DebianVersion), dash(s.Kernel))
	for _, h := range s.Hooks {
		fmt.Fprintf(b, "hook %s %s\n", h.ProgType, h.Hook)
	}
	fmt.Fprintf(b, "default-hook %s\n", dash(s.DefaultHook))
	for _, set := range s.Sets {
		fmt.Fprintf(b, "set %s:%d %s\n", set.File, set.Line, set.Name)
		for _, e := range set.Kfuncs {
			fmt.Fprintf(b, "  kfunc %d %s %s%s\n", e.Line, e.Name, dash(strings.Join(e.Flags, "|")), ifGuard(e.Guard))
		}
	}
	for _, d := range s.IDSets {
		fmt.Fprintf(b, "idset %s:%d %s %s %s %s%s\n", d.File, d.Line, d.Name, d.Set, dash(d.Owner), dash(d.Filter), ifGuard(d.Guard))
	}
	for _, r := range s.Registrations {
		fmt.Fprintf(b, "register %s:%d %s %s%s\n", r.File, r.Line, r.ProgType, r.IDSet, ifGuard(r.Guard))
	}
	return b.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func ifGuard(g Guard) string {
	if g == "" {
		return ""
	}
	return " if " + string(g)
}

// ReadExtract reads an extract written by WriteExtract; name starts every error. It is
// strict: an unknown line, a field missing or too many, a kfunc line before any set, or a
// reference that names nothing is an error.
func ReadExtract(name string, r io.Reader) (*Source, error) {
	s := &Source{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := s.readLine(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(s.Hooks) == 0 {
		return nil, fmt.Errorf("%s: no hook lines", name)
	}
	if _, err := s.resolve(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func (s *Source) readLine(line string) error {
	body, guard, _ := strings.Cut(line, " if ")
	f := strings.Split(body, " ")
	want := map[string]int{"package": 2, "debian-version": 2, "kernel": 2, "hook": 3, "default-hook": 2, "set": 3, "kfunc": 4, "idset": 6, "register": 4}
	n, ok := want[f[0]]
	if !ok {
		return fmt.Errorf("unknown line %q", f[0])
	}
	if len(f) != n {
		return fmt.Errorf("%s line: %d fields, want %d", f[0], len(f), n)
	}
	if guard != "" && f[0] != "kfunc" && f[0] != "idset" && f[0] != "register" {
		return fmt.Errorf("%s line: no guard expected", f[0])
	}
	g := Guard(strings.TrimSpace(guard))
	switch f[0] {
	case "package":
		s.Package = undash(f[1])
	case "debian-version":
		s.DebianVersion = undash(f[1])
	case "kernel":
		s.Kernel = undash(f[1])
	case "hook":
		s.Hooks = append(s.Hooks, Hook{ProgType: f[1], Hook: f[2]})
	case "default-hook":
		s.DefaultHook = undash(f[1])
	case "set":
		file, at, err := place(f[1])
		if err != nil {
			return err
		}
		s.Sets = append(s.Sets, Set{Name: f[2], File: file, Line: at})
	case "kfunc":
		if len(s.Sets) == 0 {
			return fmt.Errorf("kfunc %s before any set", f[2])
		}
		at, err := strconv.Atoi(f[1])
		if err != nil {
			return fmt.Errorf("kfunc %s: line %q", f[2], f[1])
		}
		e := Entry{Name: f[2], Line: at, Guard: g}
		if fl := undash(f[3]); fl != "" {
			e.Flags = strings.Split(fl, "|")
		}
		set := &s.Sets[len(s.Sets)-1]
		set.Kfuncs = append(set.Kfuncs, e)
	case "idset":
		file, at, err := place(f[1])
		if err != nil {
			return err
		}
		s.IDSets = append(s.IDSets, IDSet{Name: f[2], File: file, Line: at, Set: f[3], Owner: undash(f[4]), Filter: undash(f[5]), Guard: g})
	case "register":
		file, at, err := place(f[1])
		if err != nil {
			return err
		}
		s.Registrations = append(s.Registrations, Registration{File: file, Line: at, ProgType: f[2], IDSet: f[3], Guard: g})
	}
	return nil
}

// place splits "kernel/bpf/helpers.c:3087".
func place(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("%q: want file:line", s)
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n <= 0 {
		return "", 0, fmt.Errorf("%q: want file:line", s)
	}
	return s[:i], n, nil
}
