package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
// with kfuncs is several MB, and a registry check reads every kernel's). A probe's entry names
// the image and the agent only; a load run's entry also the object and the words it was loaded
// with (LoadKey).
type entryHeader struct {
	ImageSHA256   string   `json:"image_sha256"`
	AgentSHA256   string   `json:"agent_sha256"`
	ObjectSHA256  string   `json:"object_sha256,omitempty"`
	Object        string   `json:"object,omitempty"`
	Set           []string `json:"set,omitempty"`
	Attach        bool     `json:"attach,omitempty"`
	ContentSHA256 string   `json:"content_sha256"`
}

// sameKey reports whether h was stored under the key of want (its checksum aside).
func (h entryHeader) sameKey(want entryHeader) bool {
	return h.ImageSHA256 == want.ImageSHA256 && h.AgentSHA256 == want.AgentSHA256 &&
		h.ObjectSHA256 == want.ObjectSHA256 && h.Object == want.Object &&
		slices.Equal(h.Set, want.Set) && h.Attach == want.Attach
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
	return c.get(c.path(image, agent), entryHeader{ImageSHA256: image, AgentSHA256: agent})
}

// get reads the entry at p, which must have been stored under key.
func (c Cache) get(p string, key entryHeader) (*observation.Document, error) {
	data, err := files.ReadRegular(p, files.Observation)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("observation cache: %w", err)
	}
	bad := func(why string) (*observation.Document, error) {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("%w %s: %s (could not remove it: %v; the kernel will be booted again)", ErrCorrupt, p, why, err)
		}
		return nil, fmt.Errorf("%w %s: %s (removed; the kernel will be booted again)", ErrCorrupt, p, why)
	}
	e, body, why := readHeader(data, key)
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
// or "" when it names the key and a checksum. Each damage gets its own words: an
// empty entry or one whose header is empty (a crash or a full disk while it was written) is not
// one "stored under another key".
func readHeader(data []byte, key entryHeader) (e entryHeader, body []byte, why string) {
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
	case !e.sameKey(key):
		return e, nil, "stored under another key"
	}
	return e, body, ""
}

// staleAfter is how long an entry of another agent build may go unused before Put removes it:
// each probe change leaves a full set of observations behind (2.5 MB per kernel), while a CI
// cache shared by two agent builds still keeps both.
const staleAfter = 14 * 24 * time.Hour

// prune removes the entries matching pattern other than keep that have been unused for staleAfter.
func prune(pattern, keep string) {
	paths, _ := filepath.Glob(pattern)
	for _, p := range paths {
		if p == keep {
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
	p := c.path(image, agent)
	if err := c.put(p, entryHeader{ImageSHA256: image, AgentSHA256: agent}, doc); err != nil {
		return err
	}
	prune(filepath.Join(c.Dir, image+"-*.json"), p)
	return nil
}

// put stores doc at p under key.
func (c Cache) put(p string, key entryHeader, doc *observation.Document) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	enc, err := observation.Encode(doc)
	if err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	key.ContentSHA256 = observation.Checksum(enc)
	head, err := json.Marshal(key)
	if err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	var data bytes.Buffer
	data.Write(head)
	data.WriteByte('\n')
	data.Write(enc)
	data.WriteByte('\n')
	if err := files.WriteAtomic(p, data.Bytes(), 0o644); err != nil {
		return fmt.Errorf("observation cache: %w", err)
	}
	return nil
}
