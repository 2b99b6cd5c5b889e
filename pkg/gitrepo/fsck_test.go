package gitrepo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// TestTreesPassGitFsck checks the trees CommitPush builds by hand against
// git itself: entry order with names that sort differently as directories
// (a, a-b, a.yaml, a/), modes of executables and symlinks, deletions.
func TestTreesPassGitFsck(t *testing.T) {
	gitBin := gittest.GitBinary(t)
	f := newFixture(t)
	for name, content := range map[string]string{
		"k8s/a/b.yaml": "b\n", "k8s/a.yaml": "a\n", "k8s/a-b.yaml": "ab\n", "k8s/a0": "0\n", "k8s/z/y/x.yaml": "x\n",
	} {
		gittest.WriteFile(t, filepath.Join(f.ws, filepath.FromSlash(name)), content)
	}
	if err := os.Chmod(filepath.Join(f.ws, "k8s", "a0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.yaml", filepath.Join(f.ws, "k8s", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.ws, "k8s", "old.yaml")); err != nil {
		t.Fatal(err)
	}
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws})
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(gitBin, append([]string{"-C", f.origin}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	git("fsck", "--strict", "--no-dangling")
	got := git("ls-tree", "-r", "--format=%(objectmode) %(path)", res.Commit, "k8s")
	want := strings.Join([]string{
		"100644 k8s/a-b.yaml", "100644 k8s/a.yaml", "100644 k8s/a/b.yaml", "100755 k8s/a0",
		"100644 k8s/app.yaml", "120000 k8s/link", "100644 k8s/z/y/x.yaml",
	}, "\n") + "\n"
	if got != want {
		t.Fatalf("git ls-tree:\n%s\nwant:\n%s", got, want)
	}
}
