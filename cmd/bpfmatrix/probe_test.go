package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

var probeRegistry = filepath.Join("..", "..", "probe", "testdata", "registry.yaml")

func TestProbeBadArgs(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown type", []string{"probe", "--prog-type", "kprobes"}, `unknown program type: "kprobes"`},
		{"unknown variant", []string{"probe", "--prog-type", "tracing/fentri"}, `unknown attach variant: "tracing/fentri"`},
		{"unknown helper", []string{"probe", "--helper", "ktime_get_nss"}, `unknown helper: "ktime_get_nss"`},
		{"id zero", []string{"probe", "--helper", "0"}, "is not a helper id"},
		{"format", []string{"probe", "--format", "yaml"}, `unknown format "yaml"`},
		{"positional", []string{"probe", "xdp"}, `unexpected argument "xdp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(append(tt.args, "--registry", probeRegistry)...)
			if code != exitBadArgs || !strings.Contains(stderr, tt.stderr) || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tt.stderr)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("error is %d lines, want one:\n%s", n+1, stderr)
			}
		})
	}
}

func requireRootCLI(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t)
}

func TestProbeJSON(t *testing.T) {
	requireRootCLI(t)
	code, stdout, stderr := run("probe", "--format", "json", "--prog-type", "socket_filter,tracing/tp_btf",
		"--helper", "probe_read,bpf_d_path,212", "--registry", probeRegistry)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rep struct {
		Kernel struct {
			Release string `json:"release"`
			Version string `json:"version"`
		} `json:"kernel"`
		BTFHelperIDs []int `json:"btf_helper_ids"`
		ProgTypes    []struct {
			Name    string `json:"name"`
			Present bool   `json:"present"`
		} `json:"prog_types"`
		Results []observation.Result `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.Kernel.Release == "" || len(rep.BTFHelperIDs) == 0 || len(rep.ProgTypes) != 2 {
		t.Fatalf("facts missing: %+v", rep)
	}
	want := map[string]observation.Outcome{
		"socket_filter/socket_filter/4": observation.NotForType,
		"tracing/tp_btf/147":            observation.NotForTarget,
	}
	if len(rep.Results) != 6 {
		t.Fatalf("%d results, want 2 variants x 3 ids", len(rep.Results))
	}
	for _, r := range rep.Results {
		key := r.ProgType + "/" + r.Variant + "/" + strconv.Itoa(r.HelperID)
		if w, ok := want[key]; ok && r.Outcome != w {
			t.Errorf("%s: %s (%s), want %s", key, r.Outcome, r.Detail, w)
		}
		if r.HelperID == 212 && r.Helper != "" {
			t.Errorf("id 212 is named %q; the registry has no such helper", r.Helper)
		}
	}
	if !strings.Contains(stderr, "unclassified 0") {
		t.Errorf("summary on stderr lacks the outcome counts:\n%s", stderr)
	}
}

func TestProbeTable(t *testing.T) {
	requireRootCLI(t)
	code, stdout, stderr := run("probe", "--prog-type", "kprobe/kprobe", "--helper", "probe_read", "--registry", probeRegistry)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"kernel ", "BTF enum bpf_func_id:", "RELEASE", "OUTCOME", "kprobe  ", " 4 ", "probe_read", string(observation.GPLOnly), "cannot call GPL-restricted function"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}
