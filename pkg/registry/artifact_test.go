package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestArchiveRoundTripAndPush(t *testing.T) {
	dir := t.TempDir()
	a := randomArtifact(t)
	want, _ := a.Digest()
	file := filepath.Join(dir, "out", "backend.tar")
	if err := WriteArchive(file, a, "testing"); err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(file)
	if err := WriteArchive(file, a, "testing"); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(file); !bytes.Equal(b1, b2) {
		t.Error("writing the same archive twice gives different bytes")
	}
	for _, ref := range []string{"", "testing"} {
		got, err := OpenArchive(file, ref)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("archive digest %s, want %s", d, want)
		}
		img, _ := got.Image(nil)
		if err := validate.Image(img); err != nil {
			t.Fatal(err)
		}
		if err := got.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenArchive(file, "other"); err == nil || !strings.Contains(err.Error(), "testing") {
		t.Errorf("wrong ref: %v", err)
	}

	// Push from the archive, pull back into a layout and an archive.
	host, _ := diskRegistry(t, t.TempDir())
	ctx := context.Background()
	c := fastClient(Options{})
	src, err := OpenArchive(file, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p, err := c.Push(ctx, src, host+"/o/backend", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != want.String() {
		t.Fatalf("pushed %s, want %s", p.Digest, want)
	}
	pulled, err := c.Pull(ctx, p.Refs[0])
	if err != nil {
		t.Fatal(err)
	}
	lay := filepath.Join(dir, "layout")
	if err := WriteLayout(lay, pulled, "latest"); err != nil {
		t.Fatal(err)
	}
	fromLayout, err := OpenLayout(lay, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := fromLayout.Digest(); d != want {
		t.Fatalf("layout digest %s, want %s", d, want)
	}
}

func TestArchiveWithTwoImagesNeedsRef(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "layout")
	for _, n := range []string{"a", "b"} {
		if err := WriteLayout(lay, randomArtifact(t), n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenLayout(lay, ""); err == nil || !strings.Contains(err.Error(), "name one") {
		t.Fatalf("ambiguous layout: %v", err)
	}
	if _, err := OpenLayout(lay, "b"); err != nil {
		t.Fatal(err)
	}
	// Replacing "a" keeps two entries.
	if err := WriteLayout(lay, randomArtifact(t), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLayout(lay, ""); err == nil || !strings.Contains(err.Error(), "2 images") {
		t.Fatalf("after replace: %v", err)
	}
}

func TestIndexArtifact(t *testing.T) {
	idx, err := random.Index(1024, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := diskRegistry(t, t.TempDir())
	ctx := context.Background()
	c := fastClient(Options{})
	p, err := c.Push(ctx, FromIndex(idx), host+"/o/multi", []string{"latest"})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if p.Digest != want.String() {
		t.Fatalf("index digest %s, want %s", p.Digest, want)
	}
	got, err := c.Pull(ctx, p.Refs[0])
	if err != nil {
		t.Fatal(err)
	}
	gi, ok := got.Index()
	if !ok {
		t.Fatal("pulled index is not an index")
	}
	if err := validate.Index(gi); err != nil {
		t.Fatal(err)
	}
	tagged, err := c.Tag(ctx, p.Refs[0], "v1")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Digest(ctx, tagged); d != p.Digest {
		t.Fatalf("tag %s -> %s", tagged, d)
	}
	cp, err := c.Copy(ctx, tagged, host+"/o/copy:x")
	if err != nil {
		t.Fatal(err)
	}
	if cp.Digest != p.Digest {
		t.Fatalf("copy digest %s", cp.Digest)
	}
}

// A hostile archive: entries outside the layout are never written.
func TestArchiveIgnoresEscapingEntries(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tar")
	img, _ := mutate.AppendLayers(empty.Image)
	if err := WriteArchive(good, FromImage(img), "x"); err != nil {
		t.Fatal(err)
	}
	// Prepend escaping entries to a valid archive.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	victim := filepath.Join(dir, "victim")
	for _, h := range []*tar.Header{
		{Name: "../victim", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: "blobs/sha256/../../../victim", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: victim, Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: "blobs/sha256/link", Typeflag: tar.TypeSymlink, Linkname: victim},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	rest, _ := os.ReadFile(good)
	tr := tar.NewReader(bytes.NewReader(rest))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		tw.WriteHeader(h)
		b := new(bytes.Buffer)
		b.ReadFrom(tr)
		tw.Write(b.Bytes())
	}
	tw.Close()
	bad := filepath.Join(dir, "bad.tar")
	os.WriteFile(bad, buf.Bytes(), 0o644)
	a, err := OpenArchive(bad, "")
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := os.Lstat(victim); !os.IsNotExist(err) {
		t.Fatalf("archive wrote outside its directory: %v", err)
	}
}

func TestDockerSaveArchive(t *testing.T) {
	img, _ := random.Image(1024, 2)
	want, _ := img.Digest()
	file := filepath.Join(t.TempDir(), "docker.tar")
	tag, _ := name.NewTag("example.com/o/app:v1")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"", "example.com/o/app:v1"} {
		a, err := OpenArchive(file, ref)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := a.Digest(); d != want {
			t.Errorf("ref %q: digest %s, want %s", ref, d, want)
		}
		a.Close()
	}
}
