package report

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"

	"github.com/bpfmatrix/bpfmatrix/registry"
)

// TestFailedAttempts: a kernel booted again after a failed boot keeps that failure in the report.
func TestFailedAttempts(t *testing.T) {
	data := []byte(`{"kernel":{"release":"6.17.13+deb13-cloud-amd64","version":"6.17.13"},
		"prog_types":[{"name":"xdp","present":true,"variants":[{"name":"xdp","usable":true}]}],
		"results":[{"helper_id":5,"helper":"ktime_get_ns","prog_type":"xdp","variant":"xdp","outcome":"supported","detail":"loaded"}],
		"guest":{"status":"ok","version":"6.17.13","failed_attempts":[{"error":"kernel: Oops: double fault","console_tail":"..."}]}}`)
	doc, err := observation.Parse("test", data)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FromDocument("6.17", "test", doc)
	if err != nil {
		t.Fatal(err)
	}
	if k.Failed || len(k.FailedAttempts) != 1 || k.FailedAttempts[0] != "kernel: Oops: double fault" {
		t.Fatalf("kernel %+v", k)
	}
	reg, err := registry.Load(filepath.Join("..", "registry", "testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	if err := Build(reg, nil, []Kernel{k}, "test").WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "6.17: an earlier boot failed and the kernel was booted again: kernel: Oops: double fault") {
		t.Errorf("markdown lacks the failed attempt:\n%s", md.String())
	}
}
