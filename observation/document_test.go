package observation

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

func validDoc() *Document {
	return &Document{
		Facts: Facts{
			Kernel:       KernelInfo{Release: "7.3.4+deb13-cloud-amd64", Version: "7.3.4"},
			BTFHelperIDs: []int{1, 2},
			ProgTypes:    []ProgTypeInfo{{Name: "xdp", Present: true, Variants: []VariantInfo{{Name: "xdp", Usable: true}}}},
		},
		Results: []Result{{HelperID: 1, Helper: "map_lookup_elem", ProgType: "xdp", Variant: "xdp", Outcome: Supported, Detail: "R1 type=scalar expected=map_ptr <&>"}},
		Guest:   &Guest{Status: StatusOK, Accel: "tcg", Image: Image{SHA256: "ab", Version: "7.3.4"}},
	}
}

// TestRoundTrip: what Encode writes, Parse reads back unchanged, with the schema stamped and
// the verifier's "<", ">" and "&" kept as they are (the checksum is over these bytes).
func TestRoundTrip(t *testing.T) {
	d := validDoc()
	data, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("<&>")) || !bytes.HasPrefix(data, []byte(`{"schema":1,`)) {
		t.Fatalf("encoded: %s", data)
	}
	got, err := Parse("mem", data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Encode(got)
	if !bytes.Equal(data, again) {
		t.Fatalf("round trip changed the document:\n%s\n%s", data, again)
	}
	if Checksum(data) != Checksum(again) || len(Checksum(data)) != 64 {
		t.Fatal("checksum")
	}
}

// TestFaultObservationParse: every input that is not a kernel's document is an error naming the
// source and saying what is wrong, never an "ok" kernel with no results.
func TestFaultObservationParse(t *testing.T) {
	good, _ := Encode(validDoc())
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "empty file"},
		{"null", "null", "want a JSON object"},
		{"array", "[]", "want a JSON object"},
		{"empty object", "{}", "no guest block"},
		{"cut", string(good[:len(good)/2]), "JSON cut off"},
		{"trailing garbage", string(good) + "{}", "more than one JSON value"},
		{"foreign keys", `{"schema":1,"kernels":[],"helpers":[]}`, `unknown field "kernels"`},
		{"newer schema", strings.Replace(string(good), `"schema":1`, `"schema":99`, 1), "schema 99 is newer"},
		{"no status", strings.Replace(string(good), `"status":"ok"`, `"status":""`, 1), "no status"},
		{"odd status", strings.Replace(string(good), `"status":"ok"`, `"status":"fine"`, 1), `guest status "fine"`},
		{"ok without results", strings.Replace(string(good), `"results":[{`, `"results":[],"x":[{`, 1), "unknown field"},
		{"unknown outcome", strings.Replace(string(good), `"outcome":"supported"`, `"outcome":"maybe"`, 1), `unknown outcome "maybe"`},
		{"unknown arch", strings.Replace(string(good), `"version":"7.3.4",`, `"version":"7.3.4","arch":"riscv64",`, 1), `unknown architecture "riscv64"`},
		{"ok without release", strings.Replace(string(good), `"release":"7.3.4+deb13-cloud-amd64"`, `"release":""`, 1), "no kernel release"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("dir/7.3.json", []byte(tt.data))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "dir/7.3.json") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v: want one naming dir/7.3.json and saying %q", err, tt.want)
			}
		})
	}
	// A failed kernel needs nothing but its guest block: it is what a kernel that never booted leaves.
	if _, err := Parse("f", []byte(`{"results":[],"guest":{"status":"failed","error":"kernel image: 404"}}`)); err != nil {
		t.Fatalf("failed kernel: %v", err)
	}
	// An arm64 guest says so; an amd64 one (the default) writes no arch key, as before the key existed.
	arm := validDoc()
	arm.Guest.Arch = ArchARM64
	armData, _ := Encode(arm)
	if d, err := Parse("arm", armData); err != nil || d.Guest.Arch != ArchARM64 {
		t.Fatalf("arm64 document: %v", err)
	}
	if bytes.Contains(good, []byte(`"arch"`)) || !bytes.Contains(armData, []byte(`"arch":"arm64"`)) {
		t.Fatalf("arch key: amd64 %s / arm64 %s", good, armData)
	}
	// Documents written before the schema key are version 1.
	if _, err := Parse("old", bytes.Replace(good, []byte(`"schema":1,`), nil, 1)); err != nil {
		t.Fatalf("document without schema: %v", err)
	}
}

// TestFaultObservationReadFile reads plain and gzipped documents and refuses what is not a regular file.
func TestFaultObservationReadFile(t *testing.T) {
	dir := t.TempDir()
	good, _ := Encode(validDoc())
	plain := filepath.Join(dir, "7.3.json")
	os.WriteFile(plain, good, 0o644)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(good)
	zw.Close()
	gz := filepath.Join(dir, "7.3.json.gz")
	os.WriteFile(gz, zb.Bytes(), 0o644)
	for _, p := range []string{plain, gz} {
		if d, err := ReadFile(p); err != nil || len(d.Results) != 1 {
			t.Errorf("%s: %v", p, err)
		}
	}
	badGz := filepath.Join(dir, "cut.json.gz")
	os.WriteFile(badGz, zb.Bytes()[:zb.Len()/2], 0o644)
	fifo := filepath.Join(dir, "fifo.json")
	testenv.FIFO(t, fifo)
	for _, tt := range []struct{ path, want string }{
		{badGz, "gzip"},
		{fifo, "not a regular file"},
		{"/dev/zero", "not a regular file"},
		{dir, "not a regular file"},
	} {
		if _, err := ReadFile(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: error %v, want one naming it and saying %q", tt.path, err, tt.want)
		}
	}
}
