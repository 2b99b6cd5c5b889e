package registry

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestEmbeddedReusesAServedRegistry(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	s, err := Serve(ctx, "127.0.0.1:0", EmbeddedDir(state)) // as `runner exec` would
	if err != nil {
		t.Fatal(err)
	}
	addr, release, err := Embedded(ctx, state, "127.0.0.1:0")
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

	// Nothing serving: each caller gets a private server on the same
	// directory; concurrent pushes work and one release leaves the other.
	var wg sync.WaitGroup
	addrs := make([]string, 2)
	releases := make([]func() error, 2)
	for i := range addrs {
		if addrs[i], releases[i], err = Embedded(ctx, state, "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if addrs[0] == addrs[1] {
		t.Fatal("a private embedded registry was shared")
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
		t.Fatalf("second private registry affected by the first's release: %v", err)
	}
	releases[1]()
}

// After a crash the address file outlives its server; if another
// registry (serving another directory) has the port since, Embedded must
// not push into it.
func TestEmbeddedIgnoresAStaleAddressFile(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
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
		addr, release, err := Embedded(ctx, state, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if addr == other.Addr() {
			t.Fatalf("address file %q: reused %s, which serves another directory", content, addr)
		}
		release()
	}
}
