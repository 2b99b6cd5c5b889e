package registry

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// skopeo returns Debian's skopeo, failing under CI when it is missing.
func skopeo(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("skopeo")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("skopeo is required in CI (apt-get install skopeo, in the Makefile's APT_PKGS): %v", err)
		}
		t.Skipf("skopeo not installed (apt-get install skopeo): %v", err)
	}
	return p
}

func runSkopeo(t *testing.T, bin string, args ...string) string {
	t.Helper()
	// A private auth file and policy: nothing from the user's setup.
	home := t.TempDir()
	policy := filepath.Join(home, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--policy", policy}, args...)...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "REGISTRY_AUTH_FILE=" + filepath.Join(home, "auth.json")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Runner's own client and skopeo push, copy, inspect, list and delete
// against one directory served twice.
func TestRealClientsAcrossRestart(t *testing.T) {
	bin := skopeo(t)
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	c := fastClient(Options{})
	p, err := c.Push(ctx, randomArtifact(t), s.Addr()+"/owner/app", []string{"latest", "v1"})
	if err != nil {
		t.Fatal(err)
	}
	// skopeo copies it to another repository and exports it to a layout.
	noTLS := []string{"--src-tls-verify=false", "--dest-tls-verify=false"}
	runSkopeo(t, bin, append([]string{"copy"}, append(noTLS, "docker://"+s.Addr()+"/owner/app:latest", "docker://"+s.Addr()+"/copies/app:c1")...)...)
	lay := filepath.Join(t.TempDir(), "layout")
	runSkopeo(t, bin, append([]string{"copy"}, append(noTLS, "docker://"+s.Addr()+"/owner/app:v1", "oci:"+lay+":v1")...)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Serve(ctx, "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var info struct{ Digest string }
	out := runSkopeo(t, bin, "inspect", "--tls-verify=false", "docker://"+s.Addr()+"/copies/app:c1")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if info.Digest != p.Digest {
		t.Errorf("skopeo inspect after restart: %s, want %s", info.Digest, p.Digest)
	}
	var tags struct{ Tags []string }
	out = runSkopeo(t, bin, "list-tags", "--tls-verify=false", "docker://"+s.Addr()+"/owner/app")
	if err := json.Unmarshal([]byte(out), &tags); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Join(tags.Tags, ",") != "latest,v1" {
		t.Errorf("skopeo list-tags: %v", tags.Tags)
	}
	// skopeo pushes back what it exported; runner's client reads it.
	// (skopeo wrote the layout with OCI media types: a new digest.)
	runSkopeo(t, bin, append([]string{"copy"}, append(noTLS, "oci:"+lay+":v1", "docker://"+s.Addr()+"/fromlayout/app:v1")...)...)
	lp, err := layout.FromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	li, _ := lp.ImageIndex()
	lm, _ := li.IndexManifest()
	got, err := c.Pull(ctx, s.Addr()+"/fromlayout/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); len(lm.Manifests) != 1 || d != lm.Manifests[0].Digest {
		t.Errorf("image pushed by skopeo: %s, want the layout's %v", d, lm.Manifests)
	}
	img, err := got.Image(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Error(err)
	}
	// skopeo deletes by tag: distribution deletes the manifest, so every
	// tag of it in that repository goes; other repositories keep theirs.
	runSkopeo(t, bin, "delete", "--tls-verify=false", "docker://"+s.Addr()+"/owner/app:v1")
	if _, err := c.Digest(ctx, s.Addr()+"/owner/app:latest"); err == nil {
		t.Error("owner/app:latest still served after its manifest was deleted")
	}
	if d, err := c.Digest(ctx, s.Addr()+"/copies/app:c1"); err != nil || d != p.Digest {
		t.Errorf("copies/app:c1 after deleting owner/app: %s, %v", d, err)
	}
}
