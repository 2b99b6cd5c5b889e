package steps

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/birdflock/runner/pkg/registry"
)

// pushCtx builds a Context as the engine would: declared defaults applied.
func pushCtx(t *testing.T, workspace string, in map[string]string) (*Context, *bytes.Buffer) {
	t.Helper()
	inputs := map[string]string{}
	for _, i := range (PushImage{}).Spec().Inputs {
		inputs[i.Name] = i.Default
	}
	for k, v := range in {
		inputs[k] = v
	}
	var log bytes.Buffer
	return &Context{
		Inputs:    inputs,
		Env:       map[string]string{},
		Workspace: workspace,
		Temp:      t.TempDir(),
		Run:       RunInfo{ID: "1", StateDir: filepath.Join(workspace, ".runner")},
		Log:       &log,
	}, &log
}

// writeArchive writes a random image as an OCI archive in dir.
func writeArchive(t *testing.T, dir, file string) string {
	t.Helper()
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteArchive(filepath.Join(dir, file), registry.FromImage(img), "testing"); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

type uploads struct {
	mu sync.Mutex
	n  int
	h  http.Handler
}

func (u *uploads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/blobs/uploads/") {
		u.mu.Lock()
		u.n++
		u.mu.Unlock()
	}
	u.h.ServeHTTP(w, r)
}

func (u *uploads) take() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := u.n
	u.n = 0
	return n
}

func TestPushImageTwoTags(t *testing.T) {
	ws := t.TempDir()
	want := writeArchive(t, ws, "backend.tar")
	h, err := registry.Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	up := &uploads{h: h}
	srv := httptest.NewServer(up)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	in := map[string]string{
		"archive":  "backend.tar",
		"registry": host + "/owner",
		"name":     "birds-app-back-end",
		"tags":     "latest\n0123abcd, latest latest\n",
	}
	s, log := pushCtx(t, ws, in)
	if err := (PushImage{}).Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	out := s.Outputs()
	if out["digest"] != want {
		t.Fatalf("digest %s, want %s", out["digest"], want)
	}
	repo := host + "/owner/birds-app-back-end"
	if out["refs"] != repo+":latest\n"+repo+":0123abcd" {
		t.Fatalf("refs %q", out["refs"])
	}
	if out["image"] != repo+"@"+want {
		t.Fatalf("image %q", out["image"])
	}
	c := registry.New(registry.Options{})
	for _, ref := range strings.Split(out["refs"], "\n") {
		if d, err := c.Digest(context.Background(), ref); err != nil || d != want {
			t.Errorf("%s -> %s %v", ref, d, err)
		}
	}
	if up.take() == 0 {
		t.Fatal("first push uploaded nothing")
	}

	s2, log2 := pushCtx(t, ws, in)
	if err := (PushImage{}).Run(context.Background(), s2); err != nil {
		t.Fatalf("%v\n%s", err, log2)
	}
	if n := up.take(); n != 0 {
		t.Fatalf("second push made %d upload requests", n)
	}
}

