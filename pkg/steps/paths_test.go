package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// commitSymlink commits a symbolic link name -> target in the working
// clone at dir and pushes it to origin.
func commitSymlink(t *testing.T, dir, name, target string) string {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	sig := gittest.Author
	sig.When = time.Now()
	h, err := wt.Commit("add link", &git.CommitOptions{Author: &sig, Committer: &sig})
	if err != nil {
		t.Fatal(err)
	}
	gittest.Push(t, dir)
	return h.String()
}

// outsideDir is a directory outside every workspace holding victim/keep.txt.
func outsideDir(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	gittest.WriteFile(t, filepath.Join(out, "victim", "keep.txt"), "precious\n")
	return out
}

func assertUntouched(t *testing.T, out string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "victim", "keep.txt"))
	if err != nil || string(data) != "precious\n" {
		t.Errorf("outside file: %q, %v", data, err)
	}
	entries, _ := os.ReadDir(filepath.Join(out, "victim"))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("outside directory now holds %v", names)
	}
}

// Issue 12 #7: the repository holds link -> outside; checking out with
// path: link/victim deleted outside/victim and cloned into it.
func TestCheckoutPathThroughRepositorySymlink(t *testing.T) {
	_, local, _ := birdRepo(t)
	out := outsideDir(t)
	// Relative, as the workspace and out are both in the test's temp dir
	// (go-git stores absolute targets of links relative to its root).
	commitSymlink(t, local, "link", "../"+filepath.Base(out))
	run := runInfo(t, local)
	ws := t.TempDir()
	s, _ := stepContext(Checkout{}, ws, run, nil)
	if err := (Checkout{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(ws, "link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the checkout has no link: %v", err)
	}
	s, _ = stepContext(Checkout{}, ws, run, map[string]string{"path": "link/victim"})
	err := (Checkout{}).Run(context.Background(), s)
	t.Logf("checkout path: link/victim: %v", err)
	assertUntouched(t, out)
	if err == nil {
		// Resolved inside the workspace: the clone is there.
		if _, err := os.Stat(filepath.Join(ws, filepath.Base(out), "victim", "k8s", "app.yaml")); err != nil {
			t.Errorf("no clone inside the workspace: %v", err)
		}
	}
}

// Issue 12 #10: paths: k8s/d/data.txt where k8s/d links outside committed
// and pushed the outside file.
func TestGitCommitPushBeyondSymlink(t *testing.T) {
	origin, local, _ := birdRepo(t)
	out := outsideDir(t)
	gittest.WriteFile(t, filepath.Join(out, "data.txt"), "secret\n")
	commitSymlink(t, local, "k8s/d", "../../"+filepath.Base(out))
	run := runInfo(t, local)
	ws := t.TempDir()
	s, _ := stepContext(Checkout{}, ws, run, nil)
	if err := (Checkout{}).Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	head := gittest.Head(t, origin, gittest.Main)
	for _, p := range []string{"k8s/d/data.txt", "k8s/d/", "k8s/d/victim"} {
		s, _ = stepContext(GitCommitPush{}, ws, run, map[string]string{"paths": p})
		err := (GitCommitPush{}).Run(context.Background(), s)
		if err == nil || !strings.Contains(err.Error(), "beyond a symbolic link") {
			t.Errorf("paths: %s: %v", p, err)
		}
	}
	if got := gittest.Head(t, origin, gittest.Main); got != head {
		t.Errorf("origin moved to %s", got)
	}
	// The link itself is a path like any other.
	s, _ = stepContext(GitCommitPush{}, ws, run, map[string]string{"paths": "k8s/d", "allow-empty": "true"})
	if err := (GitCommitPush{}).Run(context.Background(), s); err != nil {
		t.Errorf("paths: k8s/d: %v", err)
	}
}

func runArtifactStep(t *testing.T, b Builtin, ws, artifacts string, in map[string]string) error {
	t.Helper()
	s, _ := stepContext(b, ws, RunInfo{ID: "1", ArtifactsDir: artifacts}, in)
	s.Temp = filepath.Join(t.TempDir(), "temp") // not /tmp, where the other dirs are
	return b.Run(context.Background(), s)
}

// Issue 12 #8: an artifact holding evil -> /outside and another holding
// evil/planted.txt, downloaded with merge-multiple, wrote outside.
// Artifacts store contents, not links; download never writes through one.
func TestArtifactsHoldNoLinks(t *testing.T) {
	out := t.TempDir()
	artifacts := filepath.Join(t.TempDir(), "artifacts")
	up := t.TempDir()
	if err := os.MkdirAll(filepath.Join(up, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out, filepath.Join(up, "a", "evil")); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(out, "inside-target.txt"), "target\n")
	gittest.WriteFile(t, filepath.Join(up, "b", "evil", "planted.txt"), "planted\n")
	gittest.WriteFile(t, filepath.Join(up, "real.txt"), "real\n")
	if err := os.Symlink("../real.txt", filepath.Join(up, "a", "file-link")); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(up, "a", "x.txt"), "x\n")
	for _, name := range []string{"a", "b"} {
		if err := runArtifactStep(t, UploadArtifact{}, up, artifacts, map[string]string{"name": name, "path": name + "/"}); err != nil {
			t.Fatal(err)
		}
	}
	// The stored artifact holds files: a link's target is copied.
	filepath.WalkDir(artifacts, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeSymlink != 0 {
			t.Errorf("artifact holds a link: %s", p)
		}
		return nil
	})
	if data, err := os.ReadFile(filepath.Join(artifacts, "a", "file-link")); err != nil || string(data) != "real\n" {
		t.Errorf("a/file-link: %q, %v", data, err)
	}
	if data, err := os.ReadFile(filepath.Join(artifacts, "a", "evil", "inside-target.txt")); err != nil || string(data) != "target\n" {
		t.Errorf("a/evil/inside-target.txt: %q, %v", data, err)
	}
	ws := t.TempDir()
	if err := runArtifactStep(t, DownloadArtifact{}, ws, artifacts, map[string]string{"merge-multiple": "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "planted.txt")); err == nil {
		t.Error("download wrote outside the workspace")
	}
	if data, err := os.ReadFile(filepath.Join(ws, "evil", "planted.txt")); err != nil || string(data) != "planted\n" {
		t.Errorf("evil/planted.txt: %q, %v", data, err)
	}

	// An artifact stored with a link (by an older runner) is refused, and
	// so is a link already in the workspace.
	if err := os.Symlink(out, filepath.Join(artifacts, "a", "old-link")); err != nil {
		t.Fatal(err)
	}
	ws = t.TempDir()
	if err := runArtifactStep(t, DownloadArtifact{}, ws, artifacts, map[string]string{"name": "a"}); err == nil {
		t.Error("an artifact holding a link was downloaded")
	}
	if _, err := os.Lstat(filepath.Join(ws, "old-link")); err == nil {
		t.Error("the link was written")
	}
	ws = t.TempDir()
	if err := os.Symlink(out, filepath.Join(ws, "evil")); err != nil {
		t.Fatal(err)
	}
	err := runArtifactStep(t, DownloadArtifact{}, ws, artifacts, map[string]string{"name": "b"})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("download through a link in the workspace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "planted.txt")); err == nil {
		t.Error("download wrote through the workspace's link")
	}
}

