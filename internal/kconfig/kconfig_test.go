package kconfig

import (
	"bytes"
	"compress/gzip"
	"path/filepath"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

const sample = `#
# Automatically generated file; DO NOT EDIT.
CONFIG_BPF=y
CONFIG_BPF_LSM=y
CONFIG_VIRTIO_CONSOLE=m
# CONFIG_FUNCTION_ERROR_INJECTION is not set
CONFIG_LSM="landlock,lockdown,yama,bpf"
CONFIG_NR_CPUS=8192
`

func TestRead(t *testing.T) {
	dir := t.TempDir()
	plain := testenv.WriteFile(t, filepath.Join(dir, "config"), []byte(sample))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(sample))
	zw.Close()
	zipped := testenv.WriteFile(t, filepath.Join(dir, "config.gz"), gz.Bytes())
	for _, p := range []string{plain, zipped} {
		c, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			option, value string
			set           bool
		}{
			{"CONFIG_BPF", "y", true},
			{"CONFIG_VIRTIO_CONSOLE", "m", true},
			{"CONFIG_FUNCTION_ERROR_INJECTION", "n", false},
			{"CONFIG_LSM", "landlock,lockdown,yama,bpf", false},
			{"CONFIG_NR_CPUS", "8192", false},
			{"CONFIG_UNKNOWN", "", false},
		}
		for _, tt := range tests {
			if c[tt.option] != tt.value || c.Set(tt.option) != tt.set {
				t.Errorf("%s: %s = %q (set %v), want %q (set %v)", p, tt.option, c[tt.option], c.Set(tt.option), tt.value, tt.set)
			}
		}
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read without error")
	}
}
