package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// run executes the CLI in-process and returns exit code, stdout and stderr.
func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

var smallRegistry = filepath.Join("..", "..", "registry", "testdata", "small.yaml")

func TestHelpersExitCodes(t *testing.T) {
	bad := testenv.WriteFile(t, filepath.Join(t.TempDir(), "bad.yaml"), []byte("- id: 1\n  name: x\n  colour: red\n"))
	tests := []struct {
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{[]string{"helpers", "compat", "ktime_get_boot_ns", "xdp", "5.7", "--registry", smallRegistry}, 1, "first appeared in 5.8", ""},
		{[]string{"helpers", "compat", "ktime_get_boot_ns", "xdp", "6.10", "--registry", smallRegistry}, 0, "compatible", ""},
		{[]string{"helpers", "compat", "--registry", smallRegistry, "bpf_skb_set_tstamp", "xdp", "6.10"}, 1, "not offered to xdp", ""},
		{[]string{"helpers", "compat", "copy_from_user", "kprobe", "6.2", "--registry", smallRegistry}, 1, "withdrawn from kprobe programs after 6.1", ""},
		// Inside a prog_type_gaps range the reason is the gap, not "not offered" or an until that
		// lies in the future.
		{[]string{"helpers", "compat", "copy_from_user", "lsm", "6.4", "--registry", smallRegistry}, 1, "withdrawn from lsm programs in 6.2..6.6 (prog_type_gaps), which includes 6.4", ""},
		{[]string{"helpers", "compat", "copy_from_user", "lsm", "6.7", "--registry", smallRegistry}, 0, "compatible", ""},
		{[]string{"helpers", "compat", "skb_pull_data", "lwt_seg6local", "6.1.192"}, 1, "withdrawn from lwt_seg6local programs in 6.1..6.12 (prog_type_gaps), which includes 6.1.192", ""},
		{[]string{"helpers", "compat", "skb_pull_data", "lwt_seg6local", "7.2"}, 1, "withdrawn from lwt_seg6local programs after 7.1", ""},
		// An ext (freplace) program may call what the program it replaces may.
		{[]string{"helpers", "compat", "xdp_adjust_head", "ext", "6.1"}, 0, "compatible: bpf_xdp_adjust_head may be called from ext programs on 6.1 that replace a program of a type that may call it: xdp", ""},
		{[]string{"helpers", "compat", "xdp_adjust_head", "ext", "4.9"}, 1, "first appeared in 4.10, newer than 4.9", ""},
		{[]string{"helpers", "compat", "copy_from_user", "ext", "6.4", "--registry", smallRegistry}, 0, "may call it: tracing, syscall", ""},
		{[]string{"helpers", "list", "--prog-type", "ext", "--kernel", "6.1"}, 0, "bpf_xdp_adjust_head", ""},
		// An explicitly empty flag value is a mistake, not a request for the default.
		{[]string{"helpers", "list", "--registry", ""}, 2, "", `--registry: empty value`},
		{[]string{"helpers", "info", "5", "--registry="}, 2, "", `--registry: empty value`},
		{[]string{"helpers", "compat", "ktime_get_ns", "xdp", "6.1", "--registry", ""}, 2, "", `--registry: empty value`},
		{[]string{"helpers", "categories", "--registry", ""}, 2, "", `--registry: empty value`},
		{[]string{"helpers", "list", "--kernel", "", "--registry", smallRegistry}, 2, "", `--kernel: empty value`},
		{[]string{"helpers", "list", "--prog-type=", "--registry", smallRegistry}, 2, "", `--prog-type: empty value`},
		{[]string{"helpers", "compat", "nosuch", "xdp", "6.1", "--registry", smallRegistry}, 2, "", `unknown helper: "nosuch"`},
		{[]string{"helpers", "compat", "ktime_get_ns", "xdpp", "6.1", "--registry", smallRegistry}, 2, "", `unknown program type: "xdpp"`},
		{[]string{"helpers", "compat", "ktime_get_ns", "xdp", "six", "--registry", smallRegistry}, 2, "", `malformed kernel version: "six"`},
		{[]string{"helpers", "compat", "ktime_get_ns", "xdp", "--registry", smallRegistry}, 2, "", "want 3 argument(s), got 2"},
		{[]string{"helpers", "info", "999", "--registry", smallRegistry}, 2, "", "unknown helper: id 999"},
		{[]string{"helpers", "info", "192", "--registry", smallRegistry}, 0, "bpf_skb_set_tstamp (id 192)", ""},
		{[]string{"helpers", "info", "ktime_get_ns", "--format", "yaml", "--registry", smallRegistry}, 2, "", `unknown format "yaml"`},
		{[]string{"helpers", "list", "--prog-type", "nope", "--registry", smallRegistry}, 2, "", `unknown program type: "nope"`},
		{[]string{"helpers", "list", "--kernel", "6.x", "--registry", smallRegistry}, 2, "", "--kernel: malformed kernel version"},
		{[]string{"helpers", "list", "--category", "nope", "--registry", smallRegistry}, 2, "", `unknown category "nope"`},
		{[]string{"helpers", "list", "--bogus", "--registry", smallRegistry}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"helpers", "list", "--registry", bad}, 2, "", "bad.yaml:3: unknown key \"colour\""},
		{[]string{"helpers", "list", "--registry", filepath.Join(t.TempDir(), "none.yaml")}, 2, "", "none.yaml: no such file"},
		{[]string{"helpers", "categories", "--registry", smallRegistry}, 0, "network", ""},
		{[]string{"helpers", "frobnicate"}, 2, "", `unknown subcommand "frobnicate"`},
		{[]string{"nosuchcommand"}, 2, "", `unknown command "nosuchcommand"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ~ %q, stderr ~ %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
			if tt.code == 2 && !strings.Contains(tt.stderr, ".yaml") && strings.Count(strings.TrimSpace(stderr), "\n") > 0 && !strings.Contains(stderr, "usage") {
				t.Errorf("bad-input error is not one line: %q", stderr)
			}
		})
	}
}

// TestHelpersListMatchesJSONFilter checks that --prog-type/--kernel give the same set a user
// gets by filtering the full JSON list by hand with the registry's documented semantics.
func TestHelpersListMatchesJSONFilter(t *testing.T) {
	code, all, stderr := run("helpers", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("list: %d %s", code, stderr)
	}
	var entries []struct {
		ID            int               `json:"id"`
		Name          string            `json:"name"`
		MinKernel     string            `json:"min_kernel"`
		ProgTypes     json.RawMessage   `json:"prog_types"`
		ProgTypeSince map[string]string `json:"prog_type_since"`
		ProgTypeUntil map[string]string `json:"prog_type_until"`
		// AttachPoints under a program type's name hold its default attachment's facts, which
		// answer a question naming the bare type.
		AttachPoints map[string]struct {
			Since, Until string
			Offered      *bool
		} `json:"attach_points"`
	}
	if err := json.Unmarshal([]byte(all), &entries); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ progType, kernel string }{{"xdp", "6.1"}, {"kprobe", "5.10"}, {"lsm", "6.12"}, {"sched_cls", "4.20"}} {
		k := registry.MustParseVersion(tc.kernel)
		var want []int
		for _, e := range entries {
			var types []string
			offered := string(e.ProgTypes) == `"all"`
			if !offered {
				if err := json.Unmarshal(e.ProgTypes, &types); err != nil {
					t.Fatal(err)
				}
				offered = slices.Contains(types, tc.progType)
			}
			if !offered || k.Less(registry.MustParseVersion(e.MinKernel)) {
				continue
			}
			if s, ok := e.ProgTypeSince[tc.progType]; ok && k.Less(registry.MustParseVersion(s)) {
				continue
			}
			if u, ok := e.ProgTypeUntil[tc.progType]; ok && registry.MustParseVersion(u).Less(k.Series()) {
				continue
			}
			if p, ok := e.AttachPoints[tc.progType]; ok && (p.Offered != nil && !*p.Offered ||
				p.Since != "" && k.Less(registry.MustParseVersion(p.Since)) ||
				p.Until != "" && registry.MustParseVersion(p.Until).Less(k.Series())) {
				continue
			}
			want = append(want, e.ID)
		}
		code, out, stderr := run("helpers", "list", "--prog-type", tc.progType, "--kernel", tc.kernel, "--format", "json")
		if code != 0 {
			t.Fatalf("list: %d %s", code, stderr)
		}
		var got []struct{ ID int }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		var gotIDs []int
		for _, g := range got {
			gotIDs = append(gotIDs, g.ID)
		}
		sort.Ints(gotIDs)
		if len(want) == 0 || fmt.Sprint(gotIDs) != fmt.Sprint(want) {
			t.Errorf("%s on %s: list gave %v, hand filter gave %v", tc.progType, tc.kernel, gotIDs, want)
		}
	}
}

func TestHelpersSpotChecks(t *testing.T) {
	code, out, _ := run("helpers", "info", "192", "--format", "json")
	var h struct {
		Name      string `json:"name"`
		MinKernel string `json:"min_kernel"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &h) != nil || h.Name != "skb_set_tstamp" || h.MinKernel != "5.18" {
		t.Errorf("helpers info 192: %d %s", code, out)
	}
	if code, _, _ := run("helpers", "compat", "ktime_get_boot_ns", "xdp", "5.7"); code != 1 {
		t.Errorf("compat ktime_get_boot_ns xdp 5.7 exited %d, want 1", code)
	}
	if code, _, _ := run("helpers", "compat", "ktime_get_boot_ns", "xdp", "6.10"); code != 0 {
		t.Errorf("compat ktime_get_boot_ns xdp 6.10 exited %d, want 0", code)
	}
	code, out, _ = run("helpers", "list", "--format", "json")
	var all []struct{ ID int }
	if code != 0 || json.Unmarshal([]byte(out), &all) != nil || len(all) != 211 || all[0].ID != 1 || all[210].ID != 211 {
		t.Errorf("helpers list --format json: %d helpers", len(all))
	}
}

