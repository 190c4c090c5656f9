package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry renders one valid helper entry with one line replaced or added, so that each error case
// states only what it breaks. Lines are numbered from the "- id:" line, which is line 1.
func entry(id int, name string, edits ...string) string {
	lines := []string{
		fmt.Sprintf("- id: %d", id),
		fmt.Sprintf("  name: %s", name),
		"  signature:",
		"    return: long",
		"    args:",
		"      - {name: skb, type: struct __sk_buff *}",
		`  min_kernel: "5.8"`,
		"  prog_types: [xdp, sched_cls]",
		"  gpl_only: false",
		"  category: network",
		"  description: Does one thing well.",
	}
	for _, e := range edits {
		key := strings.SplitN(strings.TrimSpace(e), ":", 2)[0]
		replaced := false
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), key+":") && strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "    ") {
				lines[i] = e
				replaced = true
				break
			}
		}
		if !replaced {
			lines = append(lines, e)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func without(text, key string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "  "+key+":") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestFaultRegistryParse(t *testing.T) {
	ok := entry(1, "first")
	tests := []struct {
		name string
		yaml string
		want string // must appear in the error, file:line included
	}{
		{"unknown key", entry(1, "a", "  colour: blue"), "t.yaml:12: unknown key \"colour\""},
		{"duplicate id", ok + entry(1, "second"), "t.yaml:12: duplicate id 1 (first at line 1)"},
		{"duplicate name", ok + entry(2, "first"), "t.yaml:12: duplicate name \"first\" (first at line 1)"},
		{"zero id", entry(0, "a"), "t.yaml:1: id: want a positive number, found 0"},
		{"negative id", entry(-3, "a"), "t.yaml:1: id: want a positive number, found -3"},
		// A helper id is the 32-bit immediate of a call instruction: the enum cannot go past 2^31-1.
		{"id 2^31", entry(1<<31, "a"), "t.yaml:1: id: 2147483648 does not fit the kernel's enum bpf_func_id (at most 2147483647)"},
		{"id beyond 2^32", entry(1<<32+1, "a"), "t.yaml:1: id: 4294967297 does not fit the kernel's enum bpf_func_id"},
		{"id beyond int64", strings.Replace(entry(1, "a"), "id: 1", "id: 99999999999999999999", 1), "t.yaml:1: id: 99999999999999999999 does not fit the kernel's enum bpf_func_id"},
		{"id below int64", strings.Replace(entry(1, "a"), "id: 1", "id: -99999999999999999999", 1), "t.yaml:1: id: want a positive number, found -99999999999999999999"},
		{"id a quoted long number", strings.Replace(entry(1, "a"), "id: 1", `id: "99999999999999999999"`, 1), "t.yaml:1: id: want a whole number, found \"99999999999999999999\""},
		{"id not a number", strings.Replace(entry(1, "a"), "id: 1", "id: one", 1), "t.yaml:1: id: want a whole number, found \"one\""},
		{"malformed version", entry(1, "a", `  min_kernel: "5.x"`), "t.yaml:7: min_kernel: malformed kernel version: \"5.x\""},
		{"unquoted version", entry(1, "a", `  min_kernel: 6.10`), "t.yaml:7: min_kernel: write versions as quoted strings"},
		{"release string as version", entry(1, "a", `  min_kernel: "6.1.0-32-cloud-amd64"`), "t.yaml:7: min_kernel: \"6.1.0-32-cloud-amd64\": write an upstream version"},
		{"unknown prog type", entry(1, "a", "  prog_types: [xdp, xdpp]"), "t.yaml:8: prog_types: unknown program type \"xdpp\""},
		{"prog type listed twice", entry(1, "a", "  prog_types: [xdp, xdp]"), "t.yaml:8: prog_types: \"xdp\" listed twice"},
		{"prog types neither all nor list", entry(1, "a", "  prog_types: some"), "t.yaml:8: prog_types: want the word all or a list"},
		{"empty prog types", entry(1, "a", "  prog_types: []"), "t.yaml:8: prog_types: empty list"},
		{"unknown category", entry(1, "a", "  category: misc"), "t.yaml:10: unknown category \"misc\""},
		{"name with prefix", entry(1, "bpf_a"), "t.yaml:2: name \"bpf_a\": write it without the bpf_ prefix"},
		{"name not an identifier", entry(1, "Map-Lookup"), "t.yaml:2: name \"Map-Lookup\": want a lower-case C identifier"},
		{"gpl_only not a bool", entry(1, "a", "  gpl_only: maybe"), "t.yaml:9: gpl_only: want true or false"},
		{"missing key", without(entry(1, "a"), "category"), "t.yaml:1: entry is missing required key \"category\""},
		{"empty description", entry(1, "a", `  description: ""`), "t.yaml:11: description is empty"},
		{"too many args", strings.Replace(entry(1, "a"), "      - {name: skb, type: struct __sk_buff *}", strings.Repeat("      - {name: x, type: int}\n", 1)+"      - {name: a, type: int}\n      - {name: b, type: int}\n      - {name: c, type: int}\n      - {name: d, type: int}\n      - {name: e, type: int}", 1), "t.yaml:6: signature.args: 6 arguments"},
		{"arg without type", strings.Replace(entry(1, "a"), "{name: skb, type: struct __sk_buff *}", "{name: skb}", 1), "t.yaml:6: signature argument needs a name and a type"},
		{"signature without args", strings.Replace(entry(1, "a"), "    args:\n      - {name: skb, type: struct __sk_buff *}\n", "", 1), "t.yaml:4: signature needs both return and args"},
		{"since for unlisted type", entry(1, "a", `  prog_type_since: {kprobe: "6.1"}`), "t.yaml:12: prog_type_since names kprobe, which prog_types does not list"},
		{"since older than min", entry(1, "a", `  prog_type_since: {xdp: "4.1"}`), "t.yaml:12: prog_type_since: xdp 4.1 is older than min_kernel 5.8"},
		{"until before since", entry(1, "a", `  prog_type_since: {xdp: "6.1"}`, `  prog_type_until: {xdp: "5.10"}`), "t.yaml:13: prog_type_until: xdp 5.10 is older than its prog_type_since 6.1"},
		{"until unknown type", entry(1, "a", `  prog_type_until: {xdpp: "6.1"}`), "t.yaml:12: prog_type_until: unknown program type \"xdpp\""},
		{"gap not a range", entry(1, "a", `  prog_type_gaps: {xdp: ["6.1"]}`), "t.yaml:12: prog_type_gaps.xdp: \"6.1\" is not a \"FROM..TO\" range"},
		{"gap backwards", entry(1, "a", `  prog_type_gaps: {xdp: ["6.12..6.1"]}`), "t.yaml:12: prog_type_gaps.xdp: \"6.12..6.1\" ends before it starts"},
		{"gap for unlisted type", entry(1, "a", `  prog_type_gaps: {kprobe: ["6.1..6.12"]}`), "t.yaml:12: prog_type_gaps names kprobe, which prog_types does not list"},
		{"gap bad version", entry(1, "a", `  prog_type_gaps: {xdp: ["6.x..6.12"]}`), "t.yaml:12: prog_type_gaps.xdp: \"6.x..6.12\""},
		{"bad kernel config", entry(1, "a", `  kernel_config: [BPF_LSM]`), "t.yaml:12: kernel_config: malformed value \"BPF_LSM\""},
		{"not a sequence", "id: 1\n", "t.yaml:1: want a YAML sequence of helper entries"},
		{"entry not a mapping", "- 1\n", "t.yaml:1: helper entry: want a mapping"},
		{"empty file", "", "t.yaml: empty file"},
		{"empty list", "[]\n", "t.yaml:1: no helper entries"},
		{"broken yaml", "- id: [1\n", "t.yaml:1: cannot parse YAML: did not find expected ',' or ']'"},
		// Files that are not YAML at all still get a line, and the right one.
		{"binary file", "\x7fELF\x02\x01\x01\x00\x00", "t.yaml:1: cannot parse YAML: control characters are not allowed"},
		{"control character later", ok + "- id: 2\x01\n", "t.yaml:12: cannot parse YAML: control characters are not allowed"},
		{"invalid UTF-8 later", ok + "- name: \xff\n", "t.yaml:12: cannot parse YAML: invalid leading UTF-8 octet"},
		{"prose with colons", "Dear reader: this: is not YAML\n", "t.yaml:1: cannot parse YAML: mapping values are not allowed"},
		{"shell script", "@echo off\n", "t.yaml:1: cannot parse YAML: found character that cannot start any token"},
		{"unknown alias", ok + "- *nothing\n", "t.yaml:12: cannot parse YAML: unknown anchor 'nothing' referenced"},
		{"mapping after the list", ok + "name: x\n", "t.yaml:12: cannot parse YAML: did not find expected '-' indicator"},
		{"unclosed flow list later", ok + "- id: [2,\n    3\n", "t.yaml:12: cannot parse YAML: did not find expected ',' or ']'"},
		// A second document would be dropped without a word: every entry after its --- is lost.
		{"second document", ok + "---\n" + entry(2, "b"), "t.yaml:12: a second YAML document starts here"},
		{"second document after an explicit first", "---\n" + ok + "--- # more\n" + entry(2, "b"), "t.yaml:13: a second YAML document starts here"},
		{"second document after an end marker", ok + "...\n---\n" + entry(2, "b"), "t.yaml:13: a second YAML document starts here"},
		{"empty second document", ok + "---\n", "t.yaml:12: a second YAML document starts here"},
		{"second document that does not parse", ok + "\n---\n- id: [\n", "t.yaml:13: a second YAML document starts here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\n(%d helpers)", tt.yaml, reg.Len())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s\ninput:\n%s", err, tt.want, tt.yaml)
			}
			var le *LineError
			if !errors.As(err, &le) || le.File != "t.yaml" {
				t.Errorf("error %v is not a *LineError naming t.yaml", err)
			}
		})
	}
}

