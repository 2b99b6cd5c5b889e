package container

import (
	"bytes"
	"context"
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

func markerImage(t *testing.T) (v1.Image, func(context.Context, string) (v1.Image, error)) {
	img := ct.Image(t, ct.Alpine(t), v1.Config{Env: []string{"FROM_IMAGE=yes"}},
		ct.Layer(t, ct.Entry{Name: "etc/marker", Body: "from the image\n"}))
	return img, func(context.Context, string) (v1.Image, error) { return img, nil }
}

func execOut(t *testing.T, c *JobContainer, args ...string) string {
	t.Helper()
	cmd, _, cleanup, err := c.ExecCommand(args, c.Env(), "/")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out.String())
	}
	return out.String()
}

// mountedUnder lists the mount points under dir (from mountinfo).
func mountedUnder(t *testing.T, dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

// Two job containers of one image share the one unpacked copy; what a
// step changes in its container's root reaches neither the copy nor the
// other container; Destroy leaves no mount, bundle or runc container.
func TestJobContainersShareOneUnpackedImage(t *testing.T) {
	r := newRuntime(t)
	_, pull := markerImage(t)
	cache := &ImageCache{Dir: t.TempDir()}
	ctx := context.Background()
	var imgs [2]CachedImage
	var wg sync.WaitGroup
	var errs [2]error
	for i := range imgs {
		wg.Add(1)
		go func() { defer wg.Done(); imgs[i], errs[i] = cache.Get(ctx, "test/marker", pull) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if imgs[0].Rootfs != imgs[1].Rootfs || imgs[0].Unpacked == imgs[1].Unpacked {
		t.Fatalf("want one unpack into one copy, got %+v and %+v", imgs[0], imgs[1])
	}
	if ents, _ := os.ReadDir(cache.Dir); len(ents) != 2 { // the copy and its lock
		t.Errorf("cache holds %d entries, want the copy and its lock", len(ents))
	}
	var cs [2]*JobContainer
	for i := range cs {
		c, err := r.StartJob(ctx, JobSpec{Image: imgs[i], Env: []string{"JOB=" + string(rune('a'+i))}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy(ctx)
		cs[i] = c
	}
	execOut(t, cs[0], "sh", "-c", "echo changed > /etc/marker; touch /new")
	if got := execOut(t, cs[1], "sh", "-c", "cat /etc/marker; ls /new 2>&1; echo $JOB $FROM_IMAGE"); !strings.Contains(got, "from the image") || !strings.Contains(got, "No such file") || !strings.Contains(got, "b yes") {
		t.Errorf("the other container sees:\n%s", got)
	}
	if got := execOut(t, cs[0], "cat", "/etc/marker"); got != "changed\n" {
		t.Errorf("the container's own change: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(imgs[0].Rootfs, "etc/marker")); string(b) != "from the image\n" {
		t.Errorf("the cached copy was changed: %q", b)
	}
	for _, c := range cs {
		if err := c.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
		assertJobGone(t, r, c)
	}
}

func assertJobGone(t *testing.T, r *Runc, c *JobContainer) {
	t.Helper()
	if m := mountedUnder(t, filepath.Join(r.opts.Dir, c.ID())); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if _, err := os.Stat(filepath.Join(r.opts.Dir, c.ID())); !os.IsNotExist(err) {
		t.Errorf("bundle left: %v", err)
	}
	if out, err := exec.Command(r.opts.Runc, "state", c.ID()).CombinedOutput(); err == nil {
		t.Errorf("runc still knows %s: %s", c.ID(), out)
	}
}

// The overlay of a job container whose runner died is unmounted and its
// bundle removed by the next NewRunc on the same Dir.
func TestNewRuncSweepsJobContainersOfDeadRunners(t *testing.T) {
	r := newRuntime(t)
	_, pull := markerImage(t)
	ctx := context.Background()
	img, err := (&ImageCache{Dir: t.TempDir()}).Get(ctx, "test/marker", pull)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.StartJob(ctx, JobSpec{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if len(mountedUnder(t, r.opts.Dir)) != 1 {
		t.Fatal("no overlay mounted")
	}
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
	assertJobGone(t, r, c)
	if _, err := os.Stat(filepath.Join(img.Rootfs, "etc/marker")); err != nil {
		t.Errorf("the sweep touched the cached image: %v", err)
	}
}

// An image without tail cannot hold a job container without runner's
// agent: a clear error, and nothing left behind.
func TestJobContainerNeedsTail(t *testing.T) {
	r := newRuntime(t)
	img := ct.Image(t, ct.Alpine(t), v1.Config{}, ct.Layer(t, ct.Entry{Name: "bin/.wh.tail"}, ct.Entry{Name: "usr/bin/.wh.tail"}))
	ctx := context.Background()
	ci, err := (&ImageCache{Dir: t.TempDir()}).Get(ctx, "x", func(context.Context, string) (v1.Image, error) { return img, nil })
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.StartJob(ctx, JobSpec{Image: ci, NoAgent: true})
	if err == nil || !strings.Contains(err.Error(), "no tail") {
		t.Fatalf("got %v", err)
	}
	if m := mountedUnder(t, r.opts.Dir); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	if ents, _ := os.ReadDir(r.opts.Dir); len(ents) > 0 {
		t.Errorf("bundles left: %v", ents)
	}
}

// What a runner killed while unpacking left in the cache is removed by
// the next Get of that image, which unpacks it whole.
func TestImageCacheRemovesAnInterruptedUnpack(t *testing.T) {
	ct.Require(t, ct.Busybox)
	img, pull := markerImage(t)
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cache := &ImageCache{Dir: t.TempDir()}
	partial := filepath.Join(cache.Dir, d.Algorithm+"-"+d.Hex+".unpacking")
	if err := os.MkdirAll(filepath.Join(partial, "rootfs", "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := cache.Get(context.Background(), "x", pull)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Unpacked {
		t.Error("not unpacked")
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("the interrupted unpack is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(got.Rootfs, "half")); !os.IsNotExist(err) {
		t.Errorf("the interrupted unpack's files reached the copy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(got.Rootfs, "etc/marker")); err != nil {
		t.Error(err)
	}
}

// Prune removes an unpacked image no container uses once it has not been
// used for the given time; the copy under a running job container's
// overlay stays, and so does one a Get has just returned.
func TestImageCachePrune(t *testing.T) {
	r := newRuntime(t)
	cache := &ImageCache{Dir: t.TempDir()}
	ctx := context.Background()
	get := func(body string) CachedImage {
		img := ct.Image(t, ct.Alpine(t), v1.Config{}, ct.Layer(t, ct.Entry{Name: "etc/marker", Body: body}))
		ci, err := cache.Get(ctx, body, func(context.Context, string) (v1.Image, error) { return img, nil })
		if err != nil {
			t.Fatal(err)
		}
		return ci
	}
	used, idle, fresh := get("used"), get("idle"), get("fresh")
	c, err := r.StartJob(ctx, JobSpec{Image: used, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(ctx)
	old := time.Now().Add(-2 * time.Hour)
	for _, ci := range []CachedImage{used, idle} {
		if err := os.Chtimes(filepath.Dir(ci.Rootfs), old, old); err != nil {
			t.Fatal(err)
		}
	}
	list, err := cache.List()
	if err != nil || len(list) != 3 {
		t.Fatalf("List = %+v %v", list, err)
	}
	removed, err := cache.Prune(ctx, time.Hour)
	if err != nil || len(removed) != 1 || removed[0].Digest != idle.Digest {
		t.Fatalf("Prune removed %+v %v, want only %s", removed, err, idle.Digest)
	}
	for ci, want := range map[*CachedImage]bool{&used: true, &idle: false, &fresh: true} {
		if _, err := os.Stat(ci.Rootfs); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", ci.Digest, err == nil, want)
		}
	}
	if got := execOut(t, c, "cat", "/etc/marker"); got != "used" {
		t.Errorf("the running container reads %q", got)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if removed, err = cache.Prune(ctx, time.Hour); err != nil || len(removed) != 1 || removed[0].Digest != used.Digest {
		t.Errorf("after Destroy, Prune removed %+v %v, want %s", removed, err, used.Digest)
	}
	if removed, err = cache.Prune(ctx, 0); err != nil || len(removed) != 1 {
		t.Errorf("Prune(0) removed %+v %v, want the fresh copy", removed, err)
	}
	if ents, _ := os.ReadDir(cache.Dir); len(ents) != 3 { // the three locks
		t.Errorf("left in the cache: %v", ents)
	}
}
