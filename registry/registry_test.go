package registry

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func small(t *testing.T) *Registry {
	t.Helper()
	reg, err := Load(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func names(hs []*Helper) string {
	var n []string
	for _, h := range hs {
		n = append(n, h.Name)
	}
	return strings.Join(n, ",")
}

func TestLookup(t *testing.T) {
	reg := small(t)
	tests := []struct {
		query  string
		wantID int // 0: not found
	}{
		{"map_lookup_elem", 1},
		{"bpf_map_lookup_elem", 1},
		{"skb_set_tstamp", 192},
		{"bpf_bpf_map_lookup_elem", 0},
		{"map_lookup", 0},
		{"", 0},
	}
	for _, tt := range tests {
		h, ok := reg.Lookup(tt.query)
		if (tt.wantID == 0) == ok || (ok && h.ID != tt.wantID) {
			t.Errorf("Lookup(%q) = %v, %v; want id %d", tt.query, h, ok, tt.wantID)
		}
	}
}

func TestFind(t *testing.T) {
	reg := small(t)
	tests := []struct {
		in     string
		wantID int
		err    string
	}{
		{"192", 192, ""},
		{"bpf_ktime_get_ns", 5, ""},
		{"ktime_get_ns", 5, ""},
		{"2", 0, "unknown helper: id 2"},
		{"nope", 0, `unknown helper: "nope"`},
	}
	for _, tt := range tests {
		h, err := reg.Find(tt.in)
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err || !errors.Is(err, ErrUnknownHelper) {
				t.Errorf("Find(%q) error = %v, want %q", tt.in, err, tt.err)
			}
		case err != nil || h.ID != tt.wantID:
			t.Errorf("Find(%q) = %v, %v; want id %d", tt.in, h, err, tt.wantID)
		}
	}
}

func TestByIDAndCategories(t *testing.T) {
	reg := small(t)
	if h, ok := reg.ByID(4); !ok || h.Name != "probe_read" || !h.GPLOnly {
		t.Errorf("ByID(4) = %+v", h)
	}
	if _, ok := reg.ByID(2); ok {
		t.Error("ByID(2) found a helper the file lacks")
	}
	if got := strings.Join(reg.Categories(), ","); got != "map,network,probe,time" {
		t.Errorf("Categories() = %s", got)
	}
	if got := names(reg.ByCategory("time")); got != "ktime_get_ns,ktime_get_boot_ns" {
		t.Errorf("ByCategory(time) = %s", got)
	}
	if got := reg.ByCategory("nosuch"); len(got) != 0 {
		t.Errorf("ByCategory(nosuch) = %v", got)
	}
}

func TestAvailableAndCompatible(t *testing.T) {
	reg := small(t)
	v := MustParseVersion
	tests := []struct {
		progType string
		kernel   string // "" = any kernel
		want     string
	}{
		{"xdp", "", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns"},
		{"xdp", "5.7", "map_lookup_elem,ktime_get_ns"},
		{"xdp", "5.8", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns"},
		{"xdp", "6.10", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns"},
		{"sched_cls", "5.18.0", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns,skb_set_tstamp"},
		{"sched_cls", "5.17.15", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns"},
		{"tracing", "5.4", "map_lookup_elem,ktime_get_ns"},                                                // probe_read reached tracing in 5.5
		{"tracing", "5.5", "map_lookup_elem,probe_read,ktime_get_ns"},                                     // ...
		{"kprobe", "6.1.192", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns,copy_from_user"}, // until 6.1 covers 6.1.x
		{"kprobe", "6.2", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns"},                    // withdrawn after 6.1
		{"lsm", "6.12", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns,copy_from_user"},
		{"lsm", "6.1.192", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns,copy_from_user"},
		{"lsm", "6.2", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns"},     // in the gap 6.2..6.6
		{"lsm", "6.6.100", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns"}, // a gap end covers its series
		{"lsm", "6.7", "map_lookup_elem,ktime_get_ns,ktime_get_boot_ns,copy_from_user"},
		// ext programs inherit the helpers of the program they replace: any type's will do.
		{"ext", "5.4", "map_lookup_elem,probe_read,ktime_get_ns"},
		{"ext", "6.4", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns,copy_from_user,skb_set_tstamp"},
		{"ext", "", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns,copy_from_user,skb_set_tstamp"},
	}
	for _, tt := range tests {
		var k *Version
		if tt.kernel != "" {
			kv := v(tt.kernel)
			k = &kv
		}
		got, err := reg.Available(tt.progType, k)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != tt.want {
			t.Errorf("Available(%s, %s) = %s, want %s", tt.progType, tt.kernel, names(got), tt.want)
		}
		if k == nil {
			continue
		}
		// Compatible must agree with Available for every helper.
		for _, h := range reg.Helpers() {
			ok, err := reg.Compatible(h.Name, tt.progType, *k)
			if err != nil {
				t.Fatal(err)
			}
			if ok != strings.Contains(","+tt.want+",", ","+h.Name+",") {
				t.Errorf("Compatible(%s, %s, %s) = %v disagrees with Available", h.Name, tt.progType, tt.kernel, ok)
			}
		}
	}
	if _, err := reg.Available("xdpp", nil); !errors.Is(err, ErrUnknownProgType) {
		t.Errorf("Available(xdpp): %v", err)
	}
	if _, err := reg.Compatible("ktime_get_ns", "unspec", v("6.1")); !errors.Is(err, ErrUnknownProgType) {
		t.Errorf("Compatible with prog type unspec: %v", err)
	}
	if _, err := reg.Compatible("nope", "xdp", v("6.1")); !errors.Is(err, ErrUnknownHelper) {
		t.Errorf("Compatible(nope): %v", err)
	}
}

// TestCheck checks that the reason given for an answer is the fact that decided it.
func TestCheck(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A helper every type has withdrawn: no program an ext program could replace still has it.
	text = append(text, entry(300, "gone", `  prog_type_until: {xdp: "5.10", sched_cls: "5.10"}`)...)
	reg, err := Parse("t.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		helper, progType, kernel string
		ok                       bool
		reason                   string // substring; "" = none
		targets                  string
	}{
		{"copy_from_user", "lsm", "6.4", false, "bpf_copy_from_user was withdrawn from lsm programs in 6.2..6.6 (prog_type_gaps), which includes 6.4", ""},
		{"copy_from_user", "lsm", "6.6.100", false, "in 6.2..6.6 (prog_type_gaps), which includes 6.6.100", ""},
		{"copy_from_user", "lsm", "6.7", true, "", ""},
		{"copy_from_user", "kprobe", "6.2", false, "withdrawn from kprobe programs after 6.1", ""},
		{"copy_from_user", "lsm", "5.9", false, "first appeared in 5.10, newer than 5.9", ""},
		{"probe_read", "tracing", "5.4", false, "reached tracing programs in 5.5, newer than 5.4", ""},
		{"skb_set_tstamp", "xdp", "6.10", false, "is not offered to xdp programs (declared: sched_cls, sched_act)", ""},
		{"copy_from_user", "ext", "6.4", true, "may be called from ext programs on 6.4 that replace a program of a type that may call it: tracing, syscall", "tracing,syscall"},
		{"skb_set_tstamp", "ext", "6.1", true, "that may call it: sched_cls, sched_act", "sched_cls,sched_act"},
		{"ktime_get_ns", "ext", "6.1", true, "", ""}, // prog_types: all holds ext itself
		{"copy_from_user", "ext", "5.9", false, "first appeared in 5.10, newer than 5.9", ""},
		{"gone", "ext", "6.1", false, "bpf_gone is offered to no program type on 6.1", ""},
		{"gone", "ext", "5.10", true, "that may call it: sched_cls, xdp", "sched_cls,xdp"},
	}
	for _, tt := range tests {
		t.Run(tt.helper+" "+tt.progType+" "+tt.kernel, func(t *testing.T) {
			c, err := reg.Check(tt.helper, tt.progType, MustParseVersion(tt.kernel))
			if err != nil {
				t.Fatal(err)
			}
			if c.OK != tt.ok || tt.reason == "" && c.Reason != "" || !strings.Contains(c.Reason, tt.reason) || strings.Join(c.Targets, ",") != tt.targets {
				t.Errorf("Check = ok %v, reason %q, targets %v; want ok %v, reason ~ %q, targets %s", c.OK, c.Reason, c.Targets, tt.ok, tt.reason, tt.targets)
			}
			if tt.progType != ExtProgType && c.OK != c.Helper.OfferedTo(tt.progType, c.Kernel) {
				t.Errorf("Check and OfferedTo disagree")
			}
			if why := c.Helper.WhyNotOffered(tt.progType, c.Kernel); tt.progType != ExtProgType && why != c.Reason {
				t.Errorf("WhyNotOffered = %q, Check's reason %q", why, c.Reason)
			}
		})
	}
}

func TestForKernel(t *testing.T) {
	reg := small(t)
	tests := []struct{ kernel, want string }{
		{"4.0", "map_lookup_elem"},
		{"5.8", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns"},
		{"5.10.223", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns,copy_from_user"},
		{"7.3", "map_lookup_elem,probe_read,ktime_get_ns,ktime_get_boot_ns,copy_from_user,skb_set_tstamp"},
	}
	for _, tt := range tests {
		if got := names(reg.ForKernel(MustParseVersion(tt.kernel))); got != tt.want {
			t.Errorf("ForKernel(%s) = %s, want %s", tt.kernel, got, tt.want)
		}
	}
}

func TestDescribeAndSignature(t *testing.T) {
	reg := small(t)
	h, _ := reg.Lookup("copy_from_user")
	d := h.Describe()
	for _, want := range []string{
		"bpf_copy_from_user (id 148)",
		"long bpf_copy_from_user(void *dst, u32 size, const void *user_ptr)",
		"since kernel:  5.10",
		"kprobe: until 6.1",
		"sleepable programs only",
		"note: the kprobe withdrawal",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe() lacks %q:\n%s", want, d)
		}
	}
	k, _ := reg.Lookup("ktime_get_ns")
	if got := k.Signature.C(k.Name); got != "u64 bpf_ktime_get_ns(void)" {
		t.Errorf("C() = %q", got)
	}
	m, _ := reg.Lookup("map_lookup_elem")
	if got := m.Signature.C(m.Name); got != "void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)" {
		t.Errorf("C() = %q", got)
	}
}

func TestJSONShape(t *testing.T) {
	reg := small(t)
	h, _ := reg.Lookup("probe_read")
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["min_kernel"] != "4.1" || m["id"] != float64(4) || m["name"] != "probe_read" || m["gpl_only"] != true {
		t.Errorf("JSON = %s", b)
	}
	if pt, ok := m["prog_types"].([]any); !ok || len(pt) != 5 {
		t.Errorf("prog_types = %v", m["prog_types"])
	}
	if since := m["prog_type_since"].(map[string]any); since["tracing"] != "5.5" {
		t.Errorf("prog_type_since = %v", since)
	}
	sig := m["signature"].(map[string]any)
	if sig["return"] != "long" || len(sig["args"].([]any)) != 3 {
		t.Errorf("signature = %v", sig)
	}
	k, _ := reg.Lookup("ktime_get_ns")
	b, _ = json.Marshal(k)
	if !strings.Contains(string(b), `"prog_types":"all"`) || !strings.Contains(string(b), `"args":[]`) || strings.Contains(string(b), "notes") {
		t.Errorf("JSON = %s", b)
	}
	var back Helper
	if err := json.Unmarshal(b, &back); err != nil || !back.ProgTypes.All || back.MinKernel.String() != "4.1" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
