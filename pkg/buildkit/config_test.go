package buildkit

import (
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/registry"
)

func TestConfigTOML(t *testing.T) {
	m, err := registry.ParseMirrors("docker.io=http://127.0.0.1:5000,ghcr.io=https://mirror.example")
	if err != nil {
		t.Fatal(err)
	}
	got := configTOML("/state/buildkit", "/state/buildkit/buildkitd.sock", "/usr/sbin/runc", m)
	for _, want := range []string{
		`root = "/state/buildkit"`,
		`address = ["unix:///state/buildkit/buildkitd.sock"]`,
		"[worker.oci]\n  enabled = true\n  binary = \"/usr/sbin/runc\"\n  networkMode = \"host\"",
		"[worker.containerd]\n  enabled = false",
		"[registry.\"docker.io\"]\n  mirrors = [\"127.0.0.1:5000\"]",
		"[registry.\"ghcr.io\"]\n  mirrors = [\"mirror.example\"]",
		"[registry.\"127.0.0.1:5000\"]\n  http = true\n  insecure = true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `[registry."mirror.example"]`) {
		t.Errorf("https mirror marked plain http:\n%s", got)
	}
	if got := configTOML("/r", "/r/s", "runc", registry.Mirrors{}); strings.Contains(got, "[registry") {
		t.Errorf("no mirrors, yet:\n%s", got)
	}
}

func TestSocketPathFitsSunPath(t *testing.T) {
	if p := socketPath("/work/.runner/buildkit"); p != "/work/.runner/buildkit/buildkitd.sock" {
		t.Errorf("short root: %s", p)
	}
	long := "/" + strings.Repeat("d", 120)
	p := socketPath(long)
	if len(p) >= 108 || p != socketPath(long) {
		t.Errorf("long root: %q", p)
	}
}
