package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// archDiffsHeader opens every archdiffs.yaml sync writes: the file is written whole, so what a
// person should know about it is said here rather than in comments that would be lost.
const archDiffsHeader = `# Per-architecture differences: where a kernel built for another architecture answers otherwise
# than the amd64 build of the same release. helpers.yaml and kfuncs.yaml hold amd64's facts; this
# file holds only the exceptions, which helpers|kfuncs list|info|compat --arch apply.
#
# Written whole by ` + "`bpfmatrix arch sync --arch ARCH --write DIR...`" + ` from the observation documents
# of both builds: a release is listed under compared only when two or more boots of its ARCH build
# were compared (boots counts them), and a difference is recorded only when every one of those
# boots gives the same answer, which differs from amd64's. where is the attach point as the
# registry keys it (the bare program type is its default attachment); words are each kernel's own
# line. Edits by hand are checked as strictly as helpers.yaml's but are lost at the next sync.
`

// Encode returns the table as the YAML file sync writes: the header, then compared and
// differences in the table's order.
func (t *ArchDiffs) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(archDiffsHeader)
	b.WriteString("compared:")
	if len(t.Compared) == 0 {
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for _, c := range t.Compared {
		fmt.Fprintf(&b, "  - {release: %s, arch: %s, boots: %d}\n", yamlQuote(c.Release.String()), c.Arch, c.Boots)
	}
	b.WriteString("differences:")
	if len(t.Differences) == 0 {
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for _, d := range t.Differences {
		values := []string{string(d.Kind), d.Name, d.Where, d.Release.String(), string(d.Arch),
			string(d.Outcome), d.Words, string(d.AMD64Outcome), d.AMD64Words}
		for i, key := range archDiffKeys {
			lead := "    "
			if i == 0 {
				lead = "  - "
			}
			fmt.Fprintf(&b, "%s%s: %s\n", lead, key, yamlQuote(values[i]))
		}
	}
	return b.Bytes()
}

// yamlQuote writes s as a double-quoted YAML scalar. JSON's string syntax is a subset of YAML's
// double-quoted one, so a verifier line with colons, quotes or control bytes reads back as it was.
func yamlQuote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
