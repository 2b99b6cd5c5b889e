package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Exec runs a process inside the running container with its environment;
// one that outlives its context is killed inside the container. A fixed
// host port is published where asked, and a taken one fails Start.
// --entrypoint replaces the image's Entrypoint and drops its Cmd.
func TestExecHostPortAndEntrypoint(t *testing.T) {
	r := newRuntime(t)
	img := ct.Image(t, ct.HTTPDImage(t, "8080", "x"), v1.Config{
		Entrypoint: []string{"/bin/false"}, Cmd: []string{"ignored"},
		Env: []string{"FROM_IMAGE=image"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	})
	archive := ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx := context.Background()
	c, err := r.Setup(ctx, Spec{
		Archive: archive, Env: []string{"FROM_SPEC=spec"}, HostPorts: map[int]int{8080: port},
		Entrypoint: []string{"httpd", "-f", "-p", "8080", "-h", "/www"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(ctx)
	collect(c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Ports()[8080], fmt.Sprintf("127.0.0.1:%d", port); got != want {
		t.Fatalf("port 8080 published at %s, want %s", got, want)
	}
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); code != 200 || body != "x" {
		t.Fatalf("GET = %d %q", code, body)
	}
	ex := c.(Execer)
	code, out, err := ex.Exec(ctx, []string{"/bin/sh", "-c", `echo "$FROM_IMAGE $FROM_SPEC $(hostname)"; exit 4`})
	if err != nil || code != 4 || string(out) != "image spec runner\n" {
		t.Fatalf("Exec = %d %q %v", code, out, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, _, err := ex.Exec(tctx, []string{"sleep", "30"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec past its deadline: %v", err)
	}
	if _, out, _ := ex.Exec(ctx, []string{"ps", "-o", "args"}); strings.Contains(string(out), "sleep 30") {
		t.Errorf("the timed-out process is still in the container:\n%s", out)
	}

	// The same host port again: taken.
	c2, err := r.Setup(ctx, Spec{Archive: archive, HostPorts: map[int]int{8080: port}, Entrypoint: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Destroy(ctx)
	if err := c2.Start(ctx); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start with a taken host port: %v", err)
	}
	if err := c2.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, c2.ID())
}

// An Exec right after Start (a service's first health check) waits until
// runc has created the container instead of failing with "container does
// not exist".
func TestExecRightAfterStart(t *testing.T) {
	r := newRuntime(t)
	archive := ct.Archive(t, ct.Alpine(t), filepath.Join(t.TempDir(), "img.tar"))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		c, err := r.Setup(ctx, Spec{Archive: archive, Entrypoint: []string{"sleep", "30"}})
		if err != nil {
			t.Fatal(err)
		}
		collect(c.Logs())
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		code, out, err := c.(Execer).Exec(ctx, []string{"true"})
		if err != nil || code != 0 {
			t.Errorf("Exec right after Start = %d %q %v", code, out, err)
		}
		if err := c.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
