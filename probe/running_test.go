package probe

import (
	"strings"
	"testing"
)

func TestRunningKernel(t *testing.T) {
	release, v, err := RunningKernel()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(release, v.Series().String()+".") && !strings.HasPrefix(release, v.Series().String()+"-") {
		t.Errorf("release %q parsed as %s", release, v)
	}
	if v.Major < 3 {
		t.Errorf("implausible running kernel %s", v)
	}
}