func TestPushImageEmbedded(t *testing.T) {
	ws := t.TempDir()
	want := writeArchive(t, ws, "frontend.tar")
	s, log := pushCtx(t, ws, map[string]string{"archive": "frontend.tar", "name": "web", "tags": "v1"})
	// A running embedded registry (as `runner exec` starts) is found and reused.
	srv, err := registry.Serve(context.Background(), "127.0.0.1:0", registry.EmbeddedDir(s.Run.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := (PushImage{}).Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if got := s.Outputs()["refs"]; got != srv.Addr()+"/web:v1" {
		t.Fatalf("refs %q, want %s/web:v1", got, srv.Addr())
	}
	a, err := registry.New(registry.Options{}).Pull(context.Background(), srv.Addr()+"/web:v1")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Digest(); d.String() != want {
		t.Fatalf("pulled %s, want %s", d, want)
	}
}

func TestPushImageCredentialsMasked(t *testing.T) {
	const secret = "tok-9f8e7d6c5b4a"
	ws := t.TempDir()
	writeArchive(t, ws, "a.tar")
	h, err := registry.Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != secret {
			w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	bad, log := pushCtx(t, ws, map[string]string{"archive": "a.tar", "registry": host + "/o", "name": "a", "username": "bot", "password": secret + "x"})
	err = (PushImage{}).Run(context.Background(), bad)
	if err == nil {
		t.Fatal("push with a wrong token succeeded")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(log.String(), secret) {
		t.Fatalf("token leaked: %v\n%s", err, log)
	}
	if len(bad.Masks()) == 0 || bad.Masks()[0] != secret+"x" {
		t.Fatalf("password not masked: %v", bad.Masks())
	}

	good, log := pushCtx(t, ws, map[string]string{"archive": "a.tar", "registry": host + "/o", "name": "a", "username": "bot", "password": secret})
	if err := (PushImage{}).Run(context.Background(), good); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if strings.Contains(log.String(), secret) {
		t.Fatalf("token in log: %s", log)
	}
}

func TestPushImageBadInputs(t *testing.T) {
	ws := t.TempDir()
	writeArchive(t, ws, "a.tar")
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"name": "a", "registry": "127.0.0.1:1/o"}, "archive or image is required"},
		{map[string]string{"archive": "a.tar", "image": "x", "name": "a"}, "not both"},
		{map[string]string{"archive": "a.tar", "name": "App"}, "lower case"},
		{map[string]string{"archive": "a.tar", "name": "a", "tags": "ok, -bad"}, `tag "-bad"`},
		{map[string]string{"archive": "a.tar", "name": "a", "tags": " , "}, "no tags"},
		{map[string]string{"archive": "a.tar", "name": "a", "insecure": "maybe"}, "insecure"},
		{map[string]string{"archive": "missing.tar", "name": "a", "registry": "127.0.0.1:1/o"}, "missing.tar"},
		{map[string]string{"archive": "a.tar", "name": "a", "username": "u"}, "go together"},
	} {
		s, _ := pushCtx(t, ws, tc.in)
		err := (PushImage{}).Run(context.Background(), s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestPushImageFromAnotherRegistry(t *testing.T) {
	ctx := context.Background()
	src, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := registry.Serve(ctx, "127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	img, _ := random.Image(1024, 1)
	p, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), src.Addr()+"/o/app", []string{"testing"})
	if err != nil {
		t.Fatal(err)
	}
	s, log := pushCtx(t, t.TempDir(), map[string]string{"image": src.Addr() + "/o/app:testing", "registry": dst.Addr() + "/team", "name": "app", "tags": "latest,abc"})
	if err := (PushImage{}).Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if s.Outputs()["digest"] != p.Digest {
		t.Fatalf("digest %s, want %s", s.Outputs()["digest"], p.Digest)
	}
}

// Within a run (one Scope) the embedded registry outlives the step that
// started it: the refs push-image reports stay pullable by later steps,
// which get the same registry.
func TestPushImageEmbeddedLivesForTheRun(t *testing.T) {
	ws := t.TempDir()
	want := writeArchive(t, ws, "backend.tar")
	s, log := pushCtx(t, ws, map[string]string{"archive": "backend.tar", "name": "api", "tags": "v2"})
	scope := NewScope(s.Run.StateDir)
	defer scope.Close()
	s.Run.Scope = scope
	if err := (PushImage{}).Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	ref := s.Outputs()["refs"]
	a, err := registry.New(registry.Options{}).Pull(context.Background(), ref)
	if err != nil {
		t.Fatalf("after the step, %s is gone: %v", ref, err)
	}
	if d, _ := a.Digest(); d.String() != want {
		t.Fatalf("pulled %s, want %s", d, want)
	}
	addr, err := scope.EmbeddedRegistry(context.Background())
	if err != nil || !strings.HasPrefix(ref, addr+"/") {
		t.Fatalf("a later step got %q (%v), not the registry of %s", addr, err, ref)
	}
}

// TestPushImageEmbeddedIsTheSettingsRegistry: in a leg that runs elsewhere
// (a Kubernetes pod), `embedded` is the controller's registry as the leg
// reaches it (Settings.Registry, http:// for plain HTTP): the image goes
// there, and no registry is started in the leg's own state dir.
func TestPushImageEmbeddedIsTheSettingsRegistry(t *testing.T) {
	ws := t.TempDir()
	want := writeArchive(t, ws, "frontend.tar")
	h, err := registry.Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s, log := pushCtx(t, ws, map[string]string{"archive": "frontend.tar", "name": "owner/web", "tags": "v1"})
	s.Run.Settings.Registry = srv.URL
	if err := (PushImage{}).Run(context.Background(), s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if got := s.Outputs()["image"]; got != host+"/owner/web@"+want {
		t.Errorf("image %q, want %s/owner/web@%s", got, host, want)
	}
	if d, err := registry.New(registry.Options{}).Digest(context.Background(), host+"/owner/web:v1"); err != nil || d != want {
		t.Errorf("%s/owner/web:v1 -> %s %v", host, d, err)
	}
	if _, err := os.Stat(registry.EmbeddedDir(s.Run.StateDir)); !os.IsNotExist(err) {
		t.Errorf("a registry was set up in the leg's state dir: %v", err)
	}
}
