package bpfobj

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// allocBound is the most a parse of data may allocate: the ELF and BTF readers copy sections and
// build types, a small multiple of the input, beside the loader's fixed tables.
func allocBound(data []byte) uint64 { return 32<<20 + 256*uint64(len(data)) }

// FuzzRead: for any bytes, parse returns an object or an error, never both and never a panic,
// within allocBound and 10 s; an error is bad input naming the file, and every program it lists has a
// name and a section.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"progs", "weak"} {
		f.Add(testenv.Must(os.ReadFile(compile(f, name)))(f))
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("not an object\n"))
	testenv.Must(helpers())(f) // the registry is read once, outside what is measured
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj *Object
		var err error
		var n uint64
		testenv.Within(t, "parse", 10*time.Second, func() error {
			n = testenv.Allocated(func() { obj, err = parse("fuzz.o", data) })
			return nil
		})
		if n > allocBound(data) {
			t.Fatalf("parse of %d bytes allocated %d bytes, more than %d", len(data), n, allocBound(data))
		}
		if err != nil {
			if obj != nil || !errors.Is(err, ErrBadInput) {
				t.Fatalf("parse = %v, %v: want no object and a bad input error", obj, err)
			}
			return
		}
		if obj == nil || obj.Path != "fuzz.o" {
			t.Fatalf("parse = %v, nil", obj)
		}
		for _, p := range obj.Programs {
			if p.Name == "" || p.Section == "" {
				t.Fatalf("a program without a name or a section: %+v", p)
			}
		}
	})
}
