package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"

	"github.com/bpfmatrix/bpfmatrix/registry"
	"github.com/bpfmatrix/bpfmatrix/verdict"
)

func testRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := registry.Load(filepath.Join("..", "registry", "testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func obs(name, version string, results ...observation.Result) Kernel {
	return Kernel{Kernel: verdict.Kernel{Name: name, Version: registry.MustParseVersion(version), Results: results}, ImageFacts: ImageFacts{SHA256: strings.Repeat("ab", 32), Package: "linux-image-" + version}}
}

func res(id int, progType, outcome, detail string) observation.Result {
	return observation.Result{HelperID: id, ProgType: progType, Variant: progType, Outcome: observation.Outcome(outcome), Detail: detail}
}

func sample(t *testing.T) *Report {
	reg := testRegistry(t)
	evil := `<script>alert("kernel")</script> R1 type=ctx expected=fp`
	k1 := obs("5.10", "5.10.223",
		res(5, "xdp", "supported", "processed 3 insns"),
		res(192, "sched_cls", "unknown_id", "invalid func unknown#192"),
		res(4, "socket_filter", "supported", evil))
	k2 := obs("6.1", "6.1.192",
		res(5, "xdp", "supported", "processed 3 insns"),
		res(192, "sched_cls", "supported", "processed 3 insns"),
		res(4, "kprobe", "gpl_only", "cannot call GPL-restricted function from non-GPL compatible program"))
	// 6.1 has one kfunc, callable from tracing programs; 5.10 lacks it.
	k1.Facts.KfuncsAbsent = []string{"bpf_task_acquire"}
	k2.Facts.Kfuncs = []observation.Kfunc{{Name: "bpf_task_acquire", Prototype: "struct task_struct *bpf_task_acquire(struct task_struct *p)"}}
	k2.Results = append(k2.Results,
		observation.Result{Kfunc: "bpf_task_acquire", ProgType: "tracing", Variant: "tp_btf", Outcome: observation.Supported, Detail: "arg#0 pointer type STRUCT task_struct must point"},
		observation.Result{Kfunc: "bpf_task_acquire", ProgType: "xdp", Variant: "xdp", Outcome: observation.NotForType, Detail: "calling kernel function bpf_task_acquire is not allowed"})
	failed := Kernel{Kernel: verdict.Kernel{Name: "7.3", Version: registry.MustParseVersion("7.3.4"), Failed: true, Error: "guest: kernel panic"}, GuestTrace: GuestTrace{ConsoleTail: "Kernel panic - not syncing: VFS: Unable to mount root fs\n<oops>"}}
	kernels := []Kernel{failed, k2, k1}
	r := Build(reg, nil, kernels, "bpfmatrix test")
	table, err := registry.LoadKfuncs(filepath.Join("..", "registry", "testdata", "kfunc_task.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r.AddKfuncs(table, kernels)
	return r
}

func TestBuildSummary(t *testing.T) {
	r := sample(t)
	if got := []string{r.Kernels[0].Name, r.Kernels[1].Name, r.Kernels[2].Name}; strings.Join(got, ",") != "5.10,6.1,7.3" {
		t.Errorf("kernels not in version order: %v", got)
	}
	if strings.Join(r.Summary.FailedKernels, ",") != "7.3" || !r.Failed() {
		t.Errorf("failed kernels: %v", r.Summary.FailedKernels)
	}
	if !contains(r.Summary.Contradicted, "probe_read") {
		t.Errorf("probe_read offered to socket_filter (not declared) should be contradicted: %v", r.Summary.Contradicted)
	}
	if k := r.Kernels[0]; k.HelpersUnknown != 1 || k.HelpersKnown != 2 || k.Outcomes["supported"] != 2 {
		t.Errorf("5.10 summary: %+v", k)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func TestWriteFiles(t *testing.T) {
	r := sample(t)
	dir := t.TempDir()
	paths, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("paths: %v", paths)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "tool", "registry", "kernels", "summary", "helpers"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("report.json lacks %q", key)
		}
	}
	k0 := doc["kernels"].([]any)[0].(map[string]any)
	if k0["version"] != "5.10.223" || k0["image_sha256"] == "" {
		t.Errorf("kernel entry: %v", k0)
	}

	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| 5.10 | 5.10.223 | ok |", "| 7.3 | 7.3.4 | failed: guest: kernel panic |", "**bpf_probe_read** (id 4)", "### 7.3", "Unable to mount root fs", "## kfuncs", "6.1 1;"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}

	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	html := string(page)
	if strings.Contains(html, `<script>alert("kernel")`) {
		t.Error("kernel text reached the page unescaped")
	}
	if strings.Count(html, "<tr data-id=") != 6 {
		t.Errorf("want one heat-map row per helper (6), got %d", strings.Count(html, "<tr data-id="))
	}
	// Contradictions first.
	if first := strings.Index(html, "<tr data-id="); !strings.HasPrefix(html[first:], `<tr data-id="4"`) {
		t.Errorf("first row is not the contradicted probe_read: %.80s", html[first:])
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("page refers to something outside itself")
	}
}

// TestKnownButNowhereOffered: a kernel that knows a helper's id but offers it to no program type
// (override_return on kernels built without CONFIG_BPF_KPROBE_OVERRIDE) is not painted as
// offered in the heat-map.
func TestFaultKnownButNowhereOffered(t *testing.T) {
	reg := testRegistry(t)
	// A known id that no type is offered: every variant refuses it.
	k := obs("7.3", "7.3.4", res(5, "xdp", "not_for_type", "program of this type cannot use helper bpf_ktime_get_ns#5"),
		res(5, "sched_cls", "not_for_type", "program of this type cannot use helper bpf_ktime_get_ns#5"))
	var b strings.Builder
	if err := Build(reg, nil, []Kernel{k}, "test").WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	row := b.String()[strings.Index(b.String(), `<tr data-id="5"`):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "known, 0 types") || strings.Contains(row, `class="s-O`) {
		t.Errorf("row of a helper known but offered nowhere: %s", row)
	}
}

// TestVariantAbsentCountedApart: answers of an attach variant the kernel does not have (5.10
// lacks the cgroup unix hooks) are inconclusive by construction; the kernel table counts them
// apart from the inconclusive answers about entries.
func TestVariantAbsentCountedApart(t *testing.T) {
	reg := testRegistry(t)
	k := obs("5.10", "5.10.223",
		observation.Result{HelperID: 1, ProgType: "cgroup_sock_addr", Variant: "connect_unix", Outcome: observation.Inconclusive, Detail: "attach type absent"},
		observation.Result{HelperID: 5, ProgType: "cgroup_sock_addr", Variant: "connect_unix", Outcome: observation.Inconclusive, Detail: "attach type absent"},
		observation.Result{HelperID: 5, ProgType: "cgroup_sock_addr", Variant: "connect4", Outcome: observation.Inconclusive, Detail: "EPERM before verification"},
		observation.Result{HelperID: 5, ProgType: "xdp", Variant: "xdp", Outcome: observation.Supported, Detail: "processed 3 insns"})
	k.Facts.ProgTypes = []observation.ProgTypeInfo{
		{Name: "cgroup_sock_addr", Present: true, Variants: []observation.VariantInfo{{Name: "connect4", Usable: true}, {Name: "connect_unix", Reason: "attach type absent"}}},
		{Name: "xdp", Present: true, Variants: []observation.VariantInfo{{Name: "xdp", Usable: true}}},
	}
	r := Build(reg, nil, []Kernel{k}, "test")
	s := r.Kernels[0]
	if s.Outcomes[observation.Inconclusive] != 3 || s.VariantAbsent != 2 || s.Inconclusive() != 1 {
		t.Errorf("outcomes %v, variant absent %d, inconclusive %d; want 3 inconclusive outcomes of which 2 of the absent variant", s.Outcomes, s.VariantAbsent, s.Inconclusive())
	}
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "variant absent on this kernel") || !strings.Contains(b.String(), "| 0 | 0 | 1 | 2 |") {
		t.Errorf("kernel table does not count the absent variant apart:\n%s", b.String())
	}
}

// TestHeadings: the report covers helpers and kfuncs, and says so.
func TestHeadings(t *testing.T) {
	r := sample(t)
	var md, page strings.Builder
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"report.md": md.String(), "report.html": page.String()} {
		if strings.Contains(text, "BPF helper compatibility report") || !strings.Contains(text, "helpers and kfuncs") {
			t.Errorf("%s is not titled for helpers and kfuncs: %.200s", name, text)
		}
	}
}

// TestCategoryFromVerdict: the page groups by the category the verdict carries.
func TestCategoryFromVerdict(t *testing.T) {
	r := sample(t)
	var page strings.Builder
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<tr data-id="192" data-category="network"`, `<tr data-kfunc="bpf_task_acquire" data-category="task"`} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %s", want)
		}
	}
}
