package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire/wiretest"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestBootLoads: bootLoads boots the kernels named with the guest flags, shows progress as run
// does, keeps a kernel whose QEMU fails failed, and answers a second call from the cache.
func TestBootLoads(t *testing.T) {
	kfile := fakeKernels(t, fakeqemu.Replay, fakeqemu.ExitError)
	content := []byte("not really an object: the fake boots nothing")
	obj := filepath.Join(t.TempDir(), "xdp.o")
	os.WriteFile(obj, content, 0o644)
	sum := sha256.Sum256(content)
	in := loadInput{Path: obj, Name: "xdp.o", SHA256: hex.EncodeToString(sum[:])}
	wiretest.ReplayLoads(t, observation.ProgramLoad{Object: in.Name, ObjectSHA256: in.SHA256, Program: "pass", Section: "xdp", ProgType: "xdp", Loaded: true})
	cache := t.TempDir()
	flags := func() *guestFlags {
		fs := flag.NewFlagSet("load", flag.ContinueOnError)
		g := addGuestFlags(fs)
		if err := fs.Parse([]string{"--kernels-file", kfile, "--qemu", os.Args[0], "--accel", "tcg", "--retries", "0", "--cache-dir", cache}); err != nil {
			t.Fatal(err)
		}
		return g
	}
	kernels := []string{fakeqemu.Replay, fakeqemu.ExitError}
	var stderr bytes.Buffer
	obs, err := bootLoads(context.Background(), flags(), kernels, []loadInput{in}, nil, false, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first call's progress:\n%s", stderr.String())
	if len(obs) != 2 || obs[0].Failed || len(obs[0].Loads) != 1 || !obs[0].Loads[0].Loaded || !obs[1].Failed {
		t.Fatalf("observations %+v", obs)
	}
	for _, want := range []string{"replay   1 programs, 0 refused", "exit-error failed: qemu exited before the guest sent anything", "2 kernels in", "1 failed, 0 from the cache"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	obs, err = bootLoads(context.Background(), flags(), kernels[:1], []loadInput{in}, nil, false, &stderr)
	if err != nil || len(obs) != 1 || !obs[0].Cached || len(obs[0].Loads) != 1 {
		t.Fatalf("second call: %v %+v", err, obs)
	}
	if !strings.Contains(stderr.String(), "1 programs from the cache") || strings.Contains(stderr.String(), "booting") {
		t.Errorf("second call's progress:\n%s", stderr.String())
	}
	// An unknown kernel is bad input, said before anything boots.
	if _, err := bootLoads(context.Background(), flags(), []string{"9.9"}, []loadInput{in}, nil, false, &stderr); err == nil || !strings.Contains(err.Error(), "9.9") {
		t.Errorf("unknown kernel: %v", err)
	}
}

// fakeARM64Kernels writes a kernels file of one arm64 kernel, "6.12", whose image is an arm64
// Image header with a version banner, and a static arm64 agent: an ELF header of machine
// aarch64 with no program headers (the fake QEMU runs nothing, but the harness checks both).
func fakeARM64Kernels(t *testing.T) (kfile, agent string) {
	t.Helper()
	dir := t.TempDir()
	img := make([]byte, 0x100)
	copy(img[0x38:], "ARM\x64")
	img = append(img, "Linux version 6.12.9-fake-arm64 (t@example.org) #1 SMP\x00"...)
	testenv.WriteFile(t, filepath.Join(dir, "Image"), img)
	kfile = testenv.WriteFile(t, filepath.Join(dir, "kernels.yaml"), []byte("kernels:\n  - name: \"6.12\"\n    arch: arm64\n    path: Image\n"))
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(hdr[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(hdr[18:], uint16(elf.EM_AARCH64))
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	binary.LittleEndian.PutUint16(hdr[52:], 64) // e_ehsize
	binary.LittleEndian.PutUint16(hdr[54:], 56) // e_phentsize
	binary.LittleEndian.PutUint16(hdr[58:], 64) // e_shentsize
	agent = testenv.WriteFile(t, filepath.Join(dir, "agent-arm64"), hdr)
	return kfile, agent
}

// TestLoadARM64: load --arch arm64 boots the kernels' arm64 builds (on --qemu-arm64, with an
// arm64 agent), names each kernel by its label in the answers and the report, and caches the
// answers apart from amd64's: the same object on the same kernel name under amd64 is another
// question (here: no amd64 build at all, so bad input).
func TestLoadARM64(t *testing.T) {
	kfile, agent := fakeARM64Kernels(t)
	obj := loadObject("nongpl.o")
	objs, inputs, err := readObjects([]string{obj})
	if err != nil {
		t.Fatal(err)
	}
	var said []observation.ProgramLoad
	for _, p := range objs[0].Programs {
		said = append(said, observation.ProgramLoad{Object: inputs[0].Name, ObjectSHA256: inputs[0].SHA256, Program: p.Name, Section: p.Section, Loaded: true})
	}
	wiretest.ReplayLoads(t, said...)
	t.Setenv(fakeqemu.EnvMode, fakeqemu.Replay)
	cache := t.TempDir()
	args := func(extra ...string) []string {
		return append([]string{"load", "--kernels-file", kfile, "--qemu-arm64", os.Args[0], "--qemu", "/nonexistent/qemu",
			"--agent", agent, "--accel", "tcg", "--retries", "0", "--cache-dir", cache, "--format", "json"}, extra...)
	}
	for i, wantCached := range []bool{false, true} {
		code, stdout, stderr := run(args("--arch", "arm64", obj)...)
		if code != exitOK {
			t.Fatalf("run %d: exit %d\n%s", i+1, code, stderr)
		}
		var rep struct {
			Kernels []string `json:"kernels"`
			Loads   []struct {
				Kernel string `json:"kernel"`
				Loaded bool   `json:"loaded"`
			} `json:"loads"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Kernels) != 1 || rep.Kernels[0] != "6.12-arm64" || len(rep.Loads) != len(said) {
			t.Fatalf("run %d: report %+v", i+1, rep)
		}
		for _, l := range rep.Loads {
			if l.Kernel != "6.12-arm64" || !l.Loaded {
				t.Errorf("run %d: answer %+v", i+1, l)
			}
		}
		if got := strings.Contains(stderr, "from the cache\n") && strings.Contains(stderr, "1 from the cache"); got != wantCached {
			t.Errorf("run %d: from the cache %v, want %v:\n%s", i+1, got, wantCached, stderr)
		}
	}
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		// No amd64 build of 6.12 in the file (and an amd64 agent and QEMU for amd64 guests).
		{[]string{"load", "--kernels-file", kfile, "--kernels", "6.12", "--qemu", os.Args[0], "--cache-dir", cache, obj}, "6.12 has no amd64 build"},
		{args("--arch", "arm64", "--static", obj), "--static answers for amd64 kernels only"},
		{args("--arch", "riscv64", obj), `--arch: unknown architecture "riscv64"`},
		{args("--arch", "arm64", "--qemu-arm64", "/nonexistent/qemu", obj), "--qemu-arm64:"},
	} {
		if code, _, stderr := run(tt.args...); code != exitBadArgs || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitBadArgs, tt.stderr)
		}
	}
}
