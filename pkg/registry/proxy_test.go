package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// A pull-through cache of a second local registry: pulls go through it,
// and what it has is served when the upstream is gone.
func TestProxyCache(t *testing.T) {
	ctx := context.Background()
	up, err := Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	c := fastClient(Options{})
	p, err := c.Push(ctx, randomArtifact(t), up.Addr()+"/library/alpine", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}

	cacheDir := t.TempDir()
	cache, err := Serve(ctx, "127.0.0.1:0", cacheDir, WithProxy("http://"+up.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	pull := func(ref string) string {
		t.Helper()
		a, err := c.Pull(ctx, ref)
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		img, err := a.Image(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil { // reads every blob
			t.Fatal(err)
		}
		d, _ := a.Digest()
		return d.String()
	}
	if d := pull(cache.Addr() + "/library/alpine:latest"); d != p.Digest {
		t.Fatalf("through the cache: %s, want %s", d, p.Digest)
	}
	// Pushes are refused: the cache mirrors its upstream.
	if _, err := c.Push(ctx, randomArtifact(t), cache.Addr()+"/library/other", []string{"x"}); err == nil {
		t.Error("push into the pull-through cache accepted")
	}
	r := doRaw(t, "POST", "http://"+cache.Addr()+"/v2/library/alpine/blobs/uploads/", "", nil)
	if r.status != http.StatusMethodNotAllowed || !contains(r.codes, "UNSUPPORTED") {
		t.Errorf("upload to the cache: %d %v", r.status, r.codes)
	}

	// Upstream gone: the cache serves what it has, by tag and by digest,
	// also after a restart.
	up.Close()
	if d := pull(cache.Addr() + "/library/alpine:latest"); d != p.Digest {
		t.Errorf("offline by tag: %s", d)
	}
	cache.Close()
	cache, err = Serve(ctx, "127.0.0.1:0", cacheDir, WithProxy("http://"+up.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	if d := pull(cache.Addr() + "/library/alpine@" + p.Digest); d != p.Digest {
		t.Errorf("offline after a restart: %s", d)
	}
	if d := pull(cache.Addr() + "/library/alpine:latest"); d != p.Digest {
		t.Errorf("offline after a restart, by tag: %s", d)
	}
	if _, err := c.Pull(ctx, cache.Addr()+"/library/never:pulled"); err == nil {
		t.Error("an image never pulled is served offline")
	}

	for _, bad := range []string{"registry-1.docker.io", "ftp://x", "https://u:p@x.example"} {
		if _, err := Serve(ctx, "127.0.0.1:0", t.TempDir(), WithProxy(bad)); err == nil || strings.Contains(err.Error(), ":p@") {
			t.Errorf("proxy %q: %v", bad, err)
		}
	}
}
