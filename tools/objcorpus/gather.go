package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/bpfobj"
	"github.com/bpfmatrix/bpfmatrix/realobjects"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// entry is one object of the corpus, as manifest.json lists it.
type entry struct {
	Package  string   `json:"package"`
	Version  string   `json:"version"`
	Suite    string   `json:"suite"`
	File     string   `json:"file"`
	Offset   int64    `json:"offset"` // -1: the file is the object
	SHA256   string   `json:"sha256"`
	Path     string   `json:"path"` // relative to the corpus directory
	AlsoIn   []string `json:"also_in,omitempty"`
	Programs int      `json:"programs"`
	// ProgTypes counts the programs by the type their section gives ("" for an unknown section).
	ProgTypes map[string]int `json:"prog_types,omitempty"`
	// SectionErrors are the reasons bpfobj gives for sections it does not know.
	SectionErrors []string `json:"section_errors,omitempty"`
	// LoaderError is cilium/ebpf's refusal when bpfobj read the programs from the ELF itself.
	LoaderError string `json:"loader_error,omitempty"`
	ReadError   string `json:"read_error,omitempty"`
}

// gather downloads the packages of every suite and writes their distinct objects and the
// manifest into dir.
func gather(ctx context.Context, dir string, names, suites []string, opts realobjects.Options) error {
	cacheDir, err := vmimages.CheckCacheDir(opts.CacheDir)
	if err != nil {
		return err
	}
	pk := &vmimages.Packages{CacheDir: cacheDir, Progress: opts.Progress}
	versions, err := pk.Versions(ctx, names)
	if err != nil {
		return err
	}
	var entries []*entry
	bySum := map[string]*entry{}
	for _, s := range suites {
		for _, n := range names {
			i := slices.IndexFunc(versions, func(v vmimages.PackageVersion) bool { return v.Package == n && v.Suite == s })
			if i < 0 {
				fmt.Fprintf(os.Stderr, "%s: not in %s\n", n, s)
				continue
			}
			found, err := takePackage(ctx, pk, dir, versions[i], bySum)
			if err != nil {
				return err
			}
			entries = append(entries, found...)
		}
	}
	for _, e := range entries {
		readObject(dir, e)
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	summarize(entries)
	return nil
}

// takePackage writes the objects of one package version that no earlier package held.
func takePackage(ctx context.Context, pk *vmimages.Packages, dir string, v vmimages.PackageVersion, bySum map[string]*entry) ([]*entry, error) {
	deb, err := pk.Download(ctx, v.Package, v.Version, v.SHA256)
	if err != nil {
		return nil, err
	}
	var out []*entry
	sub := filepath.Join(v.Suite, v.Package+"_"+v.Version)
	err = realobjects.ScanDeb(ctx, deb, func(f realobjects.Found) error {
		h := sha256.Sum256(f.Data)
		sum := hex.EncodeToString(h[:])
		where := fmt.Sprintf("%s %s (%s) %s", v.Package, v.Version, v.Suite, f.Name())
		if first, dup := bySum[sum]; dup {
			first.AlsoIn = append(first.AlsoIn, where)
			return nil
		}
		name := realobjects.ObjectPin{File: f.File, Offset: f.Offset}.CacheName()
		rel := filepath.Join(sub, name)
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, rel), f.Data, 0o644); err != nil {
			return err
		}
		e := &entry{Package: v.Package, Version: v.Version, Suite: v.Suite, File: f.File, Offset: f.Offset, SHA256: sum, Path: rel}
		bySum[sum] = e
		out = append(out, e)
		return nil
	})
	fmt.Fprintf(os.Stderr, "%s %s (%s): %d new objects\n", v.Package, v.Version, v.Suite, len(out))
	return out, err
}

// readObject records what bpfobj.Read finds in an object.
func readObject(dir string, e *entry) {
	obj, err := bpfobj.Read(filepath.Join(dir, e.Path))
	if err != nil {
		e.ReadError = err.Error()
		return
	}
	e.Programs, e.LoaderError = len(obj.Programs), obj.LoaderError
	e.ProgTypes = map[string]int{}
	for _, p := range obj.Programs {
		e.ProgTypes[p.ProgType]++
		if p.SectionError != "" {
			e.SectionErrors = append(e.SectionErrors, p.Section+": "+p.SectionError)
		}
	}
}

// summarize prints objects and programs per package, and the objects bpfobj could not read.
func summarize(entries []*entry) {
	type tally struct{ objects, programs, loaderErrs, unread int }
	per := map[string]*tally{}
	var total tally
	for _, e := range entries {
		t := per[e.Package]
		if t == nil {
			t = &tally{}
			per[e.Package] = t
		}
		for _, x := range []*tally{t, &total} {
			x.objects++
			x.programs += e.Programs
			if e.LoaderError != "" {
				x.loaderErrs++
			}
			if e.ReadError != "" {
				x.unread++
			}
		}
	}
	var names []string
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("%-20s %8s %9s %14s %7s\n", "package", "objects", "programs", "loader-refused", "unread")
	for _, n := range names {
		t := per[n]
		fmt.Printf("%-20s %8d %9d %14d %7d\n", n, t.objects, t.programs, t.loaderErrs, t.unread)
	}
	fmt.Printf("%-20s %8d %9d %14d %7d\n", "total", total.objects, total.programs, total.loaderErrs, total.unread)
	types := map[string]int{}
	for _, e := range entries {
		for t, n := range e.ProgTypes {
			types[t] += n
		}
		if e.ReadError != "" {
			fmt.Printf("unread: %s: %s\n", e.Path, e.ReadError)
		}
		if e.LoaderError != "" {
			fmt.Printf("loader refused (programs read from the ELF): %s: %s\n", e.Path, e.LoaderError)
		}
		for _, se := range e.SectionErrors {
			fmt.Printf("unknown section: %s: %s\n", e.Path, se)
		}
	}
	var tl []string
	for t, n := range types {
		if t == "" {
			t = "(unknown section)"
		}
		tl = append(tl, fmt.Sprintf("%s %d", t, n))
	}
	sort.Strings(tl)
	fmt.Println("programs by type:", strings.Join(tl, ", "))
}
