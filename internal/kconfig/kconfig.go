// Package kconfig reads kernel build configurations (.config files, /proc/config.gz): the image
// cache records them, the harness hands them to the guest agent, and the probe and the verdicts
// cite the options a kernel lacks.
package kconfig

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// Config maps option names (CONFIG_...) to their values: "y", "m", a number or a string without
// its quotes. Options written as "# CONFIG_X is not set" have the value "n", so that "disabled"
// and "unknown to this kernel" (absent) can be told apart.
type Config map[string]string

// Set reports whether option is built in or built as a module.
func (c Config) Set(option string) bool {
	v := c[option]
	return v == "y" || v == "m"
}

// Parse reads a configuration.
func Parse(r io.Reader) (Config, error) {
	c := Config{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			if name, ok := strings.CutSuffix(rest, " is not set"); ok && strings.HasPrefix(name, "CONFIG_") {
				c[name] = "n"
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "CONFIG_") {
			continue
		}
		c[k] = strings.Trim(v, `"`)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Read reads the configuration at path, gunzipping it when the name ends in .gz
// (/proc/config.gz).
func Read(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("kernel config %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	c, err := Parse(r)
	if err != nil {
		return nil, fmt.Errorf("kernel config %s: %w", path, err)
	}
	return c, nil
}
