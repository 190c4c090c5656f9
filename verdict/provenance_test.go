package verdict

import (
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/registry/foreign"
)

// TestForeignTableClaimsOnly: an entry of a foreign table that leaves gpl_only out is not judged
// on it (the loader's default, false, is no claim), and the verdict names the entry as written;
// the same registry judged as our own YAML has every fact judged.
func TestForeignTableClaimsOnly(t *testing.T) {
	table := `[{"id": 5, "name": "ktime_get_ns", "signature": {"return": "u64", "args": []},
  "min_kernel": "4.1", "prog_types": ["socket_filter", "xdp"], "category": "time", "description": "Monotonic time."}]`
	r, prov, err := foreign.ParseTable("t.json", []byte(table), foreign.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	ks := []Kernel{kernel("6.1", "6.1.1", "5 socket_filter gpl_only", "5 xdp gpl_only")}
	hv := find(t, Judge(r, prov, ks), "ktime_get_ns")
	if hv.GPL != nil || hv.Entry != `entry 0 "ktime_get_ns" (t.json:1)` || strings.Contains(strings.Join(hv.Problems, "\n"), "gpl_only") {
		t.Errorf("foreign entry: gpl %+v, entry %q, problems %v", hv.GPL, hv.Entry, hv.Problems)
	}
	hv = find(t, Judge(r, nil, ks), "ktime_get_ns")
	if hv.GPL == nil || hv.GPL.Verdict != Contradicted || hv.Entry != "" {
		t.Errorf("the same entry as our own: gpl %+v, entry %q", hv.GPL, hv.Entry)
	}
}
