package probe

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmatrix/bpfmatrix/probe/verifierlog"
)

// goldenLog is one file of testdata/verifier-logs: the whole verifier log of one real load.
type goldenLog struct {
	file   string
	kernel string // the directory: 5.10 ... 7.3, or host-<release>
	kind   string // the file name without .log
	errno  unix.Errno
	log    string // without the header lines
}

// goldenHeaderRE is the first header line of every golden log, helper (id=) or kfunc (kfunc=).
var goldenHeaderRE = regexp.MustCompile(`^# kernel=\S+ errno=(\d+) \([^)]*\) variant=\S+ (?:id=\d+|kfunc=\S+ btf_id=\d+) license=(?:GPL|MIT)$`)

// goldenLogs reads every golden log whose kind starts with prefix, failing on a bad header.
func goldenLogs(t testing.TB, prefix string) []goldenLog {
	t.Helper()
	files, err := filepath.Glob("testdata/verifier-logs/*/" + prefix + "*.log")
	if err != nil {
		t.Fatal(err)
	}
	var out []goldenLog
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(string(data), "\n")
		m := goldenHeaderRE.FindStringSubmatch(header)
		if m == nil {
			t.Fatalf("%s: bad header line %q", file, header)
		}
		errno, _ := strconv.Atoi(m[1])
		var log strings.Builder
		for line := range strings.Lines(string(data)) {
			if !strings.HasPrefix(line, "# ") {
				log.WriteString(line)
			}
		}
		out = append(out, goldenLog{file: file, kernel: filepath.Base(filepath.Dir(file)),
			kind: strings.TrimSuffix(filepath.Base(file), ".log"), errno: unix.Errno(errno), log: log.String()})
	}
	return out
}

// series is the kernel series a golden directory holds: "6.18" for host-6.18.44.
func series(dir string) string {
	dir = strings.TrimPrefix(dir, "host-")
	if parts := strings.SplitN(dir, ".", 3); len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return dir
}

// seriesLess orders kernel series by version: 5.10 before 6.1 before 6.12.
func seriesLess(a, b string) int {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := range 2 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return 0
}

// messageRows returns the grammar's rows that match line word for word (shapes left out).
func messageRows(line string) []string {
	var names []string
	for _, r := range verifierlog.Rows() {
		if !r.Shape && r.Match(line) {
			names = append(names, r.Name)
		}
	}
	return names
}

// sourceWordings are the messages of the grammar's rows no golden log shows yet, as the kernel
// source prints them, after the probe's call.
var sourceWordings = []string{
	"kernel function btf_id 1234 does not have a valid func_proto",
	"destructive kfunc calls require CAP_SYS_BOOT capability",
	"calling kernel functions are not allowed in non-JITed programs",
	"JIT does not support calling kfunc bpf_throw#1234",
	"bpf_obj_new/bpf_percpu_obj_new type ID argument must be of a struct",
	"R1 must be referenced or trusted",
	"R1 must be referenced",
	"R1 must be a rcu pointer",
	"release kernel function bpf_x expects refcounted PTR_TO_BTF_ID",
	"kfunc bpf_x#1234 reference has not been acquired before",
	"R1 is not a scalar",
	"R1 is not a pointer to arena or scalar.",
	"R2 must be a known constant",
	"Unrecognized arg#0 type PTR",
	"kernel function bpf_x args#0 expected pointer to STRUCT sock but R1 has a pointer to STRUCT task_struct",
	"expected uninitialized iter_task as arg #1",
	"kernel func bpf_x requires RCU critical section protection",
	"invalid access to map value, value_size=8 off=0 size=64",
	"invalid func unknown#195896080",
	"invalid func unknown#233750750",
	"attach_btf_id 1234 is not a function",
	"The address of function bpf_x cannot be found",
	"attach_btf_id 1234 points to wrong type name bpf_x",
	"Tracing programs must provide btf_id",
	"LSM programs must use GPL compatible license",
	"Global function pick() doesn't return scalar. Only those are supported.",
	"Global function pick() return value not void or scalar. Only those are supported.",
	"BPF_STX uses reserved fields",
	"struct flow_offload_tuple doesn't have field at offset 50",
	"number of funcs in func_info doesn't match number of subprogs",
	"back-edge from insn 3 to 1",
}

// TestGrammarGolden keeps the grammar honest against the real logs: every row is matched by a
// golden log (or, for a message no golden log shows yet, by its wording in the kernel source
// and by no golden log), its kernels are exactly those whose golden logs show it, and no
// message line of any golden log is matched word for word by two rows.
func TestGrammarGolden(t *testing.T) {
	seen := map[string][]string{} // row name -> kernel series whose logs it matches
	for _, g := range goldenLogs(t, "") {
		for _, line := range strings.Split(g.log, "\n") {
			line = strings.TrimRight(line, " \t\r")
			if names := messageRows(line); len(names) > 1 {
				t.Errorf("%s: %q matches rows %v: the grammar is ambiguous", g.file, line, names)
			}
			for _, r := range verifierlog.Rows() {
				if r.Match(line) && !slices.Contains(seen[r.Name], series(g.kernel)) {
					seen[r.Name] = append(seen[r.Name], series(g.kernel))
				}
			}
		}
	}
	for _, r := range verifierlog.Rows() {
		kernels := seen[r.Name]
		slices.SortFunc(kernels, seriesLess)
		switch {
		case r.Source != "" && len(kernels) > 0:
			t.Errorf("row %s: golden logs of %v show it: replace its Source by Since %s, Until %s", r.Name, kernels, kernels[0], kernels[len(kernels)-1])
		case r.Source != "" && !slices.ContainsFunc(sourceWordings, r.Match):
			t.Errorf("row %s: no golden log and no wording in sourceWordings: a dead row", r.Name)
		case r.Source == "" && len(kernels) == 0:
			t.Errorf("row %s: no golden log shows it: a dead row", r.Name)
		case r.Source == "" && (kernels[0] != r.Since || kernels[len(kernels)-1] != r.Until):
			t.Errorf("row %s: golden logs show it in %v, the row says %s..%s", r.Name, kernels, r.Since, r.Until)
		}
	}
}

// decidedBy checks that the line that decided a golden log's outcome is matched word for word
// by exactly the row that decided it, and that the row says the log's kernel says it.
func decidedBy(t *testing.T, g goldenLog, row *verifierlog.Row, line string) {
	t.Helper()
	if row == nil {
		return
	}
	if names := messageRows(line); !row.Shape && !slices.Equal(names, []string{row.Name}) {
		t.Errorf("decisive line %q matches rows %v, want exactly %s", line, names, row.Name)
	}
	if k := series(g.kernel); row.Source == "" && (seriesLess(k, row.Since) < 0 || seriesLess(k, row.Until) > 0) {
		t.Errorf("row %s decided a %s log, but says %s..%s", row.Name, k, row.Since, row.Until)
	}
}
