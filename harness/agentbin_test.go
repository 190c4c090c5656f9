package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

var (
	dynamicOnce sync.Once
	dynamicBin  string
	dynamicErr  error
)

// dynamicBpfmatrix builds the bpfmatrix command with cgo on, as go install builds it where a C
// compiler is installed: a dynamically linked executable.
func dynamicBpfmatrix(t *testing.T) string {
	t.Helper()
	testenv.NeedCommand(t, "cc", "gcc")
	dynamicOnce.Do(func() {
		dynamicBin = filepath.Join(agentDir, "bpfmatrix-dynamic")
		cmd := exec.Command("go", "build", "-o", dynamicBin, "github.com/bpfmatrix/bpfmatrix/cmd/bpfmatrix")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			dynamicErr = err
			dynamicBin = string(out)
		}
	})
	if dynamicErr != nil {
		t.Fatalf("go build (cgo): %v\n%s", dynamicErr, dynamicBin)
	}
	if static, err := IsStatic(dynamicBin, observation.ArchAMD64); err != nil || static {
		t.Fatalf("IsStatic(cgo build) = %v, %v; want a dynamically linked executable", static, err)
	}
	return dynamicBin
}

// TestSharedObjects checks the loader's view of /bin/sh, a dynamically linked program every
// machine has: the interpreter at the PT_INTERP path first, libc, each once, each a regular file.
func TestSharedObjects(t *testing.T) {
	objs, err := SharedObjects("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	top, err := readDynamic("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 2 || objs[0].Name != top.interp || objs[0].Source != top.interp {
		t.Fatalf("SharedObjects(/bin/sh) = %+v; want the interpreter %s first, then libraries", objs, top.interp)
	}
	seen := map[string]bool{}
	libc := false
	for _, o := range objs {
		if seen[o.Name] || !path.IsAbs(o.Name) || path.Clean(o.Name) != o.Name || !isFile(o.Source) || o.Mode != 0o755 {
			t.Errorf("bad entry %+v (listed twice, not a clean absolute path, or no file behind it)", o)
		}
		seen[o.Name] = true
		libc = libc || path.Base(o.Name) == "libc.so.6"
	}
	if !libc {
		t.Errorf("SharedObjects(/bin/sh) = %+v: no libc.so.6", objs)
	}
	if objs, err := SharedObjects(agentOrSkip(t)); err != nil || len(objs) != 0 {
		t.Errorf("SharedObjects(static agent) = %+v, %v; want nothing", objs, err)
	}
}

func agentOrSkip(t *testing.T) string {
	t.Helper()
	needAgent(t)
	return agentBin
}

// TestSearchDirs checks which DT_RUNPATH entries are mirrored: only absolute ones without tokens
// that the guest's loader would expand differently.
func TestSearchDirs(t *testing.T) {
	got := searchDirs([]string{"/opt/lib:$ORIGIN/../lib:rel/lib", "/usr/local/lib/"})
	if want := []string{"/opt/lib", "/usr/local/lib"}; !slices.Equal(got, want) {
		t.Errorf("searchDirs = %q, want %q", got, want)
	}
}

// TestBundleAgentRunsAlone packs a dynamically linked bpfmatrix into an initramfs, unpacks it
// into an empty directory and runs it there under chroot: the loader and libraries the archive
// holds are all it needs, without the host's /lib or ld.so cache. It also checks that the
// manifest makes the agent's hash depend on the libraries.
func TestBundleAgentRunsAlone(t *testing.T) {
	exe := dynamicBpfmatrix(t)
	dir := t.TempDir()
	agent, err := BundleAgent(context.Background(), exe, dir)
	if err != nil {
		t.Fatal(err)
	}
	exeData, _ := os.ReadFile(exe)
	agentData, err := os.ReadFile(agent)
	if err != nil {
		t.Fatal(err)
	}
	manifest, ok := bytes.CutPrefix(agentData, exeData)
	if !ok || !bytes.HasPrefix(manifest, []byte(manifestMark)) {
		t.Fatalf("the agent is not the executable followed by the manifest")
	}
	objs, _ := SharedObjects(exe)
	for _, o := range objs {
		sum, _ := files.SHA256(context.Background(), o.Source)
		if !bytes.Contains(manifest, []byte(o.Name+" "+sum+"\n")) {
			t.Errorf("manifest lacks %s %s:\n%s", o.Name, sum, manifest)
		}
	}

	var buf bytes.Buffer
	fs := &Initramfs{Files: []File{{Name: "/init", Source: agent, Mode: 0o755}}}
	if _, err := fs.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	var names []string
	for _, e := range readCPIO(t, buf.Bytes()) {
		names = append(names, e.name)
		p := filepath.Join(root, e.name)
		switch e.mode & 0o170000 {
		case cpioDir:
			err = os.MkdirAll(p, 0o755)
		case cpioReg:
			err = os.WriteFile(p, e.data, os.FileMode(e.mode&0o777))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range objs {
		if !slices.Contains(names, strings.TrimPrefix(o.Name, "/")) {
			t.Errorf("initramfs %q lacks %s", names, o.Name)
		}
	}
	t.Logf("initramfs: %d bytes, files %q", buf.Len(), names)

	testenv.NeedRoot(t)
	cmd := exec.Command("/init", "helpers", "info", "ringbuf_output")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ringbuf_output") {
		t.Fatalf("the dynamic agent under chroot: %v\n%s", err, out)
	}
}

// TestDynamicAgentBoots boots a guest whose /init is a dynamically linked bpfmatrix, packed the
// way an installed binary packs itself, and checks that it answers like the static agent.
func TestDynamicAgentBoots(t *testing.T) {
	cfg := testConfig(t)
	agent, err := BundleAgent(context.Background(), dynamicBpfmatrix(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Agent = agent
	cfg.Helpers = []int{1, 130}
	cfg.ProgTypes = []string{"socket_filter", "xdp"}
	results := testenv.Must(Run(context.Background(), cfg, testKernels(t, "6.1"), nil))(t)
	r := results[0]
	failIfNotOK(t, r)
	supported := 0
	for _, pr := range r.Doc.Results {
		if pr.HelperID == 130 && pr.Outcome == observation.Supported {
			supported++
		}
	}
	if supported == 0 {
		t.Errorf("6.1: ringbuf_output (130) not supported in %d results", len(r.Doc.Results))
	}
	t.Logf("6.1 with the dynamic agent: %d results, boot %.1fs, probe %.1fs", len(r.Doc.Results), r.Doc.Guest.BootSeconds, r.Doc.Guest.ProbeSeconds)
}
