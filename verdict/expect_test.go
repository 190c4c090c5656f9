package verdict

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// archDiffsFixture records two arm64 differences on 6.12: bpf_ktime_get_ns refused to xdp
// programs (a program type claim) and bpf_session_cookie offered at plain kprobes (an attach
// point claim the registry records as not offered).
const archDiffsFixture = `compared:
  - {release: "6.12", arch: arm64, boots: 2}
differences:
  - {kind: helper, name: bpf_ktime_get_ns, where: xdp, release: "6.12", arch: arm64,
     outcome: not_for_type, words: "unknown func bpf_ktime_get_ns#5", amd64_outcome: supported, amd64_words: "loaded"}
  - {kind: kfunc, name: bpf_session_cookie, where: kprobe, release: "6.12", arch: arm64,
     outcome: supported, words: "loaded", amd64_outcome: not_for_type, amd64_words: "calling kernel function is not allowed"}
`

// TestArchExpectation: a kernel's recorded differences replace the registry's claim where they
// answer, for helpers' program types and kfuncs' attach points alike, and only for the release
// and architecture they were recorded for; a kernel that answers as amd64 where a difference is
// recorded contradicts the record.
func TestArchExpectation(t *testing.T) {
	diffs, err := registry.ParseArchDiffs("archdiffs.yaml", []byte(archDiffsFixture))
	if err != nil {
		t.Fatal(err)
	}
	helpers := reg(t, testRegistry)
	kfuncs, err := registry.ParseKfuncs("k.yaml", []byte(sessionKfunc))
	if err != nil {
		t.Fatal(err)
	}
	arm := observation.ArchARM64
	sections := []string{"kprobe/kprobe=kprobe", "kprobe/kprobe.session=kprobe.session"}
	tests := []struct {
		name    string
		version string
		arch    observation.Arch
		xdp     string // the kernel's answer for ktime_get_ns at xdp
		kprobe  string // its answer for bpf_session_cookie at plain kprobes
		// wantHelper and wantPoint are the xdp type verdict and the kprobe point verdict.
		wantHelper, wantPoint Word
	}{
		{"arm64 6.12 answers as recorded", "6.12.57", arm, "not_for_type", "supported", Consistent, Confirmed},
		{"arm64 6.12 answers as amd64", "6.12.57", arm, "supported", "not_for_type", Contradicted, Contradicted},
		{"amd64 6.12 answers as arm64's record", "6.12.57", observation.ArchAMD64, "not_for_type", "supported", Contradicted, Contradicted},
		{"amd64 6.12 answers as the registry", "6.12.57", observation.ArchAMD64, "supported", "not_for_type", Consistent, Confirmed},
		{"arm64 7.3, no record", "7.3.1", arm, "not_for_type", "supported", Contradicted, Contradicted},
		{"arm64 7.3 answers as the registry", "7.3.1", arm, "supported", "not_for_type", Consistent, Confirmed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := registry.MustParseVersion(tt.version)
			expect := ArchExpectation(diffs, v, tt.arch)
			hk := kernel("k", tt.version, "5 socket_filter supported", "5 xdp "+tt.xdp)
			hk.Expect = expect
			var xdp TypeVerdict
			for _, hv := range Judge(helpers, nil, []Kernel{hk}) {
				for _, tv := range hv.Types {
					if hv.ID == 5 && tv.ProgType == "xdp" {
						xdp = tv
					}
				}
			}
			if xdp.Verdict != tt.wantHelper {
				t.Errorf("ktime_get_ns at xdp: %s (%s), want %s", xdp.Verdict, xdp.Reason, tt.wantHelper)
			}
			kk := sessionKernel(tt.kprobe, "supported", sections...)
			kk.Version, kk.Expect = v, expect
			kv := JudgeKfuncs(kfuncs, []Kernel{kk})[0]
			if len(kv.AttachPoints) != 1 || kv.AttachPoints[0].Verdict != tt.wantPoint {
				t.Errorf("bpf_session_cookie at kprobe: %+v, want %s", kv.AttachPoints, tt.wantPoint)
			}
		})
	}
	// Nothing recorded for a release, or amd64: nil, and the registry judges as before.
	for _, tt := range []struct {
		version string
		arch    observation.Arch
	}{{"7.3.1", arm}, {"6.12.57", observation.ArchAMD64}, {"6.12.57", ""}} {
		if ArchExpectation(diffs, registry.MustParseVersion(tt.version), tt.arch) != nil {
			t.Errorf("%s %q: an expectation where nothing is recorded", tt.version, tt.arch)
		}
	}
}
