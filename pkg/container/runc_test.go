package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func newRuntime(t *testing.T) *Runc {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox)
	r, err := NewRunc(RuncOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// logBuffer collects a container's log while it runs.
type logBuffer struct {
	mu   sync.Mutex
	b    strings.Builder
	done chan struct{}
}

func collect(r io.Reader) *logBuffer {
	l := &logBuffer{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.b.WriteString(sc.Text() + "\n")
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// get polls url until it answers, for at most 10 s.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertGone checks that nothing of container id is left: no runc state,
// no bundle, no mount, no process, no cgroup (runc makes them under
// runner's own, named by id).
func assertGone(t *testing.T, r *Runc, id string) {
	t.Helper()
	out, err := exec.Command(r.opts.Runc, "list", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("runc list: %v %s", err, out)
	}
	if strings.Contains(string(out), id) {
		t.Errorf("runc list still shows %s", id)
	}
	bundle := filepath.Join(r.opts.Dir, id)
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Errorf("bundle %s left: %v", bundle, err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), bundle) {
		t.Errorf("mount of %s left", bundle)
	}
	cg, _ := os.ReadFile("/proc/self/cgroup")
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[1] != "" {
			dir := filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(f[1], "name="), f[2], id)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left: %v", dir, err)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), id) {
			t.Errorf("process left: %s %q", p, b)
		}
	}
}

func TestRunArchiveServesAndCleansUp(t *testing.T) {
	r := newRuntime(t)
	archive := ct.Archive(t, ct.HTTPDImage(t, "8080", "hello from runc\n"), filepath.Join(t.TempDir(), "img.tar"))
	ctx := context.Background()
	c, err := r.Setup(ctx, Spec{Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(ctx)
	logs := collect(c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	addr := c.Ports()[8080]
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("ports = %v", c.Ports())
	}
	code, body := get(t, "http://"+addr+"/")
	if code != 200 || body != "hello from runc\n" {
		t.Fatalf("GET = %d %q", code, body)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	<-logs.done
	if !strings.Contains(logs.String(), "response:200") {
		t.Errorf("container log lacks the request: %q", logs.String())
	}
	assertGone(t, r, c.ID())
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("port still published after Destroy")
	}
}

func TestTwoContainersOnTheSamePort(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	var cs []Container
	for i := range 2 {
		archive := ct.Archive(t, ct.HTTPDImage(t, "8080", fmt.Sprintf("server %d", i)), filepath.Join(t.TempDir(), "img.tar"))
		c, err := r.Setup(ctx, Spec{Archive: archive, Ports: []int{8080}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy(ctx)
		go io.Copy(io.Discard, c.Logs())
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for i, c := range cs {
		code, body := get(t, "http://"+c.Ports()[8080]+"/")
		if code != 200 || body != fmt.Sprintf("server %d", i) {
			t.Errorf("container %d: %d %q", i, code, body)
		}
	}
	for _, c := range cs {
		c.Destroy(ctx)
		assertGone(t, r, c.ID())
	}
}

func TestImageConfigBecomesProcess(t *testing.T) {
	r := newRuntime(t)
	img := ct.Image(t, ct.Alpine(t), v1.Config{
		Entrypoint: []string{"sh", "-c"},
		Cmd:        []string{"exit 1"},
		Env:        []string{"FROM_IMAGE=1", "OVERRIDE=image"},
		WorkingDir: "/work",
		User:       "nobody",
	})
	archive := ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
	ctx := context.Background()
	c, err := r.Setup(ctx, Spec{
		Archive: archive,
		Command: []string{`echo "uid=$(id -u) gid=$(id -g) pwd=$(pwd) $FROM_IMAGE $OVERRIDE"; ip addr show lo | grep -c UP; exit 3`},
		Env:     []string{"OVERRIDE=step"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(ctx)
	logs := collect(c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	code, err := c.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-logs.done
	want := "uid=65534 gid=65534 pwd=/work 1 step\n1\n"
	if code != 3 || logs.String() != want {
		t.Fatalf("exit %d, log %q; want 3, %q", code, logs.String(), want)
	}
}

func TestSetupRefusesUnsafeLayerAndCleansUp(t *testing.T) {
	r := newRuntime(t)
	for name, l := range map[string]v1.Layer{
		"dotdot":  ct.Layer(t, ct.Entry{Name: "../../escape", Body: "x"}),
		"symlink": ct.Layer(t, ct.Entry{Name: "bin/evil", Linkname: "../../../../etc"}),
	} {
		img := ct.Image(t, ct.Alpine(t), v1.Config{Cmd: []string{"true"}}, l)
		archive := ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
		_, err := r.Setup(context.Background(), Spec{Archive: archive})
		if !errors.Is(err, ErrUnsafeLayer) {
			t.Errorf("%s: err = %v, want ErrUnsafeLayer", name, err)
		}
	}
	if ents, _ := os.ReadDir(r.opts.Dir); len(ents) != 0 {
		t.Fatalf("bundles left: %v", ents)
	}
}

func TestDestroyAfterCancel(t *testing.T) {
	r := newRuntime(t)
	img := ct.Image(t, ct.Alpine(t), v1.Config{Cmd: []string{"sleep", "600"}})
	archive := ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
	ctx, cancel := context.WithCancel(context.Background())
	c, err := r.Setup(ctx, Spec{Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := c.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v", err)
	}
	start := time.Now()
	if err := c.Destroy(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	t.Logf("destroy took %s", time.Since(start))
	assertGone(t, r, c.ID())
}

// A container whose runner was killed (here: a bundle owned by a process
// that is gone, with its runc container still running) is removed by the
// next NewRunc on the same Dir.
func TestNewRuncSweepsContainersOfDeadRunners(t *testing.T) {
	r := newRuntime(t)
	img := ct.Image(t, ct.Alpine(t), v1.Config{Cmd: []string{"sleep", "600"}})
	archive := ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
	ctx := context.Background()
	c, err := r.Setup(ctx, Spec{Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		if out, _ := exec.Command(r.opts.Runc, "state", c.ID()).CombinedOutput(); strings.Contains(string(out), `"running"`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	live, err := r.Setup(ctx, Spec{Archive: archive}) // owned by this live process
	if err != nil {
		t.Fatal(err)
	}
	defer live.Destroy(ctx)
	go io.Copy(io.Discard, live.Logs())
	if err := live.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Pretend the owner died: a pid that exists nowhere.
	if err := os.WriteFile(filepath.Join(r.opts.Dir, c.ID(), ownerFile), []byte("999999999 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRunc(RuncOptions{Dir: r.opts.Dir}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the swept container still runs")
	}
	c.Destroy(ctx)
	assertGone(t, r, c.ID())
	select {
	case <-live.Done():
		t.Fatal("the sweep stopped a container of a live runner")
	default:
	}
}