var (
	guideTable = filepath.Join("..", "..", "registry", "foreign", "testdata", "guide-helpers.edn")
	jsonTable  = filepath.Join("..", "..", "registry", "foreign", "testdata", "table.json")
)

// TestHelpersForeignTables checks that --registry reads other libraries' tables (EDN, JSON),
// says which facts they leave out, and refuses a bad one with its file and line.
func TestHelpersForeignTables(t *testing.T) {
	dir := t.TempDir()
	bad := testenv.WriteFile(t, filepath.Join(dir, "helpers.clj"), []byte("(def helper-metadata\n  {:a {:id 1 :signature {:return :u64 :args []}\n  :min-kernel \"5.8\" :prog-types #{:tc} :category :time :description \"x\"}})\n"))
	noExt := filepath.Join(dir, "table")
	data, err := os.ReadFile(jsonTable)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, noExt, data)
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"helpers", "list", "--registry", guideTable}, 0, "217  bpf_cgroup_get_current_level       6.5    cgroup    ?    all", ""},
		{[]string{"helpers", "info", "ktime_get_real_ns", "--registry", guideTable}, 0, "written as: :ktime-get-real-ns (" + guideTable + ":8)\n  not stated there (defaults shown): gpl_only", ""},
		{[]string{"helpers", "compat", "skb_set_tstamp", "sched_act", "6.2", "--registry", guideTable}, 1, "first appeared in 6.3", ""},
		{[]string{"helpers", "compat", "probe_read", "tracing", "5.4", "--registry", jsonTable}, 1, "reached tracing programs in 5.5", ""},
		{[]string{"helpers", "info", "1", "--registry", noExt}, 0, "bpf_map_lookup_elem (id 1)", ""},
		{[]string{"helpers", "list", "--registry", bad}, 2, "", "helpers.clj:3: :a: prog_types: unknown program type \"tc\""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout ~ %q, stderr ~ %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

// TestHelpersExport checks each export format through the command line: json is what helpers
// list prints, yaml and edn load back as the same table, and bad input exits 2.
func TestHelpersExport(t *testing.T) {
	dir := t.TempDir()
	for _, reg := range []string{"", guideTable} {
		flags := []string{}
		if reg != "" {
			flags = []string{"--registry", reg}
		}
		code, list, stderr := run(append([]string{"helpers", "list", "--format", "json"}, flags...)...)
		if code != 0 {
			t.Fatalf("list: %s", stderr)
		}
		if code, out, stderr := run(append([]string{"helpers", "export", "--format", "json"}, flags...)...); code != 0 || out != list {
			t.Errorf("export --format json %v differs from helpers list --format json (exit %d, %s)", flags, code, stderr)
		}
		for _, name := range []string{"t.yaml", "t.edn", "t.clj", "t.json"} {
			format := strings.TrimPrefix(filepath.Ext(name), ".")
			if format == "clj" {
				format = "edn"
			}
			out := filepath.Join(dir, name)
			if code, _, stderr := run(append([]string{"helpers", "export", "--format", format, "--out", out}, flags...)...); code != 0 {
				t.Fatalf("export %s: %s", name, stderr)
			}
			// YAML names the guide's nameless arguments (arg1, ...): it loads, but is not the same.
			same := reg == "" || format != "yaml"
			if code, back, stderr := run("helpers", "list", "--format", "json", "--registry", out); code != 0 || same && back != list {
				t.Errorf("%s %v does not load back as the same table (exit %d, %s)", name, flags, code, stderr)
			}
		}
		if data, err := os.ReadFile(filepath.Join(dir, "t.clj")); err != nil || !bytes.Contains(data, []byte("(def helper-metadata\n")) {
			t.Errorf("t.clj is not Clojure source: %v", err)
		}
	}
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"helpers", "export", "--format", "xml"}, `unknown format "xml"`},
		{[]string{"helpers", "export", "--out", ""}, "--out: empty value"},
		{[]string{"helpers", "export", "--out", filepath.Join(os.DevNull, "x.h")}, "--out: write"},
		{[]string{"helpers", "export", "--registry", filepath.Join(dir, "none.edn")}, "none.edn: no such file"},
		{[]string{"helpers", "export", "extra"}, "want 0 argument(s), got 1"},
	}
	for _, tt := range tests {
		if code, _, stderr := run(tt.args...); code != 2 || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q", tt.args, code, stderr, tt.stderr)
		}
	}
}

