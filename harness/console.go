package harness

import (
	"bytes"
	"strings"
	"sync"
)

// console keeps the tail of a guest's console (ttyS0) for reports and notices the lines that
// mean the kernel is broken, whatever the result stream says.
type console struct {
	mu      sync.Mutex
	size    int
	ring    []byte // the last size bytes
	partial []byte // the current, unterminated line
	trouble string // the first alarming line seen
	agent   string // the agent's last own message (it prints "bpfmatrix agent: ...")
}

// agentPrefix starts every line the guest agent prints on the console.
const agentPrefix = "bpfmatrix agent: "

// troubleMarkers are console lines after which a kernel's answers cannot be trusted: a panic
// (including "Attempted to kill init!"), an oops, a BUG.
var troubleMarkers = []string{"Kernel panic", "Oops:", "BUG:", "Attempted to kill init"}

func newConsole(size int) *console {
	return &console{size: size}
}

// Write implements io.Writer for the QEMU process's stdout.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ring = append(c.ring, p...)
	if over := len(c.ring) - c.size; over > 0 {
		c.ring = append(c.ring[:0], c.ring[over:]...)
	}
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.scan(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	// A line longer than the ring is noise; keep the scan bounded.
	if len(c.partial) > c.size {
		c.partial = c.partial[len(c.partial)-c.size:]
	}
	return len(p), nil
}

func (c *console) scan(line string) {
	if i := strings.Index(line, agentPrefix); i >= 0 {
		c.agent = strings.TrimSpace(strings.TrimRight(line[i:], "\r"))
	}
	if c.trouble != "" {
		return
	}
	for _, m := range troubleMarkers {
		if strings.Contains(line, m) {
			c.trouble = strings.TrimSpace(strings.TrimRight(line, "\r"))
			return
		}
	}
}

// Tail returns the kept tail of the console, starting at a line boundary when possible.
func (c *console) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.ring
	if len(b) == c.size {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// Trouble returns the first panic, oops or BUG line seen, or "".
func (c *console) Trouble() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trouble == "" && len(c.partial) > 0 {
		// The kernel may die in the middle of its last line.
		c.scan(string(c.partial))
	}
	return c.trouble
}

// AgentNote returns the last line the agent printed on the console, or "".
func (c *console) AgentNote() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agent
}
