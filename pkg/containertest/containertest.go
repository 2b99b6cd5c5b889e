package containertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	"github.com/birdflock/runner/pkg/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Part is something a test needs on this machine.
type Part string

// The parts a test can require.
const (
	Root      Part = "root"
	Runc      Part = "runc"
	Buildkitd Part = "buildkitd"
	Busybox   Part = "busybox-static"
	Nginx     Part = "nginx"
)

// Require fails the test under CI=true when a part is missing and skips it
// otherwise, naming what is missing and how to get it.
func Require(t testing.TB, parts ...Part) {
	t.Helper()
	for _, p := range parts {
		if why := missing(p); why != "" {
			testenv.Missing(t, "%s is missing: %s", p, why)
		}
	}
}

func missing(p Part) string {
	switch p {
	case Root:
		if os.Geteuid() != 0 {
			return "tests need root"
		}
	case Runc:
		if RuncPath() == "" {
			return "install Debian's runc (make deps)"
		}
	case Buildkitd:
		if _, err := os.Stat(BuildkitdPath()); err != nil {
			return "run `make bin/buildkitd`"
		}
	case Busybox:
		if _, err := os.Stat("/bin/busybox"); err != nil {
			return "install Debian's busybox-static (make deps)"
		}
	case Nginx:
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			return "install Debian's nginx (make deps)"
		}
	case Redis:
		for _, f := range []string{"/usr/bin/redis-server", "/usr/bin/redis-cli", "/bin/bash"} {
			if _, err := os.Stat(f); err != nil {
				return "install Debian's redis-server and bash (make deps)"
			}
		}
	}
	return ""
}

// RuncPath is runc's path, "" when there is none.
func RuncPath() string {
	if p, err := exec.LookPath("runc"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// RepoRoot is the directory holding go.mod, found upwards from the working
// directory.
func RepoRoot() string {
	d, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// BuildkitdPath is bin/buildkitd of the repository ($RUNNER_BUILDKITD wins).
func BuildkitdPath() string {
	if p := os.Getenv("RUNNER_BUILDKITD"); p != "" {
		return p
	}
	return filepath.Join(RepoRoot(), "bin", "buildkitd")
}

// BuildctlPath is bin/buildctl of the repository.
func BuildctlPath() string { return filepath.Join(RepoRoot(), "bin", "buildctl") }

// Alpine is the alpine:latest stand-in (Debian's busybox-static).
func Alpine(t testing.TB) v1.Image {
	t.Helper()
	Require(t, Busybox)
	img, err := baseimage.Alpine(context.Background(), baseimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// EmptyRegistry starts an empty on-disk registry (runner's, distribution's
// code) on a loopback port until the test ends, and returns its host:port
// and its directory (for tests that tamper with what it stores).
func EmptyRegistry(t testing.TB) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	srv, err := registry.Serve(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr(), dir
}

// Registry starts an on-disk registry on a loopback port holding
// library/alpine:latest (the stand-in) and returns its host:port. It stops
// when the test ends.
func Registry(t testing.TB) string {
	t.Helper()
	img := Alpine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, _ := EmptyRegistry(t)
	c := registry.New(registry.Options{})
	if _, err := c.Push(ctx, registry.FromImage(img), addr+"/library/alpine", []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	return addr
}
