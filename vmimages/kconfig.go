package vmimages

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ReadKernelConfig reads a kernel .config into option -> value ("y", "m", a number or a string
// without its quotes). Options written as "# CONFIG_X is not set" get the value "n", so that a
// caller can tell "disabled" from "unknown to this kernel" (absent from the map). The harness
// cites these values (CONFIG_BPF_LSM, CONFIG_FUNCTION_ERROR_INJECTION, ...) as the reason for an
// inconclusive probe.
func ReadKernelConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	defer f.Close()
	opts := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			if name, ok := strings.CutSuffix(rest, " is not set"); ok && strings.HasPrefix(name, "CONFIG_") {
				opts[name] = "n"
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "CONFIG_") {
			continue
		}
		opts[k] = strings.Trim(v, `"`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel config %s: %w", path, err)
	}
	return opts, nil
}
