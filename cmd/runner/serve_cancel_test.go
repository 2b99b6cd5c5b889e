package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runner serve --cancel-timeout reaches the service's config: a negative
// one is refused as the config key would be.
func TestServeCancelTimeoutFlag(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	out, err := exec.Command(bin, "serve", "--cancel-timeout", "-1s", "--state", filepath.Join(dir, "state"), "--repo", dir).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "cancel-timeout: -1s is negative") {
		t.Errorf("runner serve --cancel-timeout -1s: exit %d, want 2 naming cancel-timeout\n%s", code, out)
	}
}
