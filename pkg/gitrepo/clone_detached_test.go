package gitrepo_test

import (
	"context"
	"path/filepath"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// TestCloneDetachedHead clones a working clone whose HEAD is detached on a
// commit no branch holds (go-git's own clone fails on it).
func TestCloneDetachedHead(t *testing.T) {
	f := newFixture(t)
	c2 := gittest.Commit(t, f.local, map[string]string{"x": "x\n"}, "x")
	r, err := git.PlainOpen(f.local)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(c2)}); err != nil {
		t.Fatal(err)
	}
	// move main back so c2 is on no branch
	if err := r.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", plumbing.NewHash(f.seed))); err != nil {
		t.Fatal(err)
	}
	info, err := gitrepo.Resolve(f.local)
	if err != nil || info.SHA != c2 || info.Ref != "" {
		t.Fatalf("%+v %v", info, err)
	}
	for _, rev := range []string{"", c2} {
		co, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: f.local, Dir: filepath.Join(t.TempDir(), "w"), Rev: rev})
		if err != nil || co.Commit != c2 || co.Ref != "" {
			t.Fatalf("rev %q: %+v %v", rev, co, err)
		}
	}
}
