package gitrepo_test

import (
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// On the bot's own manifest commit the run is still for the student who
// wrote the source, so the username in the manifests does not flip.
func TestResolveActorSkipsBotCommits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fork")
	gittest.Init(t, dir)
	gittest.Commit(t, dir, map[string]string{"a": "a\n"}, "source")
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	bot := object.Signature{Name: gitrepo.BotName, Email: gitrepo.BotEmail, When: time.Now()}
	if _, err := wt.Commit("Publish new image", &git.CommitOptions{Author: &bot, Committer: &bot, AllowEmptyCommits: true}); err != nil {
		t.Fatal(err)
	}
	info, err := gitrepo.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Actor != gittest.Author.Name {
		t.Fatalf("actor %q on the bot's commit, want the source's author %q", info.Actor, gittest.Author.Name)
	}
}
