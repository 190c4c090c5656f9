package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bpfmatrix/bpfmatrix/internal/files"
	"github.com/bpfmatrix/bpfmatrix/observation"
)

// Cache stores one kernel's observations per (kernel image sha256, agent binary sha256): they
// depend on nothing else, so a registry edit reuses them and a new kernel build or probe engine
// does not.
type Cache struct {
	// Dir holds the entries (DIR/<image sha256>-<agent sha256 prefix>.json).
	Dir string
}

// entryHeader is the first line of an entry file: the key it was stored under and a checksum
// of the document, which follows on the next line as observation.Encode wrote it. The header
// comes first so that reading an entry scans the document once, to parse it (a 7.3 document
// with kfuncs is several MB, and a registry check reads every kernel's).
type entryHeader struct {
	ImageSHA256   string `json:"image_sha256"`
	AgentSHA256   string `json:"agent_sha256"`
	ContentSHA256 string `json:"content_sha256"`
}

// ErrCorrupt is returned (wrapped) by Get for an entry that does not verify; Get removes it.
var ErrCorrupt = errors.New("corrupt observation cache entry")

func (c Cache) path(image, agent string) string {
	return filepath.Join(c.Dir, image+"-"+agent[:min(16, len(agent))]+".json")
}

// Get returns the cached document for the key, or (nil, nil) when there is none. A corrupt
// entry (bad checksum, another key, a document observation.Parse refuses) is deleted and
// reported as an error wrapping ErrCorrupt, which callers treat as a miss; when it cannot be
// deleted (a read-only cache), the error says so.
func (c Cache) Get(image, agent string) (*observation.Document, error) {
	p := c.path(image, agent)
	data, err := files.ReadRegular(p, files.Observation)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("observation cache: %w", err)
	}
	bad := func(why string) (*observation.Document, error) {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("%w %s: %s (could not remove it: %v; the kernel will be probed again)", ErrCorrupt, p, why, err)
		}
		return nil, fmt.Errorf("%w %s: %s (removed; the kernel will be probed again)", ErrCorrupt, p, why)
	}
	e, body, why := readHeader(data, image, agent)
	if why != "" {
		return bad(why)
	}
	body = bytes.TrimSuffix(body, []byte("\n"))
	if observation.Checksum(body) != e.ContentSHA256 {
		return bad("checksum mismatch")
	}
	doc, err := observation.Parse(p, body)
	if err != nil {
		return bad(err.Error())
	}
	// The modification time says when an entry was last used: Put prunes by it.
	now := time.Now()
	os.Chtimes(p, now, now)
	return doc, nil
}

// readHeader splits an entry into its header and body and says what is wrong with the header,
// or "" when it names the key (image, agent) and a checksum. Each damage gets its own words: an
// empty entry or one whose header is empty (a crash or a full disk while it was written) is not
// one "stored under another key".
func readHeader(data []byte, image, agent string) (e entryHeader, body []byte, why string) {
	if len(bytes.TrimSpace(data)) == 0 {
		return e, nil, "the entry is empty"
	}
	head, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return e, nil, "no header line"
	}
	if err := json.Unmarshal(head, &e); err != nil {
		return e, nil, "header: " + err.Error()
	}
	switch {
	case e.ImageSHA256 == "" || e.AgentSHA256 == "" || e.ContentSHA256 == "":
		return e, nil, "the header names no key or checksum"
	case e.ImageSHA256 != image || e.AgentSHA256 != agent:
		return e, nil, "stored under another key"
	}
	return e, body, ""
}

// staleAfter is how long an entry of another agent build may go unused before Put removes it:
// each probe change leaves a full set of observations behind (2.5 MB per kernel), while a CI
// cache shared by two agent builds still keeps both.
const staleAfter = 14 * 24 * time.Hour

// prune removes the entries of image stored by other agents and unused for staleAfter.
func (c Cache) prune(image, agent string) {
	paths, _ := filepath.Glob(filepath.Join(c.Dir, image+"-*.json"))
	for _, p := range paths {
		if p == c.path(image, agent) {
			continue
		}
		if st, err := os.Stat(p); err == nil && time.Since(st.ModTime()) > staleAfter {
			os.Remove(p)
		}
	}
}

// Put stores a document atomically (a reader never sees half an entry) and removes the same
// kernel's entries of other agent builds that have not been used for two weeks.
func (c Cache) Put(image, agent string, doc *observation.Document) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	enc, err := observation.Encode(doc)
	if err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	head, err := json.Marshal(entryHeader{ImageSHA256: image, AgentSHA256: agent, ContentSHA256: observation.Checksum(enc)})
	if err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	var data bytes.Buffer
	data.Write(head)
	data.WriteByte('\n')
	data.Write(enc)
	data.WriteByte('\n')
	if err := files.WriteAtomic(c.path(image, agent), data.Bytes(), 0o644); err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	c.prune(image, agent)
	return nil
}
