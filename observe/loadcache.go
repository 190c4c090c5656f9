package observe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/bpfmatrix/bpfmatrix/observation"
)

// LoadKey is what one object's answers on one kernel depend on: the kernel image, the agent
// that loaded it, the object's bytes and the words it was loaded with. The object's name is part
// of the key only when a --set word names an object ("OBJECT:PROG.target=FUNC"), because only
// then can the same bytes under another name be loaded otherwise. The architecture needs no
// field of its own: an arm64 build of a kernel is another image file than its amd64 build (so
// another Image hash), and the arm64 agent another binary than the amd64 one (another Agent
// hash), so the answers of two architectures never share a key, and amd64 keys stay as they were.
type LoadKey struct {
	// Image and Agent are the hex SHA-256 of the kernel image and of the agent binary.
	Image, Agent string
	// Object is the hex SHA-256 of the object file.
	Object string
	// Name is the object's name, or "" when no --set word names an object.
	Name string
	// Set holds the run's --set words in the order given (a later word may override an
	// earlier one); Attach whether programs were also attached.
	Set    []string
	Attach bool
}

// loadKey returns the key of obj on the image for a run with set and attach.
func loadKey(image, agent string, obj LoadObject, set []string, attach bool) LoadKey {
	k := LoadKey{Image: image, Agent: agent, Object: obj.SHA256, Set: set, Attach: attach}
	if namesObject(set) {
		k.Name = obj.Name
	}
	return k
}

// namesObject reports whether a --set word is limited to one object: the part before its "="
// holds a ":" (a program's or a map's name never does).
func namesObject(set []string) bool {
	for _, w := range set {
		left, _, _ := strings.Cut(w, "=")
		if strings.Contains(left, ":") {
			return true
		}
	}
	return false
}

func (k LoadKey) header() entryHeader {
	return entryHeader{ImageSHA256: k.Image, AgentSHA256: k.Agent, ObjectSHA256: k.Object, Object: k.Name, Set: k.Set, Attach: k.Attach}
}

// loadPath is DIR/loads/<image sha256>-<hash of the rest of the key>.json: an image's entries
// sit together, so that pruning finds them.
func (c Cache) loadPath(k LoadKey) string {
	rest, _ := json.Marshal(struct {
		Agent, Object, Name string
		Set                 []string
		Attach              bool
	}{k.Agent, k.Object, k.Name, k.Set, k.Attach})
	sum := sha256.Sum256(rest)
	return filepath.Join(c.Dir, "loads", k.Image+"-"+hex.EncodeToString(sum[:8])+".json")
}

// GetLoad returns the cached answers of one object on one kernel (a load document whose Loads
// are that object's programs), or (nil, nil) when there are none; a corrupt entry is removed and
// reported as Get does.
func (c Cache) GetLoad(k LoadKey) (*observation.Document, error) {
	return c.get(c.loadPath(k), k.header())
}

// PutLoad stores one object's answers on one kernel, and removes the same image's load entries
// unused for two weeks (of other agents, other objects, other words).
func (c Cache) PutLoad(k LoadKey, doc *observation.Document) error {
	p := c.loadPath(k)
	if err := c.put(p, k.header(), doc); err != nil {
		return err
	}
	prune(filepath.Join(c.Dir, "loads", k.Image+"-*.json"), p)
	return nil
}