// Issue 12 #9: download-artifact name: ../../../etc copied /etc into the
// workspace. Names are checked as upload checks them.
func TestDownloadArtifactNameValidated(t *testing.T) {
	artifacts := filepath.Join(t.TempDir(), "run", "artifacts")
	secret := filepath.Join(filepath.Dir(artifacts), "secret")
	gittest.WriteFile(t, filepath.Join(secret, "key.txt"), "key\n")
	ws := t.TempDir()
	for _, name := range []string{"../secret", "../../" + filepath.Base(filepath.Dir(artifacts)) + "/secret", "..", ".", "a/../../secret", secret} {
		err := runArtifactStep(t, DownloadArtifact{}, ws, artifacts, map[string]string{"name": name})
		if err == nil || !strings.Contains(err.Error(), "invalid artifact name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(ws); len(entries) > 0 {
		t.Errorf("the workspace holds %d entries", len(entries))
	}
}

// download-artifact's path is resolved inside the workspace (or
// RUNNER_TEMP), links included; upload follows a link to a parent once.
func TestDownloadArtifactPathInsideWorkspace(t *testing.T) {
	artifacts := filepath.Join(t.TempDir(), "artifacts")
	up := t.TempDir()
	gittest.WriteFile(t, filepath.Join(up, "d", "f.txt"), "f\n")
	if err := os.Symlink("..", filepath.Join(up, "d", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := runArtifactStep(t, UploadArtifact{}, up, artifacts, map[string]string{"name": "a", "path": "d/f.txt\nd/loop"}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ws := t.TempDir()
	if err := os.Symlink(out, filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"link/x":                  filepath.Join(ws, out, "x", "f.txt"),
		"sub":                     filepath.Join(ws, "sub", "f.txt"),
		filepath.Join(ws, "abs"):  filepath.Join(ws, "abs", "f.txt"),
		"../escape":               "",
		filepath.Join(out, "abs"): "",
	} {
		err := runArtifactStep(t, DownloadArtifact{}, ws, artifacts, map[string]string{"name": "a", "path": path})
		if want == "" {
			if err == nil {
				t.Errorf("path %s: no error", path)
			}
			continue
		}
		if err != nil {
			t.Errorf("path %s: %v", path, err)
		} else if _, err := os.Stat(want); err != nil {
			t.Errorf("path %s: %v", path, err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("outside directory holds %d entries", len(entries))
	}
}
