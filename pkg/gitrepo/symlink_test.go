package gitrepo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// A repository's symbolic links come out of a checkout exactly as they are
// in the repository, absolute targets included, and a commit-and-push of
// the work tree does not change them. go-git's default file system rewrote
// link -> /abs into link -> WORKSPACE/abs, and the next push committed it.
func TestSymlinksKeepTheirTargets(t *testing.T) {
	git := gittest.GitBinary(t)
	src := filepath.Join(t.TempDir(), "src")
	gittest.Init(t, src)
	gittest.WriteFile(t, filepath.Join(src, "k8s", "app.yaml"), "kind: Service\n")
	for link, target := range map[string]string{"k8s/abs": "/var/lib/elsewhere", "rel": "k8s/app.yaml"} {
		if err := os.Symlink(target, filepath.Join(src, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-qm", "links"}} {
		cmd := exec.Command(git, args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	head := gittest.Head(t, src, gittest.Main)
	origin := filepath.Join(t.TempDir(), "origin.git")
	cmd := exec.Command(git, "clone", "-q", "--bare", src, origin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	ws := filepath.Join(t.TempDir(), "ws")
	if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: origin, Dir: ws}); err != nil {
		t.Fatal(err)
	}
	for link, want := range map[string]string{"k8s/abs": "/var/lib/elsewhere", "rel": "k8s/app.yaml"} {
		if got, err := os.Readlink(filepath.Join(ws, link)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: ws, Paths: []string{"k8s/", "rel"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pushed || gittest.Head(t, origin, gittest.Main) != head {
		t.Errorf("an unchanged checkout pushed %+v", res)
	}
}
