package harness

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmatrix/bpfmatrix/harness/wire"
	"github.com/bpfmatrix/bpfmatrix/internal/kconfig"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// cpioEntry is one decoded newc entry.
type cpioEntry struct {
	name       string
	mode       uint32
	rdev       [2]int
	data       []byte
	headerOffs int
}

// readCPIO decodes a newc archive (the format the kernel's initramfs unpacker reads), checking
// the alignment rules the kernel relies on.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) int {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d field %d: %v", off, i, err)
		}
		return int(v)
	}
	for {
		if off%4 != 0 {
			t.Fatalf("header at %d is not 4-byte aligned", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic %q at %d", b[off:off+6], off)
		}
		mode, size := field(1), field(6)
		rmaj, rmin, nsize := field(9), field(10), field(11)
		name := string(b[off+110 : off+110+nsize-1])
		if b[off+110+nsize-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		dataOff := (off + 110 + nsize + 3) &^ 3
		e := cpioEntry{name: name, mode: uint32(mode), rdev: [2]int{rmaj, rmin}, data: b[dataOff : dataOff+size], headerOffs: off}
		off = (dataOff + size + 3) &^ 3
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestInitramfs(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent")
	mod := filepath.Join(dir, "virtio.ko")
	// Sizes that are not multiples of four exercise the padding.
	if err := os.WriteFile(agent, bytes.Repeat([]byte("A"), 4097), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.WriteFile(t, mod, []byte("modul"))
	tests := []struct {
		name     string
		files    []File
		compress bool
		want     map[string]string // name -> contents, for regular files
		dirs     []string
	}{
		{
			name:  "agent only",
			files: []File{{Name: "/init", Source: agent, Mode: 0o755}},
			want:  map[string]string{"init": string(bytes.Repeat([]byte("A"), 4097))},
			dirs:  []string{"dev", "proc", "sys", "tmp"},
		},
		{
			name:     "agent and module, gzip",
			files:    []File{{Name: "/init", Source: agent, Mode: 0o755}, {Name: "/lib/modules/bpfmatrix/00-virtio.ko", Source: mod, Mode: 0o644}},
			compress: true,
			want:     map[string]string{"init": string(bytes.Repeat([]byte("A"), 4097)), "lib/modules/bpfmatrix/00-virtio.ko": "modul"},
			dirs:     []string{"dev", "lib", "lib/modules", "lib/modules/bpfmatrix", "proc", "sys", "tmp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			fs := &Initramfs{Files: tt.files, Compress: tt.compress}
			n, err := fs.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Fatalf("WriteTo returned %d, wrote %d", n, buf.Len())
			}
			b := buf.Bytes()
			if tt.compress {
				zr, err := gzip.NewReader(&buf)
				if err != nil {
					t.Fatal(err)
				}
				if b, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			entries := readCPIO(t, b)
			seen := map[string]cpioEntry{}
			var order []string
			for _, e := range entries {
				seen[e.name] = e
				order = append(order, e.name)
			}
			con, ok := seen["dev/console"]
			if !ok || con.mode != cpioChar|0o600 || con.rdev != [2]int{5, 1} {
				t.Fatalf("dev/console = %+v, want char 5:1 (entries %v)", con, order)
			}
			for _, d := range tt.dirs {
				if e, ok := seen[d]; !ok || e.mode&0o170000 != cpioDir {
					t.Fatalf("directory %s missing (entries %v)", d, order)
				}
			}
			for name, data := range tt.want {
				e, ok := seen[name]
				if !ok || string(e.data) != data || e.mode&0o170000 != cpioReg {
					t.Fatalf("file %s: present %v, %d bytes, mode %o", name, ok, len(e.data), e.mode)
				}
			}
			if init := seen["init"]; init.mode&0o777 != 0o755 {
				t.Fatalf("/init mode %o", init.mode&0o777)
			}
			// Parents before children: the kernel does not create directories on its own.
			pos := map[string]int{}
			for i, n := range order {
				pos[n] = i
			}
			for _, n := range order {
				if p := filepath.Dir(n); p != "." && pos[p] > pos[n] {
					t.Fatalf("%s comes before its directory %s", n, p)
				}
			}
		})
	}
}

func TestInitramfsErrors(t *testing.T) {
	tests := []struct {
		name string
		file File
	}{
		{"relative name", File{Name: "init", Source: "/dev/null"}},
		{"unclean name", File{Name: "/a/../init", Source: "/dev/null"}},
		{"missing source", File{Name: "/init", Source: "/nonexistent/agent"}},
		{"not a regular file", File{Name: "/init", Source: "/dev/null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&Initramfs{Files: []File{tt.file}}).WriteTo(io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestConsole(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		size    int
		trouble string
		tail    string
	}{
		{"quiet boot", []string{"[    2.0] reboot: Power down\r\n"}, 1024, "", "[    2.0] reboot: Power down\n"},
		{"panic split across writes", []string{"[ 1.6] Kernel pa", "nic - not syncing: VFS: Unable to mount root fs\r\n", "[ 1.7] ---[ end ]---\n"},
			1024, "[ 1.6] Kernel panic - not syncing: VFS: Unable to mount root fs", ""},
		{"oops keeps the first line", []string{"x\n[ 3.1] Oops: general protection fault\n[ 3.2] BUG: unable to handle page fault\n"}, 1024, "[ 3.1] Oops: general protection fault", ""},
		{"last line without newline", []string{"[ 9.9] BUG: soft lockup"}, 1024, "[ 9.9] BUG: soft lockup", ""},
		{"tail starts at a line", []string{"aaaa\nbbbb\ncccc\n"}, 12, "", "bbbb\ncccc\n"},
		{"agent note", []string{"bpfmatrix agent: open result channel: no virtio-serial port named org.bpfmatrix.results\r\n"}, 1024, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConsole(tt.size)
			for _, w := range tt.writes {
				c.Write([]byte(w))
			}
			if got := c.Trouble(); got != tt.trouble {
				t.Errorf("Trouble() = %q, want %q", got, tt.trouble)
			}
			if strings.HasPrefix(tt.writes[0], agentPrefix) {
				if got, want := c.AgentNote(), strings.TrimSpace(tt.writes[0]); got != want {
					t.Errorf("AgentNote() = %q, want %q", got, want)
				}
			}
			if tt.tail != "" {
				if got := c.Tail(); got != tt.tail {
					t.Errorf("Tail() = %q, want %q", got, tt.tail)
				}
			}
		})
	}
}

func TestCmdline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ProgTypes = []string{"xdp", "tracing/fentry"}
	cfg.Helpers = []int{1, 130}
	cfg.Append = []string{"A=1"}
	k := &Kernel{Append: []string{"B=2"}}
	tests := []struct {
		channel    string
		compress   bool
		exhaustive bool
		want       string
	}{
		{wire.ChannelVirtio, false, false, "console=ttyS0 panic=-1 quiet lsm=lockdown,yama,bpf cryptomgr.notests BPFMATRIX_CHANNEL=virtio BPFMATRIX_PROG_TYPES=xdp,tracing/fentry BPFMATRIX_HELPERS=1,130 A=1 B=2"},
		{wire.ChannelVirtio, false, true, "console=ttyS0 panic=-1 quiet lsm=lockdown,yama,bpf cryptomgr.notests BPFMATRIX_CHANNEL=virtio BPFMATRIX_PROG_TYPES=xdp,tracing/fentry BPFMATRIX_HELPERS=1,130 BPFMATRIX_EXHAUSTIVE=1 A=1 B=2"},
		{wire.ChannelVirtio, true, false, "console=ttyS0 panic=-1 quiet lsm=lockdown,yama,bpf cryptomgr.notests BPFMATRIX_CHANNEL=virtio BPFMATRIX_COMPRESS=1 BPFMATRIX_PROG_TYPES=xdp,tracing/fentry BPFMATRIX_HELPERS=1,130 A=1 B=2"},
		// The serial line is slow enough that its stream is always compressed.
		{wire.ChannelSerial, false, false, "console=ttyS0 panic=-1 quiet lsm=lockdown,yama,bpf cryptomgr.notests BPFMATRIX_CHANNEL=serial BPFMATRIX_COMPRESS=1 BPFMATRIX_PROG_TYPES=xdp,tracing/fentry BPFMATRIX_HELPERS=1,130 A=1 B=2"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v/%v", tt.channel, tt.compress, tt.exhaustive), func(t *testing.T) {
			c := cfg
			c.Compress, c.Exhaustive = tt.compress, tt.exhaustive
			if got := cmdline(&c, k, "kvm", tt.channel); got != tt.want {
				t.Fatalf("cmdline:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestChannelFor(t *testing.T) {
	parse := func(text string) kconfig.Config {
		c, err := kconfig.Parse(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	modular := parse("CONFIG_VIRTIO=m\nCONFIG_VIRTIO_PCI=m\nCONFIG_VIRTIO_CONSOLE=m\n")
	builtin := parse("CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=y\n")
	tests := []struct {
		name   string
		config string
		k      Kernel
		conf   kconfig.Config
		want   string
	}{
		{"built in", wire.ChannelVirtio, Kernel{}, builtin, wire.ChannelVirtio},
		{"modules supplied", wire.ChannelVirtio, Kernel{Modules: []string{"virtio.ko"}}, modular, wire.ChannelVirtio},
		{"modules missing: serial", wire.ChannelVirtio, Kernel{}, modular, wire.ChannelSerial},
		{"no config: trust virtio", wire.ChannelVirtio, Kernel{}, nil, wire.ChannelVirtio},
		{"serial asked", wire.ChannelSerial, Kernel{}, builtin, wire.ChannelSerial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Channel: tt.config}
			if got := channelFor(&cfg, &tt.k, tt.conf); got != tt.want {
				t.Fatalf("channelFor = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestIsStatic(t *testing.T) {
	needAgent(t)
	needAgentARM64(t)
	tests := []struct {
		path    string
		arch    observation.Arch
		want    bool
		wantErr string
	}{
		{agentBin, observation.ArchAMD64, true, ""},
		{agentBin, "", true, ""},
		{"/bin/sh", observation.ArchAMD64, false, ""},
		{agentBinARM64, observation.ArchARM64, true, ""},
		// An agent of the other architecture cannot be the guests' /init.
		{agentBinARM64, observation.ArchAMD64, false, "the guests are amd64"},
		{agentBin, observation.ArchARM64, false, "the guests are arm64"},
		{agentBin, "riscv64", false, `architecture "riscv64"`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path)+"/"+string(tt.arch), func(t *testing.T) {
			got, err := IsStatic(tt.path, tt.arch)
			if testenv.WantErr(t, err, tt.wantErr) {
				return
			}
			if got != tt.want {
				t.Fatalf("IsStatic(%s, %s) = %v; want %v", tt.path, tt.arch, got, tt.want)
			}
		})
	}
}

// TestKernelFiles checks where a kernel's modules go in its initramfs: the virtio modules only
// when the channel needs them, the kfunc modules always, each set named in load order.
func TestKernelFiles(t *testing.T) {
	k := &Kernel{
		Modules:      []string{"/c/virtio.ko", "/c/virtio_console.ko"},
		KfuncModules: []string{"/c/nf_defrag_ipv4.ko", "/c/nf_conntrack.ko"},
		Config:       "/c/config",
	}
	tests := []struct {
		channel string
		want    []string
	}{
		{wire.ChannelVirtio, []string{
			wire.ModuleDir + "/000-virtio.ko", wire.ModuleDir + "/001-virtio_console.ko",
			wire.KfuncModuleDir + "/000-nf_defrag_ipv4.ko", wire.KfuncModuleDir + "/001-nf_conntrack.ko",
			wire.KernelConfigPath,
		}},
		{wire.ChannelSerial, []string{
			wire.KfuncModuleDir + "/000-nf_defrag_ipv4.ko", wire.KfuncModuleDir + "/001-nf_conntrack.ko",
			wire.KernelConfigPath,
		}},
	}
	for _, tt := range tests {
		var got []string
		for _, f := range kernelFiles(k, tt.channel) {
			got = append(got, f.Name)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: files %v, want %v", tt.channel, got, tt.want)
		}
	}
}

// TestCmdlineHighres: guests emulated by TCG run without high-resolution timers; KVM guests keep
// them, as does the kvm command line TestCmdline checks word for word.
func TestCmdlineHighres(t *testing.T) {
	for _, tt := range []struct {
		accel string
		want  bool
	}{{"tcg", true}, {"kvm", false}} {
		t.Run(tt.accel, func(t *testing.T) {
			cfg := DefaultConfig()
			got := slices.Contains(strings.Fields(cmdline(&cfg, &Kernel{}, tt.accel, wire.ChannelVirtio)), "highres=off")
			if got != tt.want {
				t.Errorf("highres=off on the %s command line: %v, want %v", tt.accel, got, tt.want)
			}
		})
	}
}
