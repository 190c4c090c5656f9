package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire/wiretest"
	"github.com/bpfmatrix/bpfmatrix/internal/fakeqemu"
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
