package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// The artifact's digest covers each stored file's path and bytes, in path
// order: computed here independently of the step.
func TestUploadArtifactDigest(t *testing.T) {
	ws, artifacts := t.TempDir(), filepath.Join(t.TempDir(), "artifacts")
	files := map[string]string{"out/b.txt": "bee\n", "out/a/x.bin": "\x00\x01x", "out/c.txt": ""}
	for rel, content := range files {
		gittest.WriteFile(t, filepath.Join(ws, rel), content)
	}
	s, _ := stepContext(UploadArtifact{}, ws, RunInfo{ID: "1", ArtifactsDir: artifacts}, map[string]string{"name": "bin", "path": "out/"})
	if err := (UploadArtifact{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, rel := range []string{"a/x.bin", "b.txt", "c.txt"} {
		h.Write([]byte(rel + "\x00" + files["out/"+rel]))
		if b, err := os.ReadFile(filepath.Join(artifacts, "bin", rel)); err != nil || string(b) != files["out/"+rel] {
			t.Errorf("stored %s: %q, %v", rel, b, err)
		}
	}
	if got, want := s.Outputs()["artifact-digest"], hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("artifact-digest %s, want %s", got, want)
	}
}

// A file that cannot be stored fails the upload with the artifact's and the
// file's names, leaves no artifact, and does not hang on a FIFO.
func TestUploadArtifactErrorsNameTheFile(t *testing.T) {
	ws, artifacts := t.TempDir(), filepath.Join(t.TempDir(), "artifacts")
	gittest.WriteFile(t, filepath.Join(ws, "out", "ok.txt"), "ok\n")
	fifo := filepath.Join(ws, "out", "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := stepContext(UploadArtifact{}, ws, RunInfo{ID: "1", ArtifactsDir: artifacts}, map[string]string{"name": "bin", "path": "out/"})
	done := make(chan error, 1)
	go func() { done <- (UploadArtifact{}).Run(context.Background(), s) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `artifact "bin"`) || !strings.Contains(err.Error(), fifo) {
			t.Fatalf("err = %v, want it to name the artifact and %s", err, fifo)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("upload hangs on a FIFO")
	}
	if left, _ := os.ReadDir(artifacts); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
