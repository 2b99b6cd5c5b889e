package steps

import (
	"context"
	"strings"
	"testing"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
)

// The middle of the bird-flock pipeline: build-image writes an archive,
// test-image relaunches it, push-image puts it into an on-disk registry; the
// image pulled back has the same digest, also after the registry restarts,
// and runs from there.
func TestBuildTestPushPullAcrossRegistryRestart(t *testing.T) {
	env, _ := buildEnv(t)
	ws := ct.ServerContext(t, "<h1>Beautiful Birds</h1>\n")
	state := t.TempDir()
	ctx := context.Background()

	bi := &BuildImage{}
	s, log := stepCtx(bi, ws, state, env, map[string]string{"image": "birds-app-back-end", "archive": "backend.tar"})
	if err := bi.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	built := s.Outputs()["digest"]

	ti := TestImage{}
	s, log = stepCtx(ti, ws, state, nil, map[string]string{"archive": "backend.tar", "expect-body": "Beautiful Birds"})
	if err := ti.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}

	dir := t.TempDir()
	srv, err := registry.Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	pi := PushImage{}
	s, log = stepCtx(pi, ws, state, nil, map[string]string{
		"archive": "backend.tar", "registry": srv.Addr() + "/owner", "name": "birds-app-back-end", "tags": "latest,abc123"})
	if err := pi.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if got := s.Outputs()["digest"]; got != built {
		t.Fatalf("pushed %s, built %s", got, built)
	}
	srv.Close()

	srv, err = registry.Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ref := srv.Addr() + "/owner/birds-app-back-end:abc123"
	got, err := registry.New(registry.Options{}).Digest(ctx, ref)
	if err != nil || got != built {
		t.Fatalf("after restart: %s, %v; built %s", got, err, built)
	}
	s, log = stepCtx(ti, ws, state, nil, map[string]string{"image": ref, "expect-body": "Beautiful Birds"})
	if err := ti.Run(ctx, s); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.HasPrefix(s.Outputs()["url"], "http://127.0.0.1:") {
		t.Errorf("url %q", s.Outputs()["url"])
	}
	assertContainerGone(t, log.String())
}
