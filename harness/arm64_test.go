package harness

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// arm64Kernel is the arm64 kernel of testenv.EnvARM64Kernel, with the config its package ships
// beside it (boot/config-*) when there is one, or else kernels.yaml's arm64 build of 6.12 (from
// the image cache, fetched when the network is allowed), and a config that boots it with
// qemu-system-aarch64 and the arm64 agent.
func arm64Kernel(t *testing.T) (Kernel, Config) {
	t.Helper()
	var k Kernel
	if image := testenv.ARM64KernelPath(t); image != "" {
		k = Kernel{Name: "arm64", Path: image, Image: observation.Image{Arch: observation.ArchARM64}}
		if confs, _ := filepath.Glob(filepath.Join(filepath.Dir(image), "config-*")); len(confs) == 1 {
			k.Config = confs[0]
		}
	} else {
		k = testKernelsOf(t, observation.ArchARM64, "6.12")[0]
	}
	qemu := testenv.NeedCommand(t, "qemu-system-aarch64", "qemu-system-arm")
	needAgentARM64(t)
	cfg := DefaultConfig()
	cfg.QEMUARM64, cfg.Agent, cfg.WorkDir = qemu, agentBinARM64, t.TempDir()
	cfg.Parallel = 1
	return k, cfg
}

// TestARM64Guest boots an arm64 kernel under TCG (machine virt) with the arm64 agent and a probe
// narrowed to a few program types and helpers (a full probe there takes minutes): the guest must
// answer on virtio-serial, say it is arm64, and give the answers the kernel's sources settle for
// every kernel since 5.8 (map_lookup_elem and ringbuf_output in xdp and kprobe programs; bpf_sys_bpf
// is refused in xdp) and an unknown id for a helper id no kernel has.
func TestARM64Guest(t *testing.T) {
	k, cfg := arm64Kernel(t)
	cfg.ProgTypes = []string{"xdp", "kprobe/kprobe"}
	cfg.Helpers = []int{1, 130, 166, 999}
	cfg.Kfuncs = []string{wire.NoKfuncs}
	results, err := Run(context.Background(), cfg, []Kernel{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := results[0]
	failIfNotOK(t, r)
	g := r.Doc.Guest
	t.Logf("%s: %d results, boot %.1fs (kernel %.1fs), probe %.1fs, %d stream bytes on %s",
		g.Release, len(r.Doc.Results), g.BootSeconds, g.KernelSeconds, g.ProbeSeconds, g.StreamBytes, g.Channel)
	if g.Arch != observation.ArchARM64 || g.Accel != "tcg" || g.Channel != wire.ChannelVirtio {
		t.Errorf("guest block: arch %q accel %q channel %q; want arm64, tcg, virtio", g.Arch, g.Accel, g.Channel)
	}
	if !strings.Contains(g.Release, "arm64") && !strings.Contains(g.Release, "aarch64") {
		t.Errorf("release %q is not an arm64 kernel's", g.Release)
	}
	got := map[string]observation.Outcome{}
	for _, res := range r.Doc.Results {
		got[res.Variant+"/"+res.Helper] = res.Outcome
		if res.HelperID == 999 && res.Outcome != observation.UnknownID {
			t.Errorf("helper 999 in %s: %s, want %s", res.Variant, res.Outcome, observation.UnknownID)
		}
	}
	for _, tt := range []struct {
		key  string
		want observation.Outcome
	}{
		{"xdp/map_lookup_elem", observation.Supported},
		{"xdp/ringbuf_output", observation.Supported},
		{"kprobe/map_lookup_elem", observation.Supported},
		{"kprobe/ringbuf_output", observation.Supported},
		{"xdp/sys_bpf", observation.NotForType},
	} {
		if got[tt.key] != tt.want {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			})
			t.Errorf("%s: %q, want %q (answers: %v)", tt.key, got[tt.key], tt.want, keys)
		}
	}
}

