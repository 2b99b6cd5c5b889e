package steps

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/registry/baseimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestTestImageTimeoutAndExitCleanUp(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	dir := t.TempDir()
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hi"), filepath.Join(dir, "httpd.tar"))
	ti := TestImage{}

	// Never listens: the step times out and the container goes.
	s, log := stepCtx(ti, dir, t.TempDir(), nil, map[string]string{
		"archive": "httpd.tar", "command": "sleep 600", "timeout": "1s"})
	err := ti.Run(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "no answer on port 8080 within 1s") {
		t.Fatalf("err = %v", err)
	}
	assertContainerGone(t, log.String())

	// Exits at once: the step says so without waiting for the timeout.
	s, log = stepCtx(ti, dir, t.TempDir(), nil, map[string]string{
		"archive": "httpd.tar", "command": `sh -c "echo bye; exit 4"`})
	start := time.Now()
	err = ti.Run(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "exited with code 4") || time.Since(start) > 20*time.Second {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(log.String(), "container | bye") {
		t.Errorf("log:\n%s", log)
	}
	assertContainerGone(t, log.String())
}

func TestTestImageCancelCleansUp(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	dir := t.TempDir()
	img := ct.Image(t, ct.Alpine(t), v1.Config{Cmd: []string{"sleep", "600"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}}})
	ct.Archive(t, img, filepath.Join(dir, "sleep.tar"))
	ti := TestImage{}
	s, log := stepCtx(ti, dir, t.TempDir(), nil, map[string]string{"archive": "sleep.tar"})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !strings.Contains(log.String(), "started") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel() // Ctrl-C while polling
	}()
	if err := ti.Run(ctx, s); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v", err)
	}
	assertContainerGone(t, log.String())
}

func TestTestImageInputErrors(t *testing.T) {
	ti := TestImage{}
	for _, c := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{}, "give archive or image"},
		{map[string]string{"archive": "a", "image": "b"}, "give archive or image"},
		{map[string]string{"archive": "a", "port": "http"}, "port \"http\""},
		{map[string]string{"archive": "a", "expect-status": "abc"}, "expect-status"},
		{map[string]string{"archive": "a", "expect-body": "("}, "expect-body"},
		{map[string]string{"archive": "a", "timeout": "soon"}, "timeout \"soon\""},
		{map[string]string{"archive": "a", "command": "sh -c 'x"}, "unterminated single quote"},
		{map[string]string{"archive": "a", "env": "=x"}, "env: line 1"},
		{map[string]string{"archive": "a", "pids-limit": "lots"}, `pids-limit: pids limit "lots"`},
		{map[string]string{"archive": "a", "memory-limit": "1m"}, `memory-limit: memory limit "1m"`},
	} {
		s, _ := stepCtx(ti, t.TempDir(), t.TempDir(), nil, c.in)
		if err := ti.Run(context.Background(), s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.in, err, c.want)
		}
	}
}

// pids-limit and memory-limit become the container's cgroup limits, which
// the container reads from its /sys/fs/cgroup (cgroup v1 or v2) and serves.
func TestTestImageLimits(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	dir := t.TempDir()
	ct.Archive(t, ct.HTTPDImage(t, "8080", "hi"), filepath.Join(dir, "httpd.tar"))
	ti := TestImage{}
	s, log := stepCtx(ti, dir, t.TempDir(), nil, map[string]string{
		"archive": "httpd.tar", "pids-limit": "100", "memory-limit": "64m", "expect-body": `^100\n67108864\n$`,
		"command": `sh -c "for f in pids/pids.max pids.max memory/memory.limit_in_bytes memory.max; do cat /sys/fs/cgroup/$f 2>/dev/null; done > /www/index.html; exec httpd -f -p 8080 -h /www"`})
	if err := ti.Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	assertContainerGone(t, log.String())
}

func TestSplitShell(t *testing.T) {
	for in, want := range map[string][]string{
		`./app --port 8080`:          {"./app", "--port", "8080"},
		`sh -c 'echo "a b"; exit 1'`: {"sh", "-c", `echo "a b"; exit 1`},
		`echo "x \"y\" \\z" a\ b`:    {"echo", `x "y" \z`, "a b"},
		`  spaced   out  `:           {"spaced", "out"},
		`empty '' ""`:                {"empty", "", ""},
	} {
		got, err := splitShell(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitShell(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// The nginx:stable-alpine stand-in (master as root, workers switching to
// the nginx user) serves its default page on port 80, as the front-end's
// base image must.
func TestTestImageRunsNginxStandIn(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox, ct.Nginx)
	img, err := baseimage.Nginx(context.Background(), baseimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ct.Archive(t, img, filepath.Join(dir, "nginx.tar"))
	ti := TestImage{}
	s, log := stepCtx(ti, dir, t.TempDir(), nil, map[string]string{"archive": "nginx.tar", "port": "80", "expect-body": "Welcome to nginx"})
	if err := ti.Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log.String(), `container | 127.0.0.1 - - [`) {
		t.Errorf("no access log line:\n%s", log)
	}
	assertContainerGone(t, log.String())
}

// An image reference is pulled through the registry mirrors, as every
// pull is: docker.io is not reachable here, the mirror is.
func TestTestImagePullsThroughMirror(t *testing.T) {
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	reg := ct.Registry(t) // library/alpine:latest, the busybox stand-in
	ti := TestImage{}
	env := map[string]string{registry.EnvMirrors: "docker.io=http://" + reg}
	s, log := stepCtx(ti, t.TempDir(), t.TempDir(), env, map[string]string{
		"image":       "alpine:latest",
		"command":     `sh -c "mkdir -p /w && echo served-from-mirror > /w/index.html && exec httpd -f -p 8080 -h /w"`,
		"port":        "8080",
		"expect-body": "served-from-mirror",
	})
	if err := ti.Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "pulled "+reg+"/library/alpine:latest") {
		t.Errorf("the log does not say the image came from the mirror:\n%s", log)
	}
	assertContainerGone(t, log.String())
}
