package registry

import (
	"context"
	"testing"
)

func TestEmbeddedStartsOnceAndIsFoundAgain(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	addr, release, err := Embedded(ctx, state, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fastClient(Options{}).Push(ctx, randomArtifact(t), addr+"/o/a", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	// A second caller finds the running one through its address file.
	addr2, release2, err := Embedded(ctx, state, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if addr2 != addr {
		t.Fatalf("second caller got %s, want the running %s", addr2, addr)
	}
	release2()
	if !Ping(ctx, addr, 1e9) {
		t.Fatal("release of a reused registry stopped it")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	// Stopped: the next caller starts a new one over the same images.
	addr3, release3, err := Embedded(ctx, state, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer release3()
	if _, err := fastClient(Options{}).Digest(ctx, addr3+"/o/a:latest"); err != nil {
		t.Fatalf("image gone after restart: %v", err)
	}
}
