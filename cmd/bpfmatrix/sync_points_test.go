package main

import (
	"os"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// sessionDocuments are the recorded observations of 6.12 and 7.3, whose agent names the attach
// point of every variant: kprobe's default attachment refuses bpf_session_cookie, its
// kprobe.session variant offers it.
func sessionDocuments(t *testing.T) string {
	t.Helper()
	return editedObservations(t, []string{"6.12", "7.3"}, func(string, *observation.Document) {})
}

// TestKfuncsSyncAttachPoints: kfuncs sync --write records, from observations naming attach
// points, that kprobe's default attachment refuses bpf_session_cookie, and the questions of
// issue 18 are then answered from the file; the comments of the file stay.
func TestKfuncsSyncAttachPoints(t *testing.T) {
	dir := sessionDocuments(t)
	file := writeTemp(t, "kfuncs.yaml", "# our kfuncs\n- name: bpf_session_cookie\n  prototype: \"__u64 *bpf_session_cookie(void)\"\n  min_kernel: \"6.12\"\n  prog_types: [kprobe]\n  category: misc\n")
	code, stdout, stderr := run("kfuncs", "sync", "--in", dir, "--kfuncs", file, "--write")
	if code != exitOK || !strings.Contains(stdout, "attach_points") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := `    kprobe: {offered: false, evidence: "probe: refused on 6.12..7.3 at kprobe; the program type kprobe: offered on 6.12..7.3"}`
	if _, entry, _ := strings.Cut(string(data), "# our kfuncs\n- name: bpf_session_cookie\n"); !strings.Contains(entry, want) {
		t.Errorf("written file lacks %s:\n%.600s", want, entry)
	}
	for _, q := range []struct {
		where string
		code  int
	}{{"kprobe", exitNo}, {"kprobe.session", exitOK}, {"kprobe.multi", exitNo}} {
		if code, stdout, stderr := run("kfuncs", "compat", "bpf_session_cookie", q.where, "6.12", "--kfuncs", file); code != q.code {
			t.Errorf("compat at %s: exit %d, want %d\n%s%s", q.where, code, q.code, stdout, stderr)
		}
	}
	if code, stdout, _ := run("kfuncs", "sync", "--in", dir, "--kfuncs", file); code != exitOK || !strings.Contains(stdout, " 0 changed,") {
		t.Errorf("second sync: exit %d\n%s", code, stdout)
	}
}
