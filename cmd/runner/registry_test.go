package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/testenv"
)

func TestRegistryServeCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reg")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	addr, done := serveInBackground(t, ctx, dir, &out, nil, "--addr", "127.0.0.1:0")
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
	if _, err := os.Stat(filepath.Join(dir, "docker", "registry", "v2", "repositories", "o", "a", "_manifests", "tags", "latest", "current", "link")); err != nil {
		t.Errorf("tag not on disk: %v", err)
	}
}

func TestRegistryClientCommands(t *testing.T) {
	ctx := context.Background()
	s, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	img, _ := random.Image(512, 2)
	want, _ := img.Digest()
	if err := registry.WriteArchive(filepath.Join(dir, "in.tar"), registry.FromImage(img), "testing"); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := newRegistryCmd()
		cmd.SetArgs(args)
		var out, errOut strings.Builder
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		err := cmd.ExecuteContext(ctx)
		return strings.TrimSpace(out.String()), err
	}
	repo := s.Addr() + "/o/app"
	if out, err := run("push", filepath.Join(dir, "in.tar"), repo, "-t", "latest", "-t", "abc"); err != nil || out != want.String() {
		t.Fatalf("push: %q %v", out, err)
	}
	if out, err := run("tag", repo+":abc", "v1"); err != nil || out != repo+":v1" {
		t.Fatalf("tag: %q %v", out, err)
	}
	if out, err := run("copy", repo+":v1", s.Addr()+"/other/app:x"); err != nil || out != want.String() {
		t.Fatalf("copy: %q %v", out, err)
	}
	// Pull through a mirror: docker.io/o/app is served by the local registry.
	pulled := filepath.Join(dir, "out.tar")
	if out, err := run("pull", "--registry-mirror", "docker.io=http://"+s.Addr(), "docker.io/other/app:x", "--archive", pulled); err != nil || out != want.String() {
		t.Fatalf("pull: %q %v", out, err)
	}
	a, err := registry.OpenArchive(pulled, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if d, _ := a.Digest(); d != want {
		t.Fatalf("pulled archive %s, want %s", d, want)
	}
	if _, err := run("pull", repo+":latest"); err == nil {
		t.Fatal("pull without --archive or --layout succeeded")
	}
}

// `registry address` prints the directory's stable address and says with
// its exit status whether runner's registry for it serves there; `registry
// serve` without --addr listens there.
func TestRegistryAddressCommand(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "reg")
	home, err := registry.HomeAddr(dir, "127.0.0.1:0") // a free port, not 5000
	if err != nil {
		t.Fatal(err)
	}
	address := func() (string, int) {
		cmd := newRegistryCmd()
		cmd.SetArgs([]string{"address", "--dir", dir})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true // as under the root command
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(ctx)
		if err == nil {
			return strings.TrimSpace(out.String()), 0
		}
		ee, ok := err.(*exitError)
		if !ok {
			t.Fatalf("address: %v", err)
		}
		if ee.err != nil {
			return ee.err.Error(), ee.code
		}
		return strings.TrimSpace(out.String()), ee.code
	}
	if out, code := address(); code != 3 || out != home {
		t.Fatalf("nothing serving: %q, exit %d; want %s, exit 3", out, code, home)
	}

	sctx, cancel := context.WithCancel(ctx)
	serve := newRegistryCmd()
	serve.SetArgs([]string{"serve", "--dir", dir})
	serve.SetOut(&strings.Builder{})
	done := make(chan error, 1)
	go func() { done <- serve.ExecuteContext(sctx) }()
	testenv.Eventually(t, 5*time.Second, func() bool { return registry.Ping(ctx, home, time.Second) }, "registry serve does not answer on %s", home)
	if out, code := address(); code != 0 || out != home {
		t.Fatalf("serving: %q, exit %d; want %s, exit 0", out, code, home)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Another registry on the recorded address: exit 1 and a message that
	// says what to do.
	other, err := registry.Serve(ctx, home, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if out, code := address(); code != 1 || !strings.Contains(out, "home.addr") {
		t.Fatalf("foreign server: %q, exit %d; want exit 1 naming home.addr", out, code)
	}
}

// Without --htpasswd, registry serve refuses an address other machines
// can reach unless told --insecure-public, decided by the resolved
// address.
func TestRegistryServeRefusesPublicAddr(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		cmd := newRegistryCmd()
		cmd.SetArgs([]string{"serve", "--addr", addr, "--dir", filepath.Join(t.TempDir(), "reg")})
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { done <- cmd.ExecuteContext(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
			t.Fatalf("registry serve --addr %s started:\n%s", addr, out.String())
		}
		cancel()
		if err == nil || !strings.Contains(err.Error(), "--insecure-public") || !strings.Contains(err.Error(), "htpasswd") {
			t.Errorf("registry serve --addr %s: %v", addr, err)
		}
	}
}

// serveInBackground runs `runner registry serve --dir DIR ARGS...` until ctx
// is cancelled and returns the address it serves on (from the directory's
// address file, once written) and the command's result. out and errOut may
// be nil (discarded).
func serveInBackground(t *testing.T, ctx context.Context, dir string, out, errOut io.Writer, args ...string) (string, <-chan error) {
	t.Helper()
	if out == nil {
		out = io.Discard
	}
	if errOut == nil {
		errOut = io.Discard
	}
	cmd := newRegistryCmd()
	cmd.SetArgs(append([]string{"serve", "--dir", dir}, args...))
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("registry serve %v ended before serving: %v", args, err)
		default:
		}
		b, _ := os.ReadFile(filepath.Join(dir, "serving.addr"))
		addr, _, _ = strings.Cut(string(b), "\n") // address, then the server id
	}
	if addr == "" {
		t.Fatalf("registry serve %v did not start in 5s", args)
	}
	return addr, done
}
