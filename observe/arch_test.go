package observe

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// TestWriteFileArch: the amd64 and the arm64 document of one kernel name go to two files of one
// directory, the amd64 one under the name and bytes it always had (no arch key), and each reads
// back as its architecture.
func TestWriteFileArch(t *testing.T) {
	dir := t.TempDir()
	amd, arm := testDoc(), testDoc()
	arm.Guest.Arch = observation.ArchARM64
	for _, tt := range []struct {
		doc      *observation.Document
		file     string
		wantArch observation.Arch
	}{
		{amd, "6.12.json", ""},
		{arm, "6.12-arm64.json", observation.ArchARM64},
	} {
		p, err := WriteFile(dir, Observation{Name: "6.12", Doc: tt.doc})
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) != tt.file {
			t.Errorf("written to %s, want %s", p, tt.file)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if hasKey := bytes.Contains(data, []byte(`"arch"`)); hasKey != (tt.wantArch != "") {
			t.Errorf("%s: arch key present %v: %s", tt.file, hasKey, data)
		}
		doc, err := observation.ReadFile(p)
		if err != nil || doc.Guest.Arch != tt.wantArch {
			t.Errorf("%s reads back with arch %q (%v), want %q", tt.file, doc.Guest.Arch, err, tt.wantArch)
		}
	}
	if got, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(got) != 2 {
		t.Errorf("files %v, want two", got)
	}
}

// TestFaultOutDirArch: CheckOutDir looks at the file names of the run's architecture: a FIFO
// where the arm64 document goes is refused for an arm64 run and none of an amd64 run's business.
func TestFaultOutDirArch(t *testing.T) {
	dir := t.TempDir()
	testenv.FIFO(t, filepath.Join(dir, "6.12-arm64.json"))
	for _, tt := range []struct {
		arch    observation.Arch
		refused bool
	}{
		{"", false},
		{observation.ArchAMD64, false},
		{observation.ArchARM64, true},
	} {
		err := CheckOutDir(dir, tt.arch, []string{"6.12"})
		if errors.Is(err, files.ErrRefused) != tt.refused {
			t.Errorf("arch %q: %v, want refused %v", tt.arch, err, tt.refused)
		}
	}
}

func TestFileName(t *testing.T) {
	for _, tt := range []struct {
		name string
		arch observation.Arch
		want string
	}{
		{"7.3", "", "7.3.json"},
		{"7.3", observation.ArchAMD64, "7.3.json"},
		{"7.3", observation.ArchARM64, "7.3-arm64.json"},
		{"mybuild", observation.ArchARM64, "mybuild-arm64.json"},
	} {
		if got := FileName(tt.name, tt.arch); got != tt.want {
			t.Errorf("FileName(%s, %s) = %s, want %s", tt.name, tt.arch, got, tt.want)
		}
	}
}

// TestReadDirArch: ReadDir names each document by its kernels.yaml name and its architecture
// comes from the document, not from the file's name: an arm64 document under the name run
// gives it is kernel 6.12 of arm64 (labelled 6.12-arm64), and a file merely named like one
// keeps its whole name.
func TestReadDirArch(t *testing.T) {
	amd, arm := testDoc(), testDoc()
	arm.Guest.Arch = observation.ArchARM64
	tests := []struct {
		file    string
		doc     *observation.Document
		name    string
		arch    observation.Arch
		label   string
		gzipped bool
	}{
		{file: "6.12.json", doc: amd, name: "6.12", arch: "amd64", label: "6.12"},
		{file: "6.12-arm64.json", doc: arm, name: "6.12", arch: "arm64", label: "6.12-arm64"},
		{file: "7.3-arm64.json.gz", doc: arm, name: "7.3", arch: "arm64", label: "7.3-arm64", gzipped: true},
		{file: "mybuild.json", doc: arm, name: "mybuild", arch: "arm64", label: "mybuild-arm64"},
		{file: "5.10-arm64.json", doc: amd, name: "5.10-arm64", arch: "amd64", label: "5.10-arm64"},
		{file: "-arm64.json", doc: arm, name: "-arm64", arch: "arm64", label: "-arm64-arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			data, err := observation.Encode(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if tt.gzipped {
				data = gzipped(t, data)
			}
			testenv.WriteFile(t, filepath.Join(dir, tt.file), data)
			obs, err := ReadDir(dir)
			if err != nil || len(obs) != 1 {
				t.Fatalf("ReadDir: %d observations, %v", len(obs), err)
			}
			o := obs[0]
			if o.Name != tt.name || o.Arch() != tt.arch || o.Label() != tt.label {
				t.Errorf("name %q arch %q label %q, want %q %q %q", o.Name, o.Arch(), o.Label(), tt.name, tt.arch, tt.label)
			}
		})
	}
}

// gzipped compresses data as recorded observations are kept.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
