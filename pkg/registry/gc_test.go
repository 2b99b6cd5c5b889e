package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestGarbageCollect(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	c := fastClient(Options{})
	kept, err := c.Push(ctx, randomArtifact(t), s.Addr()+"/owner/app", []string{"kept"})
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := c.Push(ctx, randomArtifact(t), s.Addr()+"/owner/app", []string{"dropped"})
	if err != nil {
		t.Fatal(err)
	}
	// A blob no manifest references (a push that never finished).
	const abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	loc := doRaw(t, "POST", "http://"+s.Addr()+"/v2/owner/app/blobs/uploads/", "", nil).header.Get("Location")
	if r := doRaw(t, "PUT", loc+"&digest="+abc, "application/octet-stream", strings.NewReader("abc")); r.status != http.StatusCreated {
		t.Fatalf("blob upload: %d %v", r.status, r.codes)
	}
	if r := doRaw(t, "DELETE", "http://"+s.Addr()+"/v2/owner/app/manifests/dropped", "", nil); r.status != http.StatusAccepted {
		t.Fatalf("delete tag: %d %v", r.status, r.codes)
	}

	// Refused while served.
	if _, err := GarbageCollect(ctx, dir, GCOptions{}); !errors.Is(err, ErrServed) || !strings.Contains(err.Error(), s.Addr()) {
		t.Fatalf("gc while served: %v, want ErrServed naming %s", err, s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	dry, err := GarbageCollect(ctx, dir, GCOptions{DryRun: true, DeleteUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	// 2 images of 3 layers, a config and the manifest (distribution keeps
	// manifests as blobs too) each, and the stray blob.
	if dry.BlobsBefore != 2*(3+1+1)+1 || dry.BlobsAfter != dry.BlobsBefore {
		t.Fatalf("dry run: %+v", dry)
	}
	plain, err := GarbageCollect(ctx, dir, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.BlobsBefore-plain.BlobsAfter != 1 || plain.BytesBefore-plain.BytesAfter != 3 {
		t.Errorf("gc: %+v, want the 3-byte stray blob deleted", plain)
	}
	untagged, err := GarbageCollect(ctx, dir, GCOptions{DeleteUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	if untagged.BlobsBefore-untagged.BlobsAfter != 3+1+1 {
		t.Errorf("gc --delete-untagged: %+v, want the untagged image's 5 blobs deleted", untagged)
	}

	s, err = Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := c.Pull(ctx, s.Addr()+"/owner/app:kept")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Digest(); d.String() != kept.Digest {
		t.Errorf("kept -> %s, want %s", d, kept.Digest)
	}
	img, err := a.Image(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("kept image after gc: %v", err)
	}
	if _, err := c.Digest(ctx, s.Addr()+"/owner/app@"+dropped.Digest); err == nil {
		t.Error("untagged manifest still served after gc --delete-untagged")
	}
}

func TestServeWaitsForNoCollection(t *testing.T) {
	dir := t.TempDir()
	release, err := holdServeLock(dir, true) // as GarbageCollect does
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Serve(context.Background(), "127.0.0.1:0", dir); !errors.Is(err, ErrServed) {
		t.Fatalf("Serve during a collection: %v, want ErrServed", err)
	}
	release()
	s, err := Serve(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := GarbageCollect(context.Background(), dir, GCOptions{}); err != nil {
		t.Fatalf("gc after the server stopped: %v", err)
	}
}
