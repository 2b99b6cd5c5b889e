package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EmbeddedAddr is the address an embedded registry gets the first time its
// state dir is used, when that port is free: the same default as
// `runner registry serve` and `make base-images`.
const EmbeddedAddr = "127.0.0.1:5000"

// ErrNotLoopback is an address that is not a loopback IP or localhost:
// runner's embedded registry has no authentication and never listens there.
var ErrNotLoopback = errors.New("not a loopback address")

// EmbeddedDir is the directory of runner's embedded registry under its
// state dir (e.g. .runner/registry).
func EmbeddedDir(stateDir string) string { return filepath.Join(stateDir, "registry") }

// homeFile, inside a registry directory, records the address that
// directory is served on. Image references name the registry's address
// (pushes report 127.0.0.1:PORT/owner/app@sha256:…, and rendered manifests
// keep it), so the address must not change from run to run.
const homeFile = "home.addr"

// HomeAddr returns the address the registry in dir is served on: the one
// recorded in dir, or, the first time, prefer when it is free (e.g.
// EmbeddedAddr; a port 0 picks a free one), else a free loopback port. The
// choice is recorded, so it never depends on what happens to listen on
// prefer later.
func HomeAddr(dir, prefer string) (string, error) {
	p := filepath.Join(dir, homeFile)
	if b, err := os.ReadFile(p); err == nil {
		addr := strings.TrimSpace(string(b))
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", fmt.Errorf("registry address in %s: %w", p, err)
		}
		if !IsLoopbackHost(addr) {
			return "", fmt.Errorf("registry address %q in %s: %w", addr, p, ErrNotLoopback)
		}
		return addr, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("registry address: %w", err)
	}
	if !IsLoopbackHost(prefer) {
		return "", fmt.Errorf("serve runner's registry on %q: %w", prefer, ErrNotLoopback)
	}
	addr, err := freeAddr(prefer)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("registry address: %w", err)
	}
	// Create the file once: of two processes choosing at once, the
	// first link wins and the other reads its choice.
	tmp, err := os.CreateTemp(dir, homeFile+".*")
	if err != nil {
		return "", fmt.Errorf("registry address: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(addr + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("registry address: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("registry address: %w", err)
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, os.ErrExist) {
			return HomeAddr(dir, prefer)
		}
		return "", fmt.Errorf("registry address: %w", err)
	}
	return addr, nil
}

// freeAddr is prefer when something can listen there now, else a free
// loopback port.
func freeAddr(prefer string) (string, error) {
	if ln, err := net.Listen("tcp", prefer); err == nil {
		addr := ln.Addr().String()
		ln.Close()
		return addr, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("registry address: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ErrAddrTaken is returned when a registry's address is taken by a server
// that is not runner's registry for that directory.
var ErrAddrTaken = errors.New("address taken by another server")

// Embedded finds or starts runner's embedded registry for stateDir on its
// stable address (HomeAddr with EmbeddedAddr as the first choice). A
// server already serving EmbeddedDir(stateDir) (`runner registry serve`, or
// another runner process) is reused and release does nothing; otherwise one
// is started there and shared within this process until its last user
// calls release. A foreign server on the address is an ErrAddrTaken error,
// never a silent move to another address.
func Embedded(ctx context.Context, stateDir string) (addr string, release func() error, err error) {
	dir := EmbeddedDir(stateDir)
	if a, id, ok := servedBy(dir); ok && ping(ctx, a, id, 2*time.Second) {
		return a, func() error { return nil }, nil
	}
	home, err := HomeAddr(dir, EmbeddedAddr)
	if err != nil {
		return "", nil, err
	}
	return EmbeddedAt(ctx, stateDir, home)
}

// EmbeddedAt serves stateDir's registry on addr for as long as the caller
// needs it: a server of this process already there is shared (release
// stops it with its last user), a server of another runner process serving
// the same directory there is reused, anything else on addr is an
// ErrAddrTaken error; addr must be a loopback IP or localhost
// (ErrNotLoopback: the registry has no authentication). Such servers write no address file, so nobody
// outside comes to rely on a server its owner is about to stop.
func EmbeddedAt(ctx context.Context, stateDir, addr string) (string, func() error, error) {
	if !IsLoopbackHost(addr) {
		return "", nil, fmt.Errorf("serve runner's registry on %q: %w", addr, ErrNotLoopback)
	}
	dir := EmbeddedDir(stateDir)
	key := sharedKey(dir, addr)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if sh := shared.servers[key]; sh != nil {
		sh.users++
		return sh.s.Addr(), sh.release, nil
	}
	s, err := Serve(context.WithoutCancel(ctx), addr, dir, withoutAddrFile())
	if err != nil {
		if !errors.Is(err, syscall.EADDRINUSE) {
			return "", nil, err
		}
		if servesDir(ctx, addr, dir) {
			return addr, func() error { return nil }, nil
		}
		return "", nil, takenError(addr, dir)
	}
	sh := &sharedServer{s: s, users: 1}
	sh.release = func() error {
		shared.mu.Lock()
		if sh.users--; sh.users > 0 {
			shared.mu.Unlock()
			return nil
		}
		delete(shared.servers, key)
		shared.mu.Unlock()
		return s.Close()
	}
	shared.servers[key] = sh
	return s.Addr(), sh.release, nil
}

// shared holds the servers EmbeddedAt started in this process, by
// directory and address, so concurrent runs (runner serve) share one.
var shared = struct {
	mu      sync.Mutex
	servers map[string]*sharedServer
}{servers: map[string]*sharedServer{}}

type sharedServer struct {
	s       *Server
	users   int
	release func() error
}

func sharedKey(dir, addr string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return dir + "\x00" + addr
}

// Probe tells where the registry in dir is served or would be: the
// address of a live server of dir (serving true), else its stable address
// (HomeAddr with EmbeddedAddr as the first choice) with serving false, or
// an ErrAddrTaken error when anything else listens there.
func Probe(ctx context.Context, dir string) (addr string, serving bool, err error) {
	if a, id, ok := servedBy(dir); ok && ping(ctx, a, id, 2*time.Second) {
		return a, true, nil
	}
	home, err := HomeAddr(dir, EmbeddedAddr)
	if err != nil {
		return "", false, err
	}
	if servesDir(ctx, home, dir) {
		return home, true, nil
	}
	// Anything that accepts a connection there holds the address, registry
	// or not (a web server answering 404, another service).
	if c, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", home); err == nil {
		c.Close()
		return home, false, takenError(home, dir)
	}
	return home, false, nil
}

// takenError says which address is taken and how to move on.
func takenError(addr, dir string) error {
	return fmt.Errorf("%w: %s, the address of runner's registry for %s (recorded in %s), is in use by another server; stop it, or delete that file to let runner choose a new address (image references and rendered manifests then name the new one)",
		ErrAddrTaken, addr, dir, filepath.Join(dir, homeFile))
}
