package crosscheck

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfmatrix/bpfmatrix/internal/kfunctags"
	"github.com/bpfmatrix/bpfmatrix/internal/testenv"
	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/vmimages"
)

// TestRecordedObservations checks every recorded observation against the BTF of the image it
// names, read from the user's cache: on a kernel whose BTF tags kfuncs the observed vmlinux
// kfuncs are exactly the tagged ones, and on one whose BTF predates the tag none is marked
// tagged. The images of 5.10 and 7.3 are ones CI boots: a missing one is fetched when
// BPFMATRIX_TEST_NETWORK asks for it, and fails under CI otherwise; the others are checked
// where they are cached.
func TestRecordedObservations(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(recorded, "*.json.gz"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recorded observations: %v", err)
	}
	for _, p := range paths {
		kernel := strings.TrimSuffix(filepath.Base(p), ".json.gz")
		t.Run(kernel, func(t *testing.T) {
			doc, err := observation.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Guest == nil || doc.Guest.SHA256 == "" {
				t.Fatalf("%s names no image", p)
			}
			spec, err := vmimages.ImageBTF(context.Background(), "", doc.Guest.SHA256)
			ciKernel := kernel == "5.10" || kernel == "7.3"
			if errors.Is(err, fs.ErrNotExist) && ciKernel && testenv.Network() {
				// go test runs packages in parallel, so another package's test that would fetch
				// it may not have run yet.
				spec, err = fetchImageBTF(t, kernel, doc.Guest.SHA256)
			}
			switch {
			case errors.Is(err, fs.ErrNotExist) && ciKernel:
				testenv.Need(t, err, "bpfmatrix kernels fetch "+kernel+", or set "+testenv.EnvNetwork+"=1")
			case errors.Is(err, fs.ErrNotExist):
				testenv.Optional(t, err, "bpfmatrix kernels fetch "+kernel)
			case err != nil:
				t.Fatal(err)
			}
			tagged, err := kfunctags.Tagged(spec)
			if err != nil {
				t.Fatal(err)
			}
			if len(tagged) == 0 {
				for _, k := range doc.Kfuncs {
					if k.Tagged && k.Module == "" {
						t.Errorf("kernel %s: image BTF tags no kfunc, the observation marks %s tagged", kernel, k.Name)
					}
				}
				t.Logf("kernel %s: image BTF tags no kfunc; the observation lists %d by known name", kernel, len(doc.Kfuncs))
				return
			}
			d := kfunctags.Compare(tagged, observedOf(doc.Kfuncs))
			if len(d.OnlyImage) > 0 {
				t.Errorf("kernel %s: %d kfuncs tagged in the image, missing from the observation: %s", kernel, len(d.OnlyImage), strings.Join(d.OnlyImage, ", "))
			}
			if len(d.OnlyObserved) > 0 {
				t.Errorf("kernel %s: %d vmlinux kfuncs observed, not tagged in the image: %s", kernel, len(d.OnlyObserved), strings.Join(d.OnlyObserved, ", "))
			}
			t.Logf("kernel %s: %d kfuncs tagged in the image; module kfuncs (not compared): %d %s", kernel, len(tagged), len(d.Modules), strings.Join(d.Modules, ", "))
		})
	}
}

// fetchImageBTF fetches kernel's image as the built-in kernels file pins it (the built-in lock is
// read-only, so the checkout's kernels.lock is not rewritten) and reads its BTF.
func fetchImageBTF(t *testing.T, kernel, sum string) (*btf.Spec, error) {
	t.Helper()
	cfg, err := vmimages.LoadConfig(vmimages.BuiltinKernelsFile)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cfg.Select([]string{kernel})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&vmimages.Fetcher{}).Fetch(context.Background(), entries); err != nil {
		t.Fatalf("fetching the %s image: %v", kernel, err)
	}
	return vmimages.ImageBTF(context.Background(), "", sum)
}

// observedOf copies what Compare reads of an observation's kfuncs.
func observedOf(ks []observation.Kfunc) []kfunctags.Observed {
	out := make([]kfunctags.Observed, len(ks))
	for i, k := range ks {
		out[i] = kfunctags.Observed{Name: k.Name, Module: k.Module}
	}
	return out
}
