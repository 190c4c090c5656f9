package tempdir

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
)

const envChild = "TEMPDIR_TEST_CHILD"

func TestMain(m *testing.M) {
	if parent := os.Getenv(envChild); parent != "" {
		// A process that makes a directory and is then killed with SIGKILL, running no cleanup.
		d, err := New(parent, "bpfmatrix-")
		if err != nil {
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(d.Path, "initrd"), make([]byte, 1<<20), 0o644)
		os.Stdout.WriteString(d.Path + "\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killedOwner runs a child that makes a directory in parent and kills it with SIGKILL.
func killedOwner(t *testing.T, parent string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestFaultSweepKilled: the directory of a process killed with SIGKILL is removed by the next
// sweep; a live one, one without our lock file (someone else's), one of another prefix and a
// symbolic link are kept.
func TestFaultSweepKilled(t *testing.T) {
	parent := t.TempDir()
	dead := killedOwner(t, parent)
	live, err := New(parent, "bpfmatrix-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()
	foreign := filepath.Join(parent, "bpfmatrix-theirs")
	other := filepath.Join(parent, "other-")
	for _, d := range []string{foreign, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A directory of another prefix with a free lock file: the prefix is what makes it ours.
	if err := os.WriteFile(filepath.Join(other, LockName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "bpfmatrix-link")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	removed := Sweep(parent, "bpfmatrix-", 0)
	if len(removed) != 1 || removed[0] != dead {
		t.Errorf("removed %v, want only %s", removed, dead)
	}
	for _, keep := range []string{live.Path, foreign, other, link} {
		if _, err := os.Lstat(keep); err != nil {
			t.Errorf("%s was removed: %v", keep, err)
		}
	}
	if err := live.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live.Path); !os.IsNotExist(err) {
		t.Errorf("Remove left %s: %v", live.Path, err)
	}
}

// TestSweepOrphanAge: in a parent bpfmatrix owns, a directory without a lock file is removed only
// once it is older than the age given.
func TestSweepOrphanAge(t *testing.T) {
	parent := t.TempDir()
	old, young := filepath.Join(parent, ".staging-old"), filepath.Join(parent, ".staging-young")
	for _, d := range []string{old, young} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if got := Sweep(parent, ".staging-", 0); len(got) != 0 {
		t.Errorf("orphanAge 0 removed %v", got)
	}
	if got := Sweep(parent, ".staging-", time.Hour); len(got) != 1 || got[0] != old {
		t.Errorf("removed %v, want %s", got, old)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the young directory was removed: %v", err)
	}
}

// TestMoved: a directory renamed into place loses its lock file and keeps its contents.
func TestMoved(t *testing.T) {
	parent := t.TempDir()
	d, err := New(parent, ".staging-")
	if err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, filepath.Join(d.Path, "vmlinuz"), []byte("x"))
	dst := filepath.Join(parent, "entry")
	if err := os.Rename(d.Path, dst); err != nil {
		t.Fatal(err)
	}
	d.Moved(dst)
	ents, _ := os.ReadDir(dst)
	if len(ents) != 1 || ents[0].Name() != "vmlinuz" {
		t.Errorf("entry holds %v", ents)
	}
}
