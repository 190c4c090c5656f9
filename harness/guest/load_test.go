package guest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/internal/testobjects"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// writeFile writes text to a new file in t's temporary directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	testenv.Must(0, os.WriteFile(path, []byte(text), 0o644))(t)
	return path
}

func TestReadPlan(t *testing.T) {
	for _, tc := range []struct {
		name, text, err string
		want            wire.LoadPlan
	}{
		{name: "full", text: `{"objects":[{"path":"/bpfmatrix/objects/0.o","name":"a.o","sha256":"ab"}],"set":["p.target=f"],"attach":true}`,
			want: wire.LoadPlan{Objects: []wire.LoadObject{{Path: "/bpfmatrix/objects/0.o", Name: "a.o", SHA256: "ab"}}, Set: []string{"p.target=f"}, Attach: true}},
		{name: "empty", text: `{"objects":[]}`, want: wire.LoadPlan{Objects: []wire.LoadObject{}}},
		{name: "unknown key", text: `{"objects":[],"force":true}`, err: `unknown field "force"`},
		{name: "trailing data", text: `{"objects":[]} {}`, err: "data after the plan"},
		{name: "no path", text: `{"objects":[{"name":"a.o"}]}`, err: "object 1 has no path"},
		{name: "not JSON", text: `objects`, err: "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "load.json", tc.text)
			got, err := readPlan(path)
			if tc.err != "" {
				if testenv.WantErr(t, err, tc.err) && !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(tc.want)
			if string(a) != string(b) {
				t.Errorf("plan %s, want %s", a, b)
			}
		})
	}
	_, err := readPlan(filepath.Join(t.TempDir(), "none.json"))
	testenv.WantErr(t, err, "load plan")
}

func TestLoadOptions(t *testing.T) {
	cfg := writeFile(t, "config", "CONFIG_HZ=250\n")
	opts, err := loadOptions(wire.LoadPlan{Set: []string{"a.o:events.max_entries=8", "p.target=f"}, Attach: true}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Set) != 2 || opts.Set[0].MaxEntries != 8 || opts.Set[1].Value != "f" || !opts.Attach || opts.KernelConfig != cfg {
		t.Errorf("options %+v", opts)
	}
	opts, _ = loadOptions(wire.LoadPlan{}, filepath.Join(t.TempDir(), "missing"))
	if opts.KernelConfig != "" {
		t.Errorf("kernel config %q taken from a file that does not exist", opts.KernelConfig)
	}
	_, err = loadOptions(wire.LoadPlan{Set: []string{"p.colour=red"}}, cfg)
	testenv.WantErr(t, err, `unknown key "colour"`)
}

// TestRunPlan runs a plan of two test objects in this host's kernel, as a guest would: the
// kernel's facts first, then one answer per program, object by object in plan order.
func TestRunPlan(t *testing.T) {
	testenv.NeedRoot(t)
	plan := wire.LoadPlan{Objects: []wire.LoadObject{
		{Path: testobjects.Path(t, "attach_target"), Name: "first.o", SHA256: "1"},
		{Path: testobjects.Path(t, "xdp_pass"), Name: "second.o", SHA256: "2"},
	}}
	var headers []observation.Facts
	var loads []observation.ProgramLoad
	header := func(v any) error { headers = append(headers, v.(observation.Facts)); return nil }
	result := func(v any) error { loads = append(loads, v.(observation.ProgramLoad)); return nil }
	var log strings.Builder
	if err := runPlan(context.Background(), plan, testenv.Must(loadOptions(plan, ""))(t), &log, header, result); err != nil {
		t.Fatal(err)
	}
	if len(headers) != 1 || headers[0].Kernel.Release == "" || headers[0].Kernel.Version == "" {
		t.Errorf("headers %+v, want one with the kernel's release and version", headers)
	}
	var got []string
	for _, l := range loads {
		got = append(got, l.Object+":"+l.Program)
	}
	want := []string{"first.o:fentry_missing", "first.o:tp_btf_missing", "second.o:pass"}
	if !slices.Equal(got, want) {
		t.Errorf("answers %v, want %v", got, want)
	}
	if !strings.Contains(log.String(), "second.o: 1 programs") {
		t.Errorf("log %q", log.String())
	}
	plan.Objects = append(plan.Objects, wire.LoadObject{Path: writeFile(t, "bad.o", "text"), Name: "bad.o"})
	loads = nil
	err := runPlan(context.Background(), plan, testenv.Must(loadOptions(plan, ""))(t), nil, header, result)
	if testenv.WantErr(t, err, "load bad.o") && len(loads) != 3 {
		t.Errorf("a bad third object: %d answers sent before the error, want the first two objects' 3", len(loads))
	}
}
