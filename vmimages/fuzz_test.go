package vmimages

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseConfig: the kernels.yaml loader answers any input with a config or an error naming
// the file, never a panic; a config it accepts has entries with names and sources.
func FuzzParseConfig(f *testing.F) {
	repo, err := os.ReadFile(filepath.Join("..", "kernels.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(repo)
	for _, s := range []string{
		"kernels:\n  - name: \"5.10\"\n    debian: {series: \"5.10\"}\n",
		"kernels:\n  - name: mine\n    path: {image: bzImage, config: .config}\n    append: [quiet]\n",
		"kernels: []\n", "---\n", "kernels:\n  - &a {name: x, path: y}\n  - *a\n", "kernels: !!binary AAAA\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t, data)()
		cfg, err := ParseConfig(data, "/k/kernels.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "kernels.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		for _, e := range cfg.Entries {
			if e.Name == "" || e.Source == nil || e.Source.Spec() == "" {
				t.Errorf("accepted an entry without name or source: %+v", e)
			}
		}
	})
}

// FuzzParseLock: the kernels.lock reader answers any input with a lock or an error naming the
// file, never a panic; a lock it accepts writes back to the same lock.
func FuzzParseLock(f *testing.F) {
	repo, err := os.ReadFile(filepath.Join("..", "kernels.lock"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(repo)
	f.Add([]byte("kernels:\n  - name: x\n    source: \"path a\"\n    release: \"7.3.0\"\n    vmlinuz_sha256: \"" + strings.Repeat("a", 64) + "\"\n"))
	f.Add([]byte("kernels:\n"))
	f.Add([]byte("kernels: 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t, data)()
		l, err := ParseLock(data, "/k/kernels.lock")
		if err != nil {
			if !strings.Contains(err.Error(), "kernels.lock") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		again, err := ParseLock(l.Marshal(), "/k/kernels.lock")
		if err != nil {
			t.Fatalf("the lock written from an accepted one does not parse: %v\n%s", err, l.Marshal())
		}
		if len(again.Entries) != len(l.Entries) {
			t.Errorf("round trip: %d entries, then %d", len(l.Entries), len(again.Entries))
		}
	})
}

// watchdog fails the test, naming the input, when a parse takes more than a few seconds: a loader
// that spins on some input would hang a command.
func watchdog(t *testing.T, data []byte) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			panic(fmt.Sprintf("parse did not finish within 5s on %q", data))
		}
	}()
	return func() { close(done) }
}
