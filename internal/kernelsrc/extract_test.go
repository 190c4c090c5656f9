package kernelsrc

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

func TestExtractRoundTrip(t *testing.T) {
	s := tinySource(t)
	s.Package, s.DebianVersion = "linux-source-6.12", "6.12.1-1"
	s.Sets[0].Kfuncs[0].Flags = []string{"KF_ACQUIRE", "KF_RET_NULL"}
	s.Registrations[0].Guard = "defined(CONFIG_A) || IS_ENABLED(CONFIG_B)"
	s.IDSets[1].Owner = "THIS_MODULE"
	var buf bytes.Buffer
	if err := s.WriteExtract(&buf, "a header line"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "# a header line\npackage linux-source-6.12\ndebian-version 6.12.1-1\n") {
		t.Errorf("extract starts %q", buf.String()[:80])
	}
	back, err := ReadExtract("x", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("read back:\n%+v\nwrote:\n%+v", back, s)
	}
}

func TestReadExtractErrors(t *testing.T) {
	valid := "hook BPF_PROG_TYPE_UNSPEC COMMON\nhook BPF_PROG_TYPE_XDP XDP\n"
	tests := []struct {
		name, text, want string
	}{
		{"unknown line", valid + "sets a.c:1 s\n", "x:3: unknown line"},
		{"missing field", valid + "set a.c:1\n", "x:3: set line: 2 fields, want 3"},
		{"kfunc before set", valid + "kfunc 1 f -\n", "before any set"},
		{"bad place", valid + "set a.c s\n", "want file:line"},
		{"bad kfunc line", valid + "set a.c:1 s\nkfunc one f -\n", "line \"one\""},
		{"guard where none belongs", valid + "set a.c:1 s if CONFIG_X\n", "no guard expected"},
		{"no hooks", "kernel 6.12.1\n", "no hook lines"},
		{"dangling registration", valid + "register a.c:1 BPF_PROG_TYPE_XDP nothing\n", "nothing is not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadExtract("x", strings.NewReader(tt.text))
			testenv.WantErr(t, err, tt.want)
		})
	}
}
