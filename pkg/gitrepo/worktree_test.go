package gitrepo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// TestLinkedWorktree resolves and clones a `git worktree add` checkout,
// laid out by hand: a .git file naming a dir under the main repository's
// .git/worktrees whose commondir leads back to it.
func TestLinkedWorktree(t *testing.T) {
	f := newFixture(t)
	mainGit := filepath.Join(f.local, ".git")
	admin := filepath.Join(mainGit, "worktrees", "wt")
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.WriteFile(t, filepath.Join(admin, "HEAD"), "ref: refs/heads/feature\n")
	gittest.WriteFile(t, filepath.Join(admin, "commondir"), "../..\n")
	gittest.WriteFile(t, filepath.Join(admin, "gitdir"), filepath.Join(wt, ".git")+"\n")
	gittest.WriteFile(t, filepath.Join(mainGit, "refs", "heads", "feature"), f.seed+"\n")
	gittest.WriteFile(t, filepath.Join(wt, ".git"), "gitdir: "+admin+"\n")
	if err := os.WriteFile(filepath.Join(wt, "README.md"), []byte(seedFiles["README.md"]), 0o644); err != nil {
		t.Fatal(err)
	}

	info, err := gitrepo.Resolve(wt)
	if err != nil {
		t.Fatal(err)
	}
	if info.SHA != f.seed || info.RefName != "feature" || info.Upstream != f.origin || info.Dir != wt {
		t.Fatalf("%+v", info)
	}
	co, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: wt, Dir: filepath.Join(t.TempDir(), "ws")})
	if err != nil {
		t.Fatal(err)
	}
	if co.Commit != f.seed || co.Ref != "refs/heads/feature" {
		t.Fatalf("%+v", co)
	}
}
