package foreign

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/registry"
)

// TestFaultEDNTwoTableDefs: two (def helper-metadata ...) forms in one file are refused naming
// both lines; the reader used to take the first and drop the second without a word.
func TestFaultEDNTwoTableDefs(t *testing.T) {
	one := ednTable(ednEntryText("one-thing", 1))
	two := strings.Replace(ednTable(ednEntryText("other-thing", 2)), "(def helper-metadata", "(def ^:private helper-metadata", 1)
	src := one + ";; again\n" + two
	_, _, err := ParseTable("t.edn", []byte(src), FormatEDN)
	line := strings.Count(one, "\n") + 2 // after the first table and the comment
	want := fmt.Sprintf("t.edn:%d: a second (def helper-metadata ...) (the first is on line 1): keep one table", line)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %q\nin\n%s", err, want, src)
	}
	// One named table among other maps is still the table.
	if _, _, err := ParseTable("t.edn", []byte("(def other {:x 1})\n"+one), FormatEDN); err != nil {
		t.Errorf("one helper-metadata beside another def: %v", err)
	}
}

// bulk returns open, then item repeated to make the whole about 16 MiB (files.Registry.Max) bytes,
// then closer.
func bulk(open, item, closer string) []byte {
	n := (int(files.Registry.Max) - len(open) - len(closer)) / len(item)
	return []byte(open + strings.Repeat(item, n) + closer)
}

// TestFaultEDNValueCost: a file of the largest size read, all empty collections, used to make
// the EDN reader allocate 2.2 GB. It now stops at maxValues values, saying so, having allocated
// a small multiple of the input at most.
func TestFaultEDNValueCost(t *testing.T) {
	checkValueCost(t, FormatEDN, map[string][]byte{
		"vectors in a vector":    bulk("{:a [", "[] ", "]}"),
		"forms at the top level": bulk("", "[]\n", ""),
		"discarded forms":        bulk("{:a ", "#_[] ", "1}"),
	})
}

// TestFaultJSONValueCost: the same for the JSON reader, which allocated 1.1 GB, and 5.8 GB when
// every value was on a line of its own.
func TestFaultJSONValueCost(t *testing.T) {
	checkValueCost(t, FormatJSON, map[string][]byte{
		"arrays in an array":            bulk("[", "[],", "[]]"),
		"objects on lines of their own": bulk("[", "{}\n,", "{}]"),
	})
}

func checkValueCost(t *testing.T, format Format, inputs map[string][]byte) {
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			var err error
			n := testenv.Allocated(func() { _, _, err = ParseTable("big", data, format) })
			if err == nil || !strings.Contains(err.Error(), "values: a helper table of 211 helpers has some 14,000") {
				t.Errorf("got %v", err)
			}
			if limit := uint64(4 * len(data)); n > limit {
				t.Errorf("allocated %d MB reading %d MB, more than %d MB", n>>20, len(data)>>20, limit>>20)
			}
		})
	}
	// The bound leaves room: the embedded table reads back.
	def, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Export(&b, def, nil, format, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseTable("t", b.Bytes(), format); err != nil {
		t.Errorf("%s export of the embedded table: %v", format, err)
	}
}

// TestFaultEDNNestedKeyCost: maps written as keys of maps, 60 deep around a 15 MB string, made
// the duplicate-key check render the inner value once per enclosing map: 82 GB allocated. Each
// value is now digested once.
func TestFaultEDNNestedKeyCost(t *testing.T) {
	src := `"` + strings.Repeat("x", 15<<20) + `"`
	for range 60 {
		src = "{" + src + " 1 :b 2}"
	}
	var err error
	n := testenv.Allocated(func() { _, _, err = ParseTable("k.edn", []byte(src), FormatEDN) })
	if err == nil || !strings.Contains(err.Error(), "k.edn:1: helper table: want a keyword naming the helper") {
		t.Errorf("got %v", err)
	}
	if limit := uint64(4 * len(src)); n > limit {
		t.Errorf("allocated %d MB reading %d MB, more than %d MB", n>>20, len(src)>>20, limit>>20)
	}
}
