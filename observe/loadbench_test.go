package observe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bpfmatrix/bpfmatrix/harness"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/internal/testobjects"
	"github.com/bpfmatrix/bpfmatrix/realobjects"
)

// BenchmarkLoad is `bpfmatrix load` as `make bench` reports it: the test objects and the pinned
// real objects of Debian's libxdp1 and xdp-tools (when they are cached: `make test` fetches
// them) loaded on 5.10 and 7.3, attaching too, answers not taken from the cache. It prints the
// wall time, each kernel's boot and load seconds, and per object its programs and the seconds
// its loads took in each kernel (the guests' own timing, per program on average).
func BenchmarkLoad(b *testing.B) {
	hcfg := harness.DefaultConfig()
	hcfg.QEMU = testenv.NeedQEMU(b)
	objs := benchObjects(b)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		obs, err := Load(context.Background(), LoadOptions{
			Options: Options{KernelsFile: filepath.Join("..", "kernels.yaml"), Kernels: []string{"5.10", "7.3"}, Refresh: true, Harness: hcfg},
			Objects: objs, Attach: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		fmt.Print(loadRunFigures(objs, obs, wall))
		b.ReportMetric(wall.Seconds(), "wall-s")
	}
}

// benchObjects are the objects BenchmarkLoad loads: every test object, and the pinned real
// objects that are in the cache.
func benchObjects(b *testing.B) []LoadObject {
	var objs []LoadObject
	add := func(path, name string) {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		s := sha256.Sum256(data)
		objs = append(objs, LoadObject{Path: path, Name: name, SHA256: hex.EncodeToString(s[:])})
	}
	for _, name := range testobjects.Names() {
		add(testobjects.Path(b, name), name+".o")
	}
	lock, err := realobjects.Pinned()
	if err != nil {
		b.Fatal(err)
	}
	real, err := realobjects.Fetch(context.Background(), lock, realobjects.Options{Offline: true})
	if err != nil {
		fmt.Printf("load: the pinned real objects are not cached (%v); test objects only\n", err)
		return objs
	}
	seen := map[string]bool{}
	for _, o := range real {
		if !seen[o.SHA256] {
			seen[o.SHA256] = true
			add(o.Path, o.Package+"_"+o.Version+"/"+filepath.Base(o.Path))
		}
	}
	return objs
}

// loadRunFigures formats a load run's figures: per kernel, then per object.
func loadRunFigures(objs []LoadObject, obs []LoadObservation, wall time.Duration) string {
	var sb strings.Builder
	programs := map[string]int{}
	perObject := map[string]map[string]float64{} // object -> kernel -> seconds
	for _, o := range obs {
		total := 0.0
		for _, l := range o.Loads {
			if perObject[l.Object] == nil {
				perObject[l.Object] = map[string]float64{}
			}
			perObject[l.Object][o.Name] += l.Seconds
			total += l.Seconds
			if o.Name == obs[0].Name {
				programs[l.Object]++
			}
		}
		g := o.Guest
		fmt.Fprintf(&sb, "load: %-5s %-6s boot %5.2fs, %4d programs loaded in %6.2fs (%.1f ms per program), guest %6.2fs\n",
			o.Name, g.Status, g.BootSeconds, len(o.Loads), total, 1000*total/float64(max(len(o.Loads), 1)), g.BootSeconds+g.ProbeSeconds)
	}
	fmt.Fprintf(&sb, "load: %d objects, %d kernels: wall %.1fs\n", len(objs), len(obs), wall.Seconds())
	names := make([]string, 0, len(perObject))
	for n := range perObject {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&sb, "  %-48s %5s", "object", "progs")
	for _, o := range obs {
		fmt.Fprintf(&sb, " %9s %9s", o.Name+" s", "ms/prog")
	}
	sb.WriteString("\n")
	for _, n := range names {
		fmt.Fprintf(&sb, "  %-48s %5d", n, programs[n])
		for _, o := range obs {
			s := perObject[n][o.Name]
			fmt.Fprintf(&sb, " %9.3f %9.1f", s, 1000*s/float64(max(programs[n], 1)))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
