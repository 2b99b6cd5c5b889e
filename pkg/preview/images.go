package preview

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/birdflock/runner/pkg/registry"
)

// puller fetches images into OCI archives in dir, one per reference, and
// brings up runner's registry from the state dir when an image lives on a
// loopback registry that does not answer (e.g. after `make demo` ended).
type puller struct {
	client   *registry.Client
	stateDir string
	dir      string
	logf     func(format string, args ...any)
	archives map[string]string // ref → archive
	releases []func() error
}

func (p *puller) fetch(ctx context.Context, ref string, at Pos) (string, error) {
	if a, ok := p.archives[ref]; ok {
		return a, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("%s: image %q: %w", at, ref, err)
	}
	if err := p.ensureRegistry(ctx, r.Context().RegistryStr()); err != nil {
		return "", fmt.Errorf("%s: image %s: %w", at, ref, err)
	}
	a, err := p.client.Pull(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("%s: %w", at, err)
	}
	defer a.Close()
	dg, err := a.Digest()
	if err != nil {
		return "", fmt.Errorf("%s: image %s: %w", at, ref, err)
	}
	file := filepath.Join(p.dir, dg.Hex+".tar")
	if _, err := os.Stat(file); err != nil {
		if err := registry.WriteArchive(file, a, ""); err != nil {
			return "", fmt.Errorf("%s: image %s: %w", at, ref, err)
		}
	}
	p.logf("pulled %s (%s)", ref, dg)
	p.archives[ref] = file
	return file, nil
}

// ensureRegistry serves the state dir's registry on host when host is a
// loopback address (an IP, or localhost: never decided from a name's
// text) where nothing answers.
func (p *puller) ensureRegistry(ctx context.Context, host string) error {
	if !registry.IsLoopbackHost(host) || registry.Ping(ctx, host, 2*time.Second) {
		return nil
	}
	dir := registry.EmbeddedDir(p.stateDir)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("no registry answers on %s and runner's registry (%s) does not exist", host, dir)
	}
	addr, release, err := registry.EmbeddedAt(ctx, p.stateDir, host)
	if err != nil {
		return fmt.Errorf("start runner's registry on %s: %w", host, err)
	}
	if addr != host {
		_ = release()
		return fmt.Errorf("no registry answers on %s, and runner's registry cannot listen there (it is in use)", host)
	}
	p.logf("started runner's registry (%s) on %s", dir, host)
	p.releases = append(p.releases, release)
	return nil
}

// release stops the registries ensureRegistry started.
func (p *puller) release() {
	for _, r := range p.releases {
		_ = r()
	}
	p.releases = nil
}
