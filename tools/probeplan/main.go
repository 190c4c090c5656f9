// Command probeplan learns the probe's plan (probe.Plan) from a directory of exhaustive
// observation documents, one per kernel (as `bpfmatrix run --exhaustive --out DIR` writes
// them), and writes it where the agent's build embeds it:
//
//	go run ./tools/probeplan -in DIR [-in DIR2 ...] -out probe/plan.json
//
// A document of a planned probe would teach the plan its own copies: answers with a "from" or
// a "like" are refused.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
	"github.com/bpfmatrix/bpfmatrix/observe"
	"github.com/bpfmatrix/bpfmatrix/probe"
)

// dirs is a repeatable -in flag.
type dirs []string

func (d *dirs) String() string     { return strings.Join(*d, ",") }
func (d *dirs) Set(s string) error { *d = append(*d, s); return nil }

func main() {
	var in dirs
	flag.Var(&in, "in", "a directory of exhaustive observation documents (repeatable)")
	out := flag.String("out", "probe/plan.json", "the plan file to write")
	flag.Parse()
	if len(in) == 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: probeplan -in DIR [-in DIR ...] [-out FILE]")
		os.Exit(2)
	}
	if err := run(in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "probeplan:", err)
		os.Exit(1)
	}
}

// run learns the plan from the documents of dirs and writes it to out.
func run(in []string, out string) error {
	var docs []*observation.Document
	for _, dir := range in {
		obs, err := observe.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, o := range obs {
			for _, r := range o.Doc.Results {
				if r.From != "" || r.Like != "" {
					return fmt.Errorf("%s/%s: %s/%s answers from %s%s: not an exhaustive probe's document", dir, o.Label(), r.ProgType, r.Variant, r.From, r.Like)
				}
			}
			docs = append(docs, o.Doc)
		}
	}
	plan, err := probe.LearnPlan(docs)
	if err != nil {
		return err
	}
	b, err := plan.Marshal()
	if err != nil {
		return err
	}
	if _, err := probe.ParsePlan(out, b); err != nil {
		return errors.Join(errors.New("the learnt plan does not read back"), err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s: %d kernels, %d variants\n", out, len(plan.Kernels), len(plan.Variants))
	return nil
}
