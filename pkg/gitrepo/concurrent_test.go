package gitrepo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// TestConcurrentPublishers has three workspaces publish different files at
// once to one bare origin: every commit must land (the local transport's
// ref update is a compare-and-swap, and the losers replay on top).
func TestConcurrentPublishers(t *testing.T) {
	f := newFixture(t)
	const n = 3
	ws := make([]string, n)
	for i := range ws {
		ws[i] = filepath.Join(t.TempDir(), "ws")
		if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: f.origin, Dir: ws[i]}); err != nil {
			t.Fatal(err)
		}
		gittest.WriteFile(t, filepath.Join(ws[i], "k8s", fmt.Sprintf("part%d.yaml", i)), fmt.Sprintf("part: %d\n", i))
	}
	results := make([]gitrepo.PublishResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{
				Dir: ws[i], Paths: []string{fmt.Sprintf("k8s/part%d.yaml", i)}, Retries: n,
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || !results[i].Pushed {
			t.Fatalf("publisher %d: %v %+v", i, err, results[i])
		}
	}
	head := gittest.Head(t, f.origin, gittest.Main)
	for i := range n {
		if got := gittest.FileAt(t, f.origin, head, fmt.Sprintf("k8s/part%d.yaml", i)); got != fmt.Sprintf("part: %d\n", i) {
			t.Errorf("part%d lost: %q", i, got)
		}
	}
	// a straight line of n bot commits on the seed
	c := gittest.CommitObject(t, f.origin, head)
	for range n {
		if c.Author.Name != gitrepo.BotName || len(c.ParentHashes) != 1 {
			t.Fatalf("unexpected commit %s by %s", c.Hash, c.Author.Name)
		}
		c = gittest.CommitObject(t, f.origin, c.ParentHashes[0].String())
	}
	if c.Hash.String() != f.seed {
		t.Fatalf("history does not lead back to the seed: %s", c.Hash)
	}
}

func FuzzGlobsAndRedact(f *testing.F) {
	f.Add("k8s/**", "k8s/a.yaml")
	f.Add("**/*.md", "https://u:p@h/x")
	f.Add("[!a-", "a")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if g, err := gitrepo.CompileGlobs([]string{pattern}); err == nil {
			g.Match(s)
		}
		_ = gitrepo.RedactURL(s)
	})
}
