package steps

import (
	"context"
	"errors"
	"sync"

	"github.com/birdflock/runner/pkg/registry"
)

// Scope is what the steps of one run share besides files: the embedded
// registry, started on first use and kept until the run ends, so that the
// refs push-image reports stay reachable for the later steps and jobs of
// the run. The engine makes one per run and closes it when the run ends.
type Scope struct {
	stateDir string

	mu      sync.Mutex
	addr    string
	release func() error
}

// NewScope returns the scope of one run with runner's state dir.
func NewScope(stateDir string) *Scope { return &Scope{stateDir: stateDir} }

// EmbeddedRegistry returns the address of runner's embedded registry for
// the run: one already serving the state dir's registry, or one started
// now on its stable address (registry.HomeAddr) that lives until Close.
func (sc *Scope) EmbeddedRegistry(ctx context.Context) (string, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.addr != "" {
		return sc.addr, nil
	}
	if sc.stateDir == "" {
		return "", errors.New("the embedded registry needs runner's state dir")
	}
	addr, release, err := registry.Embedded(ctx, sc.stateDir)
	if err != nil {
		return "", err
	}
	sc.addr, sc.release = addr, release
	return addr, nil
}

// Close stops what the scope started.
func (sc *Scope) Close() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.release == nil {
		return nil
	}
	err := sc.release()
	sc.addr, sc.release = "", nil
	return err
}

// embeddedRegistry is the run's embedded registry: Settings.Registry when
// set (a remote leg), else the state dir's; a step run without a scope
// (outside the engine) gets one for the step's duration.
func embeddedRegistry(ctx context.Context, s *Context) (addr string, release func() error, err error) {
	if r := s.Run.Settings.Registry; r != "" {
		// The controller's registry, as this leg reaches it.
		return r, func() error { return nil }, nil
	}
	if s.Run.Scope != nil {
		addr, err := s.Run.Scope.EmbeddedRegistry(ctx)
		return addr, func() error { return nil }, err
	}
	if s.Run.StateDir == "" {
		return "", nil, errors.New("the embedded registry needs runner's state dir")
	}
	return registry.Embedded(ctx, s.Run.StateDir)
}
