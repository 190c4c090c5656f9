package registry

import (
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// newestHelperID is the last id in the newest kernel's enum bpf_func_id (Linux 7.3:
// cgrp_storage_delete). Later kernels add kfuncs, not helpers.
const newestHelperID = 211

func TestEmbeddedRegistryIsComplete(t *testing.T) {
	reg := testenv.Must(Default())(t)
	hs := reg.Helpers()
	if len(hs) != newestHelperID {
		t.Fatalf("embedded registry has %d helpers, want %d", len(hs), newestHelperID)
	}
	for i, h := range hs {
		if h.ID != i+1 {
			t.Fatalf("helper %d has id %d: ids must be 1..%d without gaps", i, h.ID, newestHelperID)
		}
		if h.Line() == 0 {
			t.Errorf("%s: no line recorded", h.Name)
		}
	}
}

// TestEmbeddedRegistryFacts spot-checks facts that tables elsewhere often get wrong.
func TestEmbeddedRegistryFacts(t *testing.T) {
	reg := testenv.Must(Default())(t)
	tests := []struct {
		id        int
		name      string
		minKernel string
		gplOnly   bool
		category  string
	}{
		{1, "map_lookup_elem", "3.19", false, "map"},
		{4, "probe_read", "4.1", true, "probe"},
		{5, "ktime_get_ns", "4.1", false, "time"},
		{6, "trace_printk", "4.1", true, "debug"},
		{125, "ktime_get_boot_ns", "5.8", false, "time"},
		{130, "ringbuf_output", "5.8", false, "ringbuf"},
		{147, "d_path", "5.10", false, ""},
		{148, "copy_from_user", "5.10", false, ""},
		{173, "get_func_ip", "5.15", false, ""},
		{192, "skb_set_tstamp", "5.18", false, ""},
		{211, "cgrp_storage_delete", "6.2", false, ""},
	}
	for _, tt := range tests {
		h, ok := reg.ByID(tt.id)
		if !ok {
			t.Errorf("id %d missing", tt.id)
			continue
		}
		if h.Name != tt.name || h.MinKernel.Compare(MustParseVersion(tt.minKernel)) != 0 {
			t.Errorf("id %d = %s (%s), want %s (%s)", tt.id, h.Name, h.MinKernel, tt.name, tt.minKernel)
		}
		if tt.category != "" && (h.GPLOnly != tt.gplOnly || h.Category != tt.category) {
			t.Errorf("%s: gpl_only %v category %s, want %v %s", h.Name, h.GPLOnly, h.Category, tt.gplOnly, tt.category)
		}
	}
}