// TestARM64QEMUArgs: an arm64 kernel boots on virt with a 64-bit CPU under TCG, its console on
// the PL011 (ttyAMA0) and its results on virtio-serial even when the serial channel is asked
// for (virt has no second UART); an amd64 kernel keeps the command line it always had.
func TestARM64QEMUArgs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Channel = wire.ChannelSerial
	arm := Kernel{Name: "a", Image: observation.Image{Arch: observation.ArchARM64}}
	amd := Kernel{Name: "x"}
	for _, tt := range []struct {
		k                    Kernel
		wantChannel, console string
		want, never          []string
	}{
		{arm, wire.ChannelVirtio, "console=ttyAMA0 ", []string{"-M virt", "-cpu max", "-device virtio-serial-pci,id=vser"}, []string{"-cpu host"}},
		{amd, wire.ChannelSerial, "console=ttyS0 ", []string{"-serial chardev:results"}, []string{"-M ", "-cpu", "virtio-serial-pci"}},
	} {
		ch := channelFor(&cfg, &tt.k, nil)
		if ch != tt.wantChannel {
			t.Errorf("%s: channel %s, want %s", tt.k.Name, ch, tt.wantChannel)
		}
		args := strings.Join(qemuArgs(&cfg, &tt.k, "tcg", ch), " ")
		if !strings.Contains(args, "-append "+tt.console) {
			t.Errorf("%s: %s; want the console %s", tt.k.Name, args, tt.console)
		}
		for _, w := range tt.want {
			if !strings.Contains(args, w) {
				t.Errorf("%s: %s; want %q", tt.k.Name, args, w)
			}
		}
		for _, n := range tt.never {
			if strings.Contains(args, n) {
				t.Errorf("%s: %s; want no %q", tt.k.Name, args, n)
			}
		}
	}
	if m, _ := machineFor(observation.ArchARM64); m.qemu(&cfg) != "qemu-system-aarch64" {
		t.Errorf("arm64 QEMU %q", m.qemu(&cfg))
	}
}

// TestRunArch: one run boots kernels of one architecture (their guests share an initramfs whose
// /init is built for one), and a kernel of an unknown architecture is refused before anything
// starts.
func TestRunArch(t *testing.T) {
	arm := observation.Image{Arch: observation.ArchARM64}
	for _, tt := range []struct {
		name    string
		kernels []Kernel
		want    observation.Arch
		wantErr string
	}{
		{"amd64 by default", []Kernel{{Name: "a"}, {Name: "b", Image: observation.Image{Arch: observation.ArchAMD64}}}, observation.ArchAMD64, ""},
		{"arm64", []Kernel{{Name: "a", Image: arm}, {Name: "b", Image: arm}}, observation.ArchARM64, ""},
		{"mixed", []Kernel{{Name: "a"}, {Name: "b", Image: arm}}, "", "a is amd64, b is arm64"},
		{"unknown", []Kernel{{Name: "r", Image: observation.Image{Arch: "riscv64"}}}, "", `kernel r: kernel architecture "riscv64"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runArch(tt.kernels)
			if testenv.WantErr(t, err, tt.wantErr) {
				return
			}
			if got != tt.want {
				t.Fatalf("runArch = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestFaultAgentBinaryForeignArch: outside the source tree no arm64 agent can be built, and this
// amd64 executable cannot stand in for one as it does for amd64 guests: the error wraps
// ErrNoAgent and says what would supply one.
func TestFaultAgentBinaryForeignArch(t *testing.T) {
	if HostArch() != observation.ArchAMD64 {
		t.Skipf("the host is %s, not amd64", HostArch())
	}
	t.Chdir(t.TempDir())
	t.Setenv("GOWORK", "")
	_, err := AgentBinary(context.Background(), t.TempDir(), observation.ArchARM64)
	if !errors.Is(err, ErrNoAgent) || !strings.Contains(err.Error(), "cannot be the /init of arm64 guests") ||
		!strings.Contains(err.Error(), "GOARCH=arm64 CGO_ENABLED=0") {
		t.Fatalf("AgentBinary(arm64) outside the tree: %v", err)
	}
}

// TestAcceleratorArch: an arm64 guest on an amd64 host runs under TCG whatever the configuration
// asks (KVM cannot run another architecture), and a KVM request is answered with a notice; amd64
// guests keep what was asked.
func TestAcceleratorArch(t *testing.T) {
	if HostArch() != observation.ArchAMD64 {
		t.Skipf("the host is %s, not amd64", HostArch())
	}
	for _, tt := range []struct {
		arch        observation.Arch
		asked, want string
		notice      bool
	}{
		{observation.ArchARM64, "kvm", "tcg", true},
		{observation.ArchARM64, "", "tcg", false},
		{observation.ArchARM64, "tcg", "tcg", false},
		{observation.ArchAMD64, "tcg", "tcg", false},
		{observation.ArchAMD64, "kvm", "kvm", false},
	} {
		var notes []string
		cfg := Config{Accel: tt.asked, Notice: func(s string) { notes = append(notes, s) }}
		m, _ := machineFor(tt.arch)
		acc := newAccelerator(&cfg, m)
		if acc.get() != tt.want || (len(notes) > 0) != tt.notice {
			t.Errorf("%s asked %q: accel %s, notices %q; want %s, notice %v", tt.arch, tt.asked, acc.get(), notes, tt.want, tt.notice)
		}
	}
}