// TestFaultRegistryQuoteOneLine checks that an error quotes at most one line of what it found, cut
// to 80 characters: a prose file or a pasted block must not come back whole in the message.
func TestFaultRegistryQuoteOneLine(t *testing.T) {
	long := strings.Repeat("0123456789", 30)
	tests := []struct{ name, yaml, want string }{
		{"prose file", "This file is a letter, not a registry.\nIt goes on for a while.\n\n" + long + "\n",
			`t.yaml:1: want a YAML sequence of helper entries, found the value "This file is a letter, not a registry. It goes on for a while."...`},
		{"block scalar file", "|\n  first line\n  second line\n  third line\n",
			`t.yaml:1: want a YAML sequence of helper entries, found the value "first line"...`},
		{"long name", entry(1, "A"+long), `t.yaml:2: name "A` + long[:79] + `"...: want a lower-case C identifier`},
		{"multi-line category", entry(1, "a", "  category: |\n    network\n    and more"), `t.yaml:10: unknown category "network"... (known:`},
		{"long version", entry(1, "a", `  min_kernel: "6.1`+long+`"`), `t.yaml:7: min_kernel: malformed kernel version: "6.1` + long[:77] + `"...`},
		{"long gap", entry(1, "a", `  prog_type_gaps: {xdp: ["6.1..6.`+long+`"]}`), `t.yaml:12: prog_type_gaps.xdp: "6.1..6.` + long[:73] + `"...: malformed kernel version: "6.1..6.`},
		{"long number as id", strings.Replace(entry(1, "a"), "id: 1", "id: 1.5"+long, 1), `t.yaml:1: id: want a whole number, found "1.5` + long[:77] + `"...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "second line") || strings.Contains(err.Error(), long[:81]) {
				t.Errorf("error quotes more than one line or 80 characters: %v", err)
			}
		})
	}
}

func TestParseDuplicateKeyAndUnknownNestedKeys(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"duplicate key in entry", strings.Replace(entry(1, "a"), "  category: network\n", "  category: network\n  category: map\n", 1), "t.yaml:11: helper entry: duplicate key \"category\""},
		{"unknown signature key", strings.Replace(entry(1, "a"), "    return: long\n", "    return: long\n    retrun: int\n", 1), "t.yaml:5: signature: unknown key \"retrun\""},
		{"unknown arg key", strings.Replace(entry(1, "a"), "type: struct __sk_buff *}", "type: struct __sk_buff *, size: 8}", 1), "t.yaml:6: signature argument: unknown key \"size\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	text := entry(1, "a", "  category: misc") + entry(2, "b", `  min_kernel: "x"`)
	_, err := Parse("t.yaml", []byte(text))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"t.yaml:10: unknown category", "t.yaml:18: min_kernel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestParseAcceptsOneExplicitDocument(t *testing.T) {
	for _, text := range []string{"---\n" + entry(1, "a"), "# comment\n---\n" + entry(1, "a") + "...\n"} {
		if _, err := Parse("t.yaml", []byte(text)); err != nil {
			t.Errorf("%v\ninput:\n%s", err, text)
		}
	}
}

func TestParseAcceptsIDsBeyondTheNewestKernel(t *testing.T) {
	// A helper newer than every kernel we know may be real; the matrix judges it, not the loader.
	for _, id := range []int{212, 1<<31 - 1} {
		reg, err := Parse("t.yaml", []byte(entry(id, "ktime_get_real_ns")))
		if err != nil {
			t.Fatal(err)
		}
		if h, ok := reg.ByID(id); !ok || h.Name != "ktime_get_real_ns" {
			t.Fatalf("id %d not loaded: %v", id, h)
		}
	}
}

func TestLoadFile(t *testing.T) {
	reg, err := Load(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if reg.File() != filepath.Join("testdata", "small.yaml") || len(reg.SHA256()) != 64 {
		t.Errorf("provenance: %q %q", reg.File(), reg.SHA256())
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// TestFaultRegistryNotRegularFile checks that a wrong --registry path fails at once, naming
// the file: a FIFO would block the read forever and /dev/zero would fill memory.
func TestFaultRegistryNotRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 16<<20+1); err != nil { // sparse: no disk space used
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"fifo", fifo, fifo + ": not a regular file (a named pipe)"},
		{"symlink to a fifo", link, link + ": not a regular file (a named pipe)"},
		{"character device", "/dev/zero", "/dev/zero: not a regular file (a character device)"},
		{"directory", dir, dir + ": not a regular file (a directory)"},
		{"too large", big, big + ": larger than 16 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Load(tt.path)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Load(%s): %v, want an error containing %q", tt.path, err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Load(%s) still running after 5s", tt.path)
			}
		})
	}
}

func TestLoadFollowsSymlinksToRegularFiles(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.yaml")
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(link); err != nil {
		t.Fatal(err)
	}
}
