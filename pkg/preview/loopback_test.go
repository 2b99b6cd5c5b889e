package preview

import (
	"context"
	"os"
	"testing"

	"github.com/birdflock/runner/pkg/registry"
)

// Issue 12 #13: an image on "127.evil.test:5000" made preview start
// runner's unauthenticated registry on that name, deciding loopback by the
// "127." prefix. Only a loopback IP or localhost is this machine.
func TestEnsureRegistryOnlyOnLoopback(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(registry.EmbeddedDir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &puller{stateDir: state, logf: t.Logf}
	defer p.release()
	for _, host := range []string{"127.evil.test:5000", "127.0.0.1.nip.io:5000"} {
		if err := p.ensureRegistry(context.Background(), host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if len(p.releases) != 0 {
		t.Errorf("started %d registries", len(p.releases))
	}
}
