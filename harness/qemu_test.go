package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

func failIfNotOK(t *testing.T, r *Result) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("kernel %s failed: %s\nconsole:\n%s", r.Kernel.Name, r.Doc.Guest.Error, r.Doc.Guest.ConsoleTail)
	}
}

// TestKnownAnswers boots the oldest and the newest kernel with the full probe and checks answers
// that the kernels' sources settle: ringbuf_output (130, 5.8) exists in both; cgrp_storage_delete
// (211, 6.2) and get_func_ip (173, 5.15) are unknown ids on 5.10; 211 is supported on 7.3. The
// types this machine's own kernel refuses (they need a BPF trampoline) must give real answers
// inside the guests.
func TestKnownAnswers(t *testing.T) {
	cfg := testConfig(t)
	kernels := testKernels(t, "5.10", "7.3")
	results := testenv.Must(Run(context.Background(), cfg, kernels, nil))(t)
	type key struct {
		kernel string
		id     int
	}
	outcomes := map[key]map[observation.Outcome]int{}
	supportedIn := map[string]map[string]int{} // kernel -> prog type -> supported results
	for _, r := range results {
		failIfNotOK(t, r)
		facts := r.Doc.Facts
		if facts.Kernel.Release == "" || facts.Kernel.Release != r.Doc.Guest.Release {
			t.Errorf("%s: facts name release %q, the agent saw %q", r.Kernel.Name, facts.Kernel.Release, r.Doc.Guest.Release)
		}
		supportedIn[r.Kernel.Name] = map[string]int{}
		for _, pr := range r.Doc.Results {
			k := key{r.Kernel.Name, pr.HelperID}
			if outcomes[k] == nil {
				outcomes[k] = map[observation.Outcome]int{}
			}
			outcomes[k][pr.Outcome]++
			if pr.Outcome == observation.Supported {
				supportedIn[r.Kernel.Name][pr.ProgType+"/"+pr.Variant]++
			}
		}
		t.Logf("%s (%s): %d results, boot %.1fs, probe %.1fs, %d stream bytes on %s",
			r.Kernel.Name, r.Doc.Guest.Release, len(r.Doc.Results), r.Doc.Guest.BootSeconds, r.Doc.Guest.ProbeSeconds, r.Doc.Guest.StreamBytes, r.Doc.Guest.Channel)
	}

	tests := []struct {
		kernel string
		id     int
		want   observation.Outcome // an outcome that must occur
		never  observation.Outcome // an outcome that must not occur
	}{
		{"5.10", 130, observation.Supported, observation.UnknownID},
		{"7.3", 130, observation.Supported, observation.UnknownID},
		{"5.10", 211, observation.UnknownID, observation.Supported},
		{"7.3", 211, observation.Supported, observation.UnknownID},
		{"5.10", 173, observation.UnknownID, observation.Supported},
		{"7.3", 173, observation.Supported, observation.UnknownID},
	}
	for _, tt := range tests {
		got := outcomes[key{tt.kernel, tt.id}]
		if got[tt.want] == 0 || got[tt.never] > 0 {
			t.Errorf("kernel %s helper %d: outcomes %v; want some %s and no %s", tt.kernel, tt.id, got, tt.want, tt.never)
		}
	}
	for _, kernel := range []string{"5.10", "7.3"} {
		for _, variant := range []string{"tracing/fentry", "tracing/fexit", "tracing/fmod_ret", "lsm/lsm", "ext/ext", "struct_ops/tcp_ca"} {
			n := 0
			for v, c := range supportedIn[kernel] {
				if v == variant || strings.HasPrefix(v, variant+"_") || strings.HasPrefix(v, variant+".") {
					n += c
				}
			}
			if n == 0 {
				var have []string
				for v := range supportedIn[kernel] {
					have = append(have, v)
				}
				t.Errorf("kernel %s: no supported helper in %s (variants with answers: %v)", kernel, variant, have)
			}
		}
	}
}

