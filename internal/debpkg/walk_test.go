package debpkg

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

// TestWalk streams a package's files through the callback, stops early on ErrStopWalk without an
// error, passes the callback's own errors on, names the file of a broken package and stops
// when the context is done.
func TestWalk(t *testing.T) {
	deb := testenv.WriteFile(t, filepath.Join(t.TempDir(), "t.deb"), buildDeb(t, "xz", map[string]string{"a/one": "1", "a/two": "22"}))
	broken := testenv.WriteFile(t, filepath.Join(t.TempDir(), "broken.deb"), []byte("!<arch>\nnot really\n"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	mine := errors.New("mine")
	tests := []struct {
		name    string
		ctx     context.Context
		path    string
		stopAt  string // the file at which the callback returns stopWith
		stop    error
		seen    string // regular files seen, with their contents
		wantErr error
		errText string
	}{
		{"every file", context.Background(), deb, "", nil, "a/one=1 a/two=22", nil, ""},
		{"stopped early", context.Background(), deb, "a/one", ErrStopWalk, "a/one=1", nil, ""},
		{"the callback's error", context.Background(), deb, "a/one", mine, "a/one=1", mine, ""},
		{"a broken package", context.Background(), broken, "", nil, "", nil, "read broken.deb: "},
		{"cancelled", cancelled, deb, "", nil, "", context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			err := Walk(tt.ctx, tt.path, nil, func(hdr *tar.Header, r io.Reader) error {
				if hdr.Typeflag != tar.TypeReg || !strings.HasPrefix(strings.TrimPrefix(hdr.Name, "./"), "a/") {
					return nil
				}
				name := strings.TrimPrefix(hdr.Name, "./")
				b, _ := io.ReadAll(r)
				seen = append(seen, name+"="+string(b))
				if name == tt.stopAt {
					return tt.stop
				}
				return nil
			})
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("error %v, want %v", err, tt.wantErr)
			case tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText)):
				t.Errorf("error %v, want one saying %q", err, tt.errText)
			case tt.wantErr == nil && tt.errText == "" && err != nil:
				t.Errorf("error %v", err)
			}
			if got := strings.Join(seen, " "); got != tt.seen {
				t.Errorf("seen %q, want %q", got, tt.seen)
			}
		})
	}
}
