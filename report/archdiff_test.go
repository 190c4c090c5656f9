package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// built is a kernel of arch (empty: amd64) named by its label, as FromDocument names it.
func built(name, version string, arch observation.Arch, results ...observation.Result) Kernel {
	k := obs(observation.KernelLabel(name, arch), version, results...)
	if arch != observation.DefaultArch {
		k.Arch = arch
	}
	return k
}

func TestTwins(t *testing.T) {
	failed := built("6.12", "6.12.117", "")
	failed.Failed = true
	tests := []struct {
		name    string
		kernels []Kernel
		want    string // column names in order, each "name>twin" for a kernel with a twin
	}{
		{name: "amd64 only", kernels: []Kernel{built("6.12", "6.12.118", ""), built("6.1", "6.1.192", "")}, want: "6.1 6.12"},
		{name: "same version, arm64 read first", kernels: []Kernel{built("6.12", "6.12.118", "arm64"), built("6.12", "6.12.118", "")},
			want: "6.12 6.12-arm64>6.12"},
		{name: "same release, other patch level", kernels: []Kernel{built("6.1", "6.1.192", ""), built("6.12", "6.12.118", "arm64"), built("6.12", "6.12.117", "")},
			want: "6.1 6.12 6.12-arm64>6.12"},
		{name: "no amd64 kernel of the release", kernels: []Kernel{built("6.1", "6.1.192", ""), built("6.12", "6.12.118", "arm64")},
			want: "6.1 6.12-arm64"},
		{name: "a twin that did not fail is preferred", kernels: []Kernel{failed, built("6.12", "6.12.118", "arm64"), built("local", "6.12.100", "")},
			want: "local 6.12 6.12-arm64>local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := sortKernels(tc.kernels)
			twins := twinsOf(ks)
			var got []string
			for i, k := range ks {
				s := k.Name
				if twins != nil && twins[i] >= 0 {
					s += ">" + ks[twins[i]].Name
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("columns %q, want %q", strings.Join(got, " "), tc.want)
			}
			if arm := strings.Contains(tc.want, "arm64"); (twins != nil) != arm {
				t.Errorf("twins %v for kernels of another architecture: %v", twins, arm)
			}
		})
	}
}

func TestArchDifferences(t *testing.T) {
	kf := func(name, variant, outcome, detail string) observation.Result {
		return observation.Result{Kfunc: name, ProgType: "tracing", Variant: variant, Outcome: observation.Outcome(outcome), Detail: detail}
	}
	amd := built("6.12", "6.12.118", "",
		res(5, "xdp", "supported", "loaded"),
		res(125, "xdp", "supported", "loaded"),
		res(4, "kprobe", "gpl_only", "cannot call GPL-restricted function"),
		kf("bpf_task_acquire", "fentry", "supported", "arg#0 pointer type"),
		kf("bpf_task_acquire", "fexit", "supported", "arg#0 pointer type"))
	arm := built("6.12", "6.12.118", "arm64",
		res(5, "xdp", "supported", "loaded (other words, same answer)"),
		res(125, "xdp", "not_for_type", "program of this type cannot use helper bpf_ktime_get_boot_ns#125"),
		res(192, "xdp", "not_for_type", "asked of arm64 only"),
		kf("bpf_task_acquire", "fentry", "not_for_type", "calling kernel function bpf_task_acquire is not allowed"),
		kf("bpf_task_acquire", "fexit", "supported", "arg#0 pointer type"))
	armFailed := arm
	armFailed.Failed = true
	tests := []struct {
		name    string
		kernels []Kernel
		want    []string
	}{
		{name: "amd64 only", kernels: []Kernel{amd}},
		{name: "twins", kernels: []Kernel{arm, amd}, want: []string{
			"helper #125 xdp/xdp 6.12 6.12-arm64>6.12 not_for_type/supported", // res leaves the name out,
			"bpf_task_acquire tracing/fentry 6.12 6.12-arm64>6.12 not_for_type/supported",
		}},
		{name: "a failed kernel is not compared", kernels: []Kernel{armFailed, amd}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := sortKernels(tc.kernels)
			var got []string
			for _, d := range archDifferences(ks, twinsOf(ks)) {
				got = append(got, fmt.Sprintf("%s %s %s %s>%s %s/%s", d.Function(), d.Where, d.Release, d.Kernel, d.Twin, d.Outcome, d.TwinOutcome))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestArchCellsMarked: the cells of the arm64 column that an answer differing from the amd64
// twin's falls under are marked, in report.json too; no amd64 cell is, and a report of amd64
// kernels alone says nothing about architectures.
func TestArchCellsMarked(t *testing.T) {
	amd := built("6.12", "6.12.118", "", res(125, "xdp", "supported", "loaded"), res(5, "xdp", "supported", "loaded"))
	arm := built("6.12", "6.12.118", "arm64", res(125, "xdp", "not_for_type", "cannot use"), res(5, "xdp", "supported", "loaded"))
	r := Build(testRegistry(t), nil, []Kernel{arm, amd}, "test")
	if r.Kernels[0].Name != "6.12" || r.Kernels[1].Name != "6.12-arm64" || r.Kernels[1].Twin != "6.12" || r.Kernels[1].Arch != "arm64" {
		t.Fatalf("kernels: %+v", r.Kernels)
	}
	var marked []string
	for _, hv := range r.Helpers {
		for _, tv := range append(hv.Types, hv.Existence) {
			for _, c := range tv.Cells {
				if c.ArchDiffers {
					marked = append(marked, fmt.Sprintf("%d/%s/%s", hv.ID, tv.ProgType, c.Kernel))
				}
			}
		}
	}
	if got := strings.Join(marked, " "); got != "125/xdp/6.12-arm64 125//6.12-arm64" {
		t.Errorf("marked cells %q", got)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"arch": "arm64"`, `"twin": "6.12"`, `"arch_differs": true`, `"arch_differences": [`, `"amd64_outcome": "supported"`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("report.json lacks %s", key)
		}
	}
	b.Reset()
	if err := Build(testRegistry(t), nil, []Kernel{amd}, "test").WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"arch"`, `"twin"`, `"arch_differs"`, `"arch_differences"`} {
		if strings.Contains(b.String(), key) {
			t.Errorf("report.json of amd64 kernels alone has %s", key)
		}
	}
}
