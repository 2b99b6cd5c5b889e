package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runner images ls lists the unpacked images of a state directory and
// prune removes those and the built Docker action images not used for
// --older-than; a bad duration is a usage error.
func TestImagesCLI(t *testing.T) {
	bin := buildRunner(t)
	state := t.TempDir()
	images := filepath.Join(state, "images")
	old := time.Now().Add(-48 * time.Hour)
	for _, d := range []string{"sha256-aaaa", "sha256-bbbb"} {
		if err := os.MkdirAll(filepath.Join(images, d, "rootfs", "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(images, d, "rootfs", "etc", "f"), []byte("12345"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(images, "sha256-aaaa"), old, old); err != nil {
		t.Fatal(err)
	}
	actions := filepath.Join(state, "docker-actions")
	if err := os.MkdirAll(actions, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"oldkey", "newkey"} {
		if err := os.WriteFile(filepath.Join(actions, k+".tar"), []byte("tar"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(filepath.Join(actions, "oldkey.tar"), old, old); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--state", state)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("images", "ls")
	if err != nil || !strings.Contains(out, "sha256:aaaa") || !strings.Contains(out, "sha256:bbbb") || !strings.Contains(out, "2 images, 10 bytes") {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	out, err = run("images", "prune", "--older-than", "24h")
	if err != nil || !strings.Contains(out, "removed sha256:aaaa (5 bytes)") || strings.Contains(out, "bbbb") ||
		!strings.Contains(out, "removed docker action image oldkey (3 bytes)") || strings.Contains(out, "newkey") ||
		!strings.Contains(out, "2 images removed, 8 bytes") {
		t.Fatalf("prune: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(actions, "newkey.tar")); err != nil {
		t.Errorf("the recent docker action image went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(images, "sha256-bbbb", "rootfs", "etc", "f")); err != nil {
		t.Errorf("the recent image went: %v", err)
	}
	if out, err = run("images", "prune", "--older-than", "-1s"); exitCode(err) != 2 {
		t.Errorf("negative --older-than: %v\n%s", err, out)
	}
}