// TestGuestFaults boots guests that fail in each way a guest can, next to a healthy one, in one run:
// each failure must be that kernel's alone, reported with a reason, within its timeout.
func TestGuestFaults(t *testing.T) {
	cfg := testConfig(t)
	cfg.Parallel = 3
	noRetries(&cfg) // every fault here is deterministic; TestRetry covers retries
	// A small probe keeps the test short; the truncation needs more than TruncateAfter results.
	cfg.ProgTypes = []string{"socket_filter", "xdp"}
	cfg.Helpers = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	base := testKernels(t, "5.10", "7.3")
	k510, k73 := base[0], base[1]
	with := func(k Kernel, name string, timeout time.Duration, words ...string) Kernel {
		k.Name, k.Append, k.Timeout = name, words, timeout
		return k
	}
	tests := []struct {
		kernel      Kernel
		ok          bool
		errContains []string
		results     int // -1: any number
		header      bool
	}{
		{with(k73, "healthy", 0), true, nil, -1, true},
		// The kernel finds no /init, tries to mount a root file system and panics.
		{with(k73, "panic-at-boot", 0, "rdinit=/nonexistent"), false, []string{"kernel: ", "Kernel panic"}, 0, false},
		{with(k510, "agent-panics", 0, wire.EnvFault+"=panic"), false, []string{"Kernel panic", "init"}, 0, true},
		{with(k510, "agent-hangs", 45*time.Second, wire.EnvFault+"=hang"), false, []string{"did not finish within 45s", "QEMU status running"}, 0, true},
		{with(k73, "stream-cut", 0, wire.EnvFault+"=truncate"), false, []string{"truncated after 10 results"}, wire.TruncateAfter, true},
	}
	var kernels []Kernel
	for _, tt := range tests {
		kernels = append(kernels, tt.kernel)
	}
	cfg.Timeout = 3 * time.Minute
	start := time.Now()
	results := testenv.Must(Run(context.Background(), cfg, kernels, nil))(t)
	t.Logf("%d guests in %.1fs", len(results), time.Since(start).Seconds())
	for i, tt := range tests {
		r := results[i]
		t.Run(tt.kernel.Name, func(t *testing.T) {
			if r.OK() != tt.ok {
				t.Fatalf("status %s (error %q), want ok=%v\nconsole:\n%s", r.Doc.Guest.Status, r.Doc.Guest.Error, tt.ok, r.Doc.Guest.ConsoleTail)
			}
			for _, s := range tt.errContains {
				if !strings.Contains(r.Doc.Guest.Error, s) {
					t.Errorf("error %q does not mention %q", r.Doc.Guest.Error, s)
				}
			}
			if tt.results >= 0 && len(r.Doc.Results) != tt.results {
				t.Errorf("%d results kept, want %d", len(r.Doc.Results), tt.results)
			}
			if (r.Doc.Kernel.Release != "") != tt.header {
				t.Errorf("header present = %v, want %v", r.Doc.Kernel.Release != "", tt.header)
			}
			if !tt.ok && r.Doc.Guest.ConsoleTail == "" {
				t.Errorf("a failed kernel without console tail")
			}
			if tt.ok {
				if len(r.Doc.Results) == 0 {
					t.Errorf("healthy guest brought back no results")
				}
			}
		})
	}
	assertEmpty(t, cfg.WorkDir)
}

