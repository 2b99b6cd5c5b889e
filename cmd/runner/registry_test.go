package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/birdflock/runner/pkg/registry"
)

func TestRegistryServeCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reg")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRegistryCmd()
	cmd.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--dir", dir})
	var out strings.Builder
	cmd.SetOut(&out)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(dir, "serving.addr"))
		addr = strings.TrimSpace(string(b))
	}
	if addr == "" {
		cancel()
		t.Fatalf("registry did not start: %v", <-done)
	}
	img, _ := random.Image(512, 1)
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), addr+"/o/a", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
	if !strings.Contains(out.String(), "http://"+addr) {
		t.Errorf("output %q does not name the address", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "repositories", "o", "a", "_tags", "latest")); err != nil {
		t.Errorf("tag not on disk: %v", err)
	}
}
