package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEmbeddedReusesAServedRegistry(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	home := recordFreeHome(t, state)
	s, err := Serve(ctx, "127.0.0.1:0", EmbeddedDir(state)) // as `runner registry serve --addr` would
	if err != nil {
		t.Fatal(err)
	}
	addr, release, err := Embedded(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	if addr != s.Addr() {
		t.Fatalf("got %s, want the running %s", addr, s.Addr())
	}
	if _, err := fastClient(Options{}).Push(ctx, randomArtifact(t), addr+"/o/a", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	release()
	if !Ping(ctx, s.Addr(), 1e9) {
		t.Fatal("release of a reused registry stopped it")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Nothing serving: callers of this process share one server on the
	// directory's stable address; concurrent pushes work and one release
	// leaves it to the other.
	var wg sync.WaitGroup
	addrs := make([]string, 2)
	releases := make([]func() error, 2)
	for i := range addrs {
		if addrs[i], releases[i], err = Embedded(ctx, state); err != nil {
			t.Fatal(err)
		}
		if addrs[i] != home {
			t.Fatalf("served on %s, not on the recorded address %s", addrs[i], home)
		}
	}
	if _, err := fastClient(Options{}).Digest(ctx, addrs[0]+"/o/a:latest"); err != nil {
		t.Fatalf("image gone after restart: %v", err)
	}
	errs := make([]error, 2)
	arts := []*Artifact{randomArtifact(t), randomArtifact(t)}
	for i := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = fastClient(Options{}).Push(ctx, arts[i], addrs[i]+"/o/b", []string{"latest"})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if err := releases[0](); err != nil {
		t.Fatal(err)
	}
	if _, err := fastClient(Options{}).Digest(ctx, addrs[1]+"/o/b:latest"); err != nil {
		t.Fatalf("the other user's registry stopped by the first release: %v", err)
	}
	if err := releases[1](); err != nil {
		t.Fatal(err)
	}
	if Ping(ctx, home, time.Second) {
		t.Fatal("the last release left the registry running")
	}
}

// recordFreeHome records a free port as state's registry address, so tests
// never take 127.0.0.1:5000.
func recordFreeHome(t *testing.T, state string) string {
	t.Helper()
	home, err := HomeAddr(EmbeddedDir(state), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return home
}

// The address a state dir's registry is served on is chosen once and kept:
// with its first choice taken by another server (here another directory's
// registry, as a second checkout's `runner registry serve` on 5000), every
// run serves on the same recorded address, so image references and rendered
// manifests do not change from run to run.
func TestEmbeddedKeepsOneAddressWhenTheDefaultIsTaken(t *testing.T) {
	ctx := context.Background()
	other, err := Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	state := t.TempDir()
	dir := EmbeddedDir(state)
	home, err := HomeAddr(dir, other.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if home == other.Addr() {
		t.Fatalf("chose %s, which another server holds", home)
	}
	for run := range 3 {
		addr, release, err := Embedded(ctx, state)
		if err != nil {
			t.Fatal(err)
		}
		if addr != home {
			t.Fatalf("run %d served on %s, want the recorded %s", run, addr, home)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
	}
	if again, err := HomeAddr(dir, "127.0.0.1:0"); err != nil || again != home {
		t.Fatalf("HomeAddr again = %s, %v; want %s", again, err, home)
	}
}

// A foreign server on the recorded address is a clear error, never a silent
// move to another address.
func TestEmbeddedRefusesAForeignServerOnItsAddress(t *testing.T) {
	ctx := context.Background()
	other, err := Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	state := t.TempDir()
	dir := EmbeddedDir(state)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, homeFile), []byte(other.Addr()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = Embedded(ctx, state)
	if !errors.Is(err, ErrAddrTaken) || !strings.Contains(err.Error(), filepath.Join(dir, homeFile)) {
		t.Fatalf("got %v, want ErrAddrTaken naming %s", err, homeFile)
	}
	if _, _, err := Probe(ctx, dir); !errors.Is(err, ErrAddrTaken) {
		t.Fatalf("Probe: got %v, want ErrAddrTaken", err)
	}
	other.Close()

	// Not a registry at all: a web server that answers /v2/ with 404.
	ln, err := net.Listen("tcp", other.Addr())
	if err != nil {
		t.Fatal(err)
	}
	web := &http.Server{Handler: http.NotFoundHandler()}
	go web.Serve(ln)
	defer web.Close()
	if _, _, err := Probe(ctx, dir); !errors.Is(err, ErrAddrTaken) {
		t.Fatalf("Probe with a web server on the address: got %v, want ErrAddrTaken", err)
	}
	if _, _, err := Embedded(ctx, state); !errors.Is(err, ErrAddrTaken) {
		t.Fatalf("Embedded with a web server on the address: got %v, want ErrAddrTaken", err)
	}
}

// Another runner process serving the same directory on its address, with
// no address file (its private server), is reused rather than refused.
func TestEmbeddedReusesAnotherProcessServerOfTheSameDir(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	home := recordFreeHome(t, state)
	s, err := Serve(ctx, home, EmbeddedDir(state), withoutAddrFile())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, release, err := Embedded(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if addr != home {
		t.Fatalf("got %s, want %s", addr, home)
	}
	if a, serving, err := Probe(ctx, EmbeddedDir(state)); err != nil || !serving || a != home {
		t.Fatalf("Probe = %s, %v, %v; want %s serving", a, serving, err, home)
	}
}

// After a crash the address file outlives its server; if another
// registry (serving another directory) has the port since, Embedded must
// not push into it.
func TestEmbeddedIgnoresAStaleAddressFile(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	recordFreeHome(t, state)
	other, err := Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	dir := EmbeddedDir(state)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{other.Addr() + "\n", other.Addr() + "\nid-of-a-dead-server\n"} {
		if err := os.WriteFile(filepath.Join(dir, addrFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		addr, release, err := Embedded(ctx, state)
		if err != nil {
			t.Fatal(err)
		}
		if addr == other.Addr() {
			t.Fatalf("address file %q: reused %s, which serves another directory", content, addr)
		}
		release()
	}
}
