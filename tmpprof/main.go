package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/bpfmatrix/bpfmatrix/objload"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/cilium/ebpf/btf"
)

func main() {
	var m []struct{ Path string }
	b, _ := os.ReadFile("/work/corpus/manifest.json")
	json.Unmarshal(b, &m)
	f, _ := os.Create("/tmp/cpu.prof")
	pprof.StartCPUProfile(f)
	start := time.Now()
	n := 0
	out, _ := os.Create(os.Args[1])
	cache := btf.NewCache()
	for i, e := range m {
		if i >= 80 {
			break
		}
		objload.Load(context.Background(), objload.Object{Path: "/work/corpus/" + e.Path, Name: e.Path}, objload.Options{BTFCache: cache}, func(r observation.ProgramLoad) error { n++; r.Seconds = 0; b, _ := json.Marshal(r); out.Write(append(b, 10)); return nil })
	}
	pprof.StopCPUProfile()
	fmt.Println(n, time.Since(start))
}
