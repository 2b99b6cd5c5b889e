package registry

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// oldStore writes images into dir as runner's earlier on-disk store did
// (pkg/registry/ondisk, removed): blobs/sha256/HEX,
// manifests/sha256/HEX and HEX.type, repositories/NAME/_digests/HEX and
// repositories/NAME/_tags/TAG holding the digest.
type oldStore struct {
	t   *testing.T
	dir string
}

func (s oldStore) write(rel string, b []byte) {
	s.t.Helper()
	p := filepath.Join(s.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s oldStore) manifest(repo string, h v1.Hash, mt types.MediaType, body []byte) {
	s.write("manifests/sha256/"+h.Hex+".type", []byte(mt))
	s.write("manifests/sha256/"+h.Hex, body)
	s.write("repositories/"+repo+"/_digests/"+h.Hex, nil)
}

func (s oldStore) image(repo string, img v1.Image, tags ...string) v1.Hash {
	s.t.Helper()
	layers, err := img.Layers()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, l := range layers {
		h, _ := l.Digest()
		rc, _ := l.Compressed()
		b := readAll(s.t, rc)
		s.write("blobs/sha256/"+h.Hex, b)
	}
	cfgName, _ := img.ConfigName()
	cfg, _ := img.RawConfigFile()
	s.write("blobs/sha256/"+cfgName.Hex, cfg)
	body, _ := img.RawManifest()
	mt, _ := img.MediaType()
	h, _ := img.Digest()
	s.manifest(repo, h, mt, body)
	s.tag(repo, h, tags...)
	return h
}

func (s oldStore) tag(repo string, h v1.Hash, tags ...string) {
	for _, tag := range tags {
		s.write("repositories/"+repo+"/_tags/"+tag, []byte(h.String()))
	}
}

func TestServeImportsTheEarlierStore(t *testing.T) {
	dir := t.TempDir()
	old := oldStore{t, dir}
	ctx := context.Background()

	img1, _ := random.Image(1024, 2)
	img2, _ := random.Image(2048, 1)
	img2 = mutate.MediaType(img2, types.DockerManifestSchema2)
	img2 = mutate.ConfigMediaType(img2, types.DockerConfigJSON)
	want := map[string]v1.Hash{}
	h1 := old.image("owner/app", img1, "latest", "abc123")
	want["owner/app:latest"], want["owner/app:abc123"] = h1, h1
	want["owner/other:v1"] = old.image("owner/other", img2, "v1")
	// A two-platform index whose children are in the repository untagged.
	idx, _ := random.Index(512, 1, 2)
	im, _ := idx.IndexManifest()
	for _, d := range im.Manifests {
		child, _ := idx.Image(d.Digest)
		old.image("owner/multi", child)
	}
	ib, _ := idx.RawManifest()
	ih, _ := idx.Digest()
	imt, _ := idx.MediaType()
	old.manifest("owner/multi", ih, imt, ib)
	old.tag("owner/multi", ih, "latest")
	want["owner/multi:latest"] = ih

	s, err := Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := fastClient(Options{})
	for ref, h := range want {
		a, err := c.Pull(ctx, s.Addr()+"/"+ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if d, _ := a.Digest(); d != h {
			t.Errorf("%s -> %s, want %s", ref, d, h)
		}
		if ix, ok := a.Index(); ok {
			if err := validate.Index(ix); err != nil {
				t.Errorf("%s: %v", ref, err)
			}
			continue
		}
		img, err := a.Image(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil { // reads and checks every blob
			t.Errorf("%s: %v", ref, err)
		}
	}
	var tags struct{ Tags []string }
	getJSON(t, "http://"+s.Addr()+"/v2/owner/app/tags/list", &tags)
	if strings.Join(tags.Tags, ",") != "abc123,latest" {
		t.Errorf("tags %v", tags.Tags)
	}
	for _, d := range oldStoreDirs {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("%s left after the import: %v", d, err)
		}
	}
	if HasOldStore(dir) {
		t.Error("HasOldStore after the import")
	}
	if rep, err := Migrate(ctx, dir); err != nil || rep != nil {
		t.Errorf("second Migrate: %+v, %v; want nothing to do", rep, err)
	}
}

func TestMigrateKeepsWhatItCannotImport(t *testing.T) {
	dir := t.TempDir()
	old := oldStore{t, dir}
	img, _ := random.Image(256, 1)
	h := old.image("owner/app", img, "good")
	// A tag naming a manifest the store does not have, and a manifest of
	// a media type distribution does not take.
	old.tag("owner/app", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}, "dangling")
	odd := []byte(`{"schemaVersion":2,"hello":"world"}`)
	oh, _, _ := v1.SHA256(strings.NewReader(string(odd)))
	old.manifest("owner/app", oh, "application/x-odd", odd)

	rep, err := Migrate(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Manifests != 1 || rep.Tags != 1 || len(rep.Skipped) != 2 {
		t.Fatalf("report %+v, want 1 manifest, 1 tag, 2 skipped", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, unimportedDir, "manifests", "sha256", oh.Hex)); err != nil {
		t.Errorf("unimported manifest not kept: %v", err)
	}
	if HasOldStore(dir) {
		t.Error("old store still in place: the import would run on every start")
	}
	s, err := Serve(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, err := fastClient(Options{}).Digest(context.Background(), s.Addr()+"/owner/app:good"); err != nil || d != h.String() {
		t.Errorf("good -> %s, %v; want %s", d, err, h)
	}
}

// A repository whose tags outlived its _digests links (no _digests
// directory at all) is imported through its tags, not dropped.
func TestMigrateRepositoryWithTagsOnly(t *testing.T) {
	dir := t.TempDir()
	old := oldStore{t, dir}
	img, _ := random.Image(256, 1)
	h := old.image("owner/tagsonly", img, "v1")
	if err := os.RemoveAll(filepath.Join(dir, "repositories", "owner", "tagsonly", "_digests")); err != nil {
		t.Fatal(err)
	}
	rep, err := Migrate(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Repositories != 1 || rep.Manifests != 1 || rep.Tags != 1 || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v, want the repository, its manifest and tag imported", rep)
	}
	s, err := Serve(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, err := fastClient(Options{}).Digest(context.Background(), s.Addr()+"/owner/tagsonly:v1"); err != nil || d != h.String() {
		t.Errorf("v1 -> %s, %v; want %s", d, err, h)
	}
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
