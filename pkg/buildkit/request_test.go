package buildkit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moby/buildkit/client"
)

// The translation of BuildOptions into BuildKit's SolveOpt, without a
// daemon.
func TestSolveRequest(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "out", "img.tar")
	r, err := newSolveRequest(BuildOptions{
		Context: dir, Image: "me/app", Tags: []string{"a", "b"}, Target: "final", NoCache: true,
		BuildArgs: map[string]string{"Z": "1", "A": "2"}, Archive: archive,
		Push: true, Registry: "127.0.0.1:5999",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	wantAttrs := map[string]string{"filename": "Containerfile", "target": "final", "no-cache": "", "build-arg:A": "2", "build-arg:Z": "1"}
	if !reflect.DeepEqual(r.opt.FrontendAttrs, wantAttrs) || r.opt.Frontend != "dockerfile.v0" {
		t.Errorf("frontend %s %v, want dockerfile.v0 %v", r.opt.Frontend, r.opt.FrontendAttrs, wantAttrs)
	}
	if _, ok := r.opt.LocalMounts["context"]; !ok {
		t.Error("no context mount")
	}
	if _, ok := r.opt.LocalMounts["dockerfile"]; !ok {
		t.Error("no dockerfile mount")
	}
	names := "127.0.0.1:5999/me/app:a,127.0.0.1:5999/me/app:b"
	if len(r.opt.Exports) != 2 {
		t.Fatalf("exports %+v, want an OCI archive and a push", r.opt.Exports)
	}
	oci, push := r.opt.Exports[0], r.opt.Exports[1]
	if oci.Type != client.ExporterOCI || oci.Attrs["name"] != names || oci.Output == nil {
		t.Errorf("archive export %+v", oci)
	}
	wantPush := map[string]string{"name": names, "push": "true", "registry.insecure": "true"} // a loopback registry
	if push.Type != client.ExporterImage || !reflect.DeepEqual(push.Attrs, wantPush) {
		t.Errorf("push export %s %v, want image %v", push.Type, push.Attrs, wantPush)
	}
	if r.res.Archive != archive || filepath.Dir(r.tmpArchive.Name()) != filepath.Dir(archive) {
		t.Errorf("archive %s via %s, want %s via a temporary file beside it", r.res.Archive, r.tmpArchive.Name(), archive)
	}
	tmp := r.tmpArchive.Name()
	r.close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the temporary archive outlived the request: %v", err)
	}
	if _, err := os.Stat(archive); !os.IsNotExist(err) {
		t.Errorf("an archive was written without a build: %v", err)
	}
}

func TestSolveRequestDefaultsAndErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := newSolveRequest(BuildOptions{Context: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if len(r.opt.Exports) != 1 || r.opt.Exports[0].Type != client.ExporterImage || r.opt.Exports[0].Attrs["name"] != "image:testing" {
		t.Errorf("default export %+v, want the image store under image:testing", r.opt.Exports)
	}
	if r.opt.FrontendAttrs["filename"] != "Dockerfile" {
		t.Errorf("filename %q, want the Dockerfile found in the context", r.opt.FrontendAttrs["filename"])
	}
	// A remote registry is not pushed to over plain HTTP unless asked.
	r2, err := newSolveRequest(BuildOptions{Context: dir, Push: true, Registry: "ghcr.io/me"})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.close()
	if _, ok := r2.opt.Exports[0].Attrs["registry.insecure"]; ok {
		t.Errorf("push to ghcr.io marked insecure: %v", r2.opt.Exports[0].Attrs)
	}
	for _, o := range []BuildOptions{
		{},
		{Context: filepath.Join(dir, "missing")},
		{Context: dir, File: filepath.Join(dir, "Nope")},
		{Context: dir, Push: true, Image: "app"},
	} {
		if r, err := newSolveRequest(o); err == nil {
			r.close()
			t.Errorf("%+v: no error", o)
		}
	}
}
