package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// EmbeddedAddr is where an embedded registry listens when the port is
// free, the same default as `runner registry serve` and `make base-images`.
const EmbeddedAddr = "127.0.0.1:5000"

// ErrNotLoopback is an address that is not a loopback IP or localhost:
// runner's embedded registry has no authentication and never listens there.
var ErrNotLoopback = errors.New("not a loopback address")

// EmbeddedDir is the directory of runner's embedded registry under its
// state dir (e.g. .runner/registry).
func EmbeddedDir(stateDir string) string { return filepath.Join(stateDir, "registry") }

// Embedded finds or starts runner's embedded registry for stateDir. A
// server already serving EmbeddedDir(stateDir) (started with Serve, e.g. by
// `runner exec` or `runner registry serve`) is reused and release does
// nothing; otherwise a private one is started on preferAddr (usually
// EmbeddedAddr), or a free loopback port when that is taken, and release
// stops it. Private servers are not reused by other callers (their owner
// may stop them at any time); several may serve the same directory at
// once. The images stay on disk either way. preferAddr must be a loopback
// IP or localhost (ErrNotLoopback otherwise): the registry has no
// authentication.
func Embedded(ctx context.Context, stateDir, preferAddr string) (addr string, release func() error, err error) {
	if !IsLoopbackHost(preferAddr) {
		return "", nil, fmt.Errorf("serve runner's registry on %q: %w", preferAddr, ErrNotLoopback)
	}
	dir := EmbeddedDir(stateDir)
	if a, id, ok := servedBy(dir); ok && ping(ctx, a, id, 2*time.Second) {
		return a, func() error { return nil }, nil
	}
	s, err := Serve(context.WithoutCancel(ctx), preferAddr, dir, withoutAddrFile())
	if err != nil {
		if s, err = Serve(context.WithoutCancel(ctx), "127.0.0.1:0", dir, withoutAddrFile()); err != nil {
			return "", nil, err
		}
	}
	return s.Addr(), s.Close, nil
}