// TestCancel stops a run the way Ctrl-C does, while one guest hangs and another has finished:
// the finished kernel keeps its results, the hanging one is stopped and marked interrupted,
// and nothing is left behind.
func TestCancel(t *testing.T) {
	cfg := testConfig(t)
	cfg.Parallel = 2
	noRetries(&cfg)
	cfg.ProgTypes = []string{"socket_filter"}
	cfg.Helpers = []int{1, 2, 3}
	k := testKernels(t, "7.3")[0]
	healthy, hanging := k, k
	healthy.Name = "healthy"
	hanging.Name, hanging.Append = "hanging", []string{wire.EnvFault + "=hang"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	done, hangs := false, false
	results, err := Run(ctx, cfg, []Kernel{healthy, hanging}, func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case e.Kernel == "healthy" && e.Phase == "done":
			done = true
		case e.Kernel == "hanging" && e.Phase == "probe":
			hangs = true
		}
		if done && hangs {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	failIfNotOK(t, results[0])
	if len(results[0].Doc.Results) == 0 {
		t.Error("the finished kernel lost its results")
	}
	h := results[1]
	if h.OK() || !h.Doc.Guest.Interrupted || !strings.Contains(h.Doc.Guest.Error, "interrupted") {
		t.Errorf("hanging guest: status %s, interrupted %v, error %q", h.Doc.Guest.Status, h.Doc.Guest.Interrupted, h.Doc.Guest.Error)
	}
	assertEmpty(t, cfg.WorkDir)
}

// assertEmpty checks that a run removed its temporary files.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in the work directory: %s", e.Name())
	}
}

// TestQEMUError reports images that cannot boot as failures of those kernels alone: a missing
// file, and a file QEMU refuses to load.
func TestQEMUError(t *testing.T) {
	cfg := testConfig(t)
	noRetries(&cfg)
	notKernel := testenv.WriteFile(t, filepath.Join(t.TempDir(), "bzImage"), []byte("not a kernel\n"))
	tests := []struct {
		kernel Kernel
		want   string
	}{
		{Kernel{Name: "missing", Path: "/nonexistent/vmlinuz"}, "kernel image: stat /nonexistent/vmlinuz"},
		{Kernel{Name: "garbage", Path: notKernel}, "qemu exited before the guest sent anything: exit status 1"},
	}
	var kernels []Kernel
	for _, tt := range tests {
		kernels = append(kernels, tt.kernel)
	}
	results := testenv.Must(Run(context.Background(), cfg, kernels, nil))(t)
	for i, tt := range tests {
		r := results[i]
		if r.OK() || !strings.Contains(r.Doc.Guest.Error, tt.want) {
			t.Errorf("%s: status %s, error %q; want a failure mentioning %q", tt.kernel.Name, r.Doc.Guest.Status, r.Doc.Guest.Error, tt.want)
		}
	}
	assertEmpty(t, cfg.WorkDir)
}

// TestRetry boots a kernel that fails every time with one retry, next to a healthy one: the
// failure is reported once, as a "retry" event and not a "done" one, the final result keeps the
// first attempt, and the healthy kernel is booted once.
func TestRetry(t *testing.T) {
	cfg := testConfig(t)
	cfg.Retries = 1
	cfg.ProgTypes = []string{"socket_filter"}
	cfg.Helpers = []int{1}
	k := testKernels(t, "7.3")[0]
	healthy, broken := k, k
	healthy.Name = "healthy"
	broken.Name, broken.Append = "broken", []string{"rdinit=/nonexistent"}
	var mu sync.Mutex
	events := map[string][]string{}
	results, err := Run(context.Background(), cfg, []Kernel{healthy, broken}, func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Phase != "probe" {
			events[e.Kernel] = append(events[e.Kernel], e.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	failIfNotOK(t, results[0])
	if len(results[0].Doc.Guest.FailedAttempts) != 0 || strings.Join(events["healthy"], ",") != "boot,done" {
		t.Errorf("healthy kernel: %d failed attempts, events %v", len(results[0].Doc.Guest.FailedAttempts), events["healthy"])
	}
	b := results[1]
	if b.OK() || len(b.Doc.Guest.FailedAttempts) != 1 || !strings.Contains(b.Doc.Guest.FailedAttempts[0].ConsoleTail, "Kernel panic") {
		t.Errorf("broken kernel: status %s, failed attempts %+v", b.Doc.Guest.Status, b.Doc.Guest.FailedAttempts)
	}
	if got := strings.Join(events["broken"], ","); got != "boot,retry,boot,done" {
		t.Errorf("broken kernel events %s, want boot,retry,boot,done", got)
	}
	assertEmpty(t, cfg.WorkDir)
}
