package harness

import (
	"strings"
	"testing"
)

// TestParallelFor: one guest per core, as far as the memory holds them, at least one, at most
// MaxParallel.
func TestParallelFor(t *testing.T) {
	per := guestMemoryMB + qemuOverheadMB
	tests := []struct {
		name           string
		cores, availMB int
		want           int
	}{
		{"this machine: 2 cores, plenty of memory", 2, 23000, 2},
		{"16 cores, plenty of memory", 16, 64000, 16},
		{"16 cores, memory for 5", 16, 5*per + 100, 5},
		{"memory unknown", 8, 0, 8},
		{"less memory than one guest", 4, 300, 1},
		{"no core reported", 0, 0, 1},
		{"more cores than MaxParallel", 256, 1 << 30, MaxParallel},
	}
	for _, tt := range tests {
		if got := parallelFor(tt.cores, tt.availMB); got != tt.want {
			t.Errorf("%s: parallelFor(%d, %d) = %d, want %d", tt.name, tt.cores, tt.availMB, got, tt.want)
		}
	}
}

// TestLayout: the run's first line says the layout and the machine it was chosen for.
func TestLayout(t *testing.T) {
	cfg := DefaultConfig()
	got := Layout(cfg)
	for _, want := range []string{" at a time with 2 vCPUs (emulated: one host thread per ", ") and 1024 MiB each", "this machine: ", " cores"} {
		if !strings.Contains(got, want) {
			t.Errorf("Layout = %q, lacks %q", got, want)
		}
	}
	if cfg.Parallel < 1 || cfg.Parallel > MaxParallel {
		t.Errorf("DefaultConfig().Parallel = %d", cfg.Parallel)
	}
}

// TestTCGThreading: one host thread per guest when the guests' vCPUs outnumber the cores, one per
// vCPU otherwise, and the configured threading whatever the machine.
func TestTCGThreading(t *testing.T) {
	tests := []struct {
		name                string
		configured          string
		guests, cpus, cores int
		want                string
	}{
		{"two guests of two vCPUs on two cores", "", 2, 2, 2, "single"},
		{"one guest of two vCPUs on two cores", "", 1, 2, 2, "multi"},
		{"two guests of two vCPUs on four cores", "", 2, 2, 4, "multi"},
		{"sixteen guests of two vCPUs on sixteen cores", "", 16, 2, 16, "single"},
		{"configured multi", "multi", 2, 2, 2, "multi"},
		{"configured single", "single", 1, 2, 8, "single"},
	}
	for _, tt := range tests {
		cfg := Config{TCGThread: tt.configured, CPUs: tt.cpus}
		if got := tcgThreading(&cfg, tt.guests, tt.cores); got != tt.want {
			t.Errorf("%s: tcgThreading = %q, want %q", tt.name, got, tt.want)
		}
	}
}