// exportCProgram prints, for every helper, program type and kernel below, whether the
// exported header says the helper is offered.
const exportCProgram = `#include <stdio.h>
#include "helpers.h"

int main(void)
{
	static const struct bpfmatrix_version kernels[] = { KERNELS };
	size_t i, k;
	int t;

	for (i = 0; i < BPFMATRIX_HELPER_COUNT; i++)
		for (t = 1; t <= BPFMATRIX_PROG_netfilter; t++)
			for (k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
				printf("%u %d %u.%u.%u %d %d\n", (unsigned)bpfmatrix_helpers[i].id, t,
				       (unsigned)kernels[k].major, (unsigned)kernels[k].minor, (unsigned)kernels[k].patch,
				       bpfmatrix_offered(&bpfmatrix_helpers[i], (enum bpfmatrix_prog_type)t, kernels[k]),
				       bpfmatrix_helpers[i].gpl_only);
	return bpfmatrix_helper_by_id(BPFMATRIX_FUNC_NAME) == NULL;
}
`

// TestHelpersExportC compiles a C program against the exported header with -Wall -Werror and
// checks that the header's answers are the registry's, for every helper, type and kernel below.
func TestHelpersExportC(t *testing.T) {
	cc := testenv.NeedCommand(t, "cc", "gcc")
	kernels := []string{"3.19.0", "4.1.0", "4.20.0", "5.4.0", "5.5.0", "5.10.0", "6.1.5", "6.1.192", "6.2.0", "6.6.0", "6.7.0", "6.12.0", "6.13.0", "7.1.0", "7.2.0", "7.3.0"}
	var init []string
	for _, k := range kernels {
		init = append(init, "{ "+strings.ReplaceAll(k, ".", ", ")+" }")
	}
	for _, table := range []string{"", smallRegistry, guideTable} {
		reg, prov, err := loadRegistry(table)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		args := []string{"helpers", "export", "--format", "c", "--out", filepath.Join(dir, "helpers.h")}
		if table != "" {
			args = append(args, "--registry", table)
		}
		if code, _, stderr := run(args...); code != 0 {
			t.Fatalf("export --format c: %s", stderr)
		}
		src := strings.ReplaceAll(exportCProgram, "KERNELS", strings.Join(init, ", "))
		src = strings.ReplaceAll(src, "BPFMATRIX_FUNC_NAME", "BPFMATRIX_FUNC_"+reg.Helpers()[0].Name)
		testenv.WriteFile(t, filepath.Join(dir, "t.c"), []byte(src))
		cmd := exec.Command(cc, "-Wall", "-Werror", "-std=c11", "-o", "t", "t.c")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cc: %v\n%s", err, out)
		}
		out, err := exec.Command(filepath.Join(dir, "t")).Output()
		if err != nil {
			t.Fatalf("the program: %v", err)
		}
		var want strings.Builder
		for _, h := range reg.Helpers() {
			gpl := map[bool]int{false: 0, true: 1}[h.GPLOnly]
			if !prov.Claimed(h, "gpl_only") {
				gpl = -1
			}
			for id, pt := range registry.ProgTypeNames() {
				for _, k := range kernels {
					offered := map[bool]int{false: 0, true: 1}[h.OfferedTo(pt, registry.MustParseVersion(k))]
					fmt.Fprintf(&want, "%d %d %s %d %d\n", h.ID, id+1, k, offered, gpl)
				}
			}
		}
		if got := string(out); got != want.String() {
			t.Errorf("%q: the header's answers differ from the registry's:\n%s", table, firstLineDiff(want.String(), got))
		}
	}
}

func firstLineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(wl), len(gl)) {
		if wl[i] != gl[i] {
			return fmt.Sprintf("want %s\n got %s", wl[i], gl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(gl), len(wl))
}
