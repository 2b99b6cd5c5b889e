package gitrepo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

// render stands in for the render step: it rewrites the generated files.
func render(t *testing.T, ws, version string) {
	t.Helper()
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "app.yaml"), "image: birds:"+version+"\n")
	if err := os.Remove(filepath.Join(ws, "k8s", "old.yaml")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "svc.yaml"), "kind: Service\n")
}

func changed(t *testing.T, dir, from, to string) []string {
	t.Helper()
	r, err := gitrepo.Open(context.Background(), dir, gitrepo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.ChangedFiles(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestPublishLandsOnlyK8s(t *testing.T) {
	f := newFixture(t)
	render(t, f.ws, "v2")
	// noise that must not be committed: an untracked file, a modified
	// tracked file, and a staged change outside k8s/
	gittest.WriteFile(t, filepath.Join(f.ws, "scratch.txt"), "tmp\n")
	gittest.WriteFile(t, filepath.Join(f.ws, "README.md"), "# edited\n")
	gittest.WriteFile(t, filepath.Join(f.ws, "k8s", "ignored.log"), "log\n")
	gittest.WriteFile(t, filepath.Join(f.ws, ".gitignore"), "*.log\n")

	var log strings.Builder
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{
		Dir: f.ws, Logf: func(format string, a ...any) { fmt.Fprintf(&log, format+"\n", a...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	head := gittest.Head(t, f.origin, gittest.Main)
	if head != res.Commit {
		t.Fatalf("origin main = %s, want the new commit %s", head, res.Commit)
	}
	c := gittest.CommitObject(t, f.origin, head)
	if c.Author.Name != gitrepo.BotName || c.Author.Email != gitrepo.BotEmail || c.Committer.Name != gitrepo.BotName ||
		c.Message != "Publish new image\n" || len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != f.seed {
		t.Fatalf("commit: author %v committer %v message %q parents %v", c.Author, c.Committer, c.Message, c.ParentHashes)
	}
	if got, want := changed(t, f.origin, f.seed, head), []string{"k8s/app.yaml", "k8s/old.yaml", "k8s/svc.yaml"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changed files %v, want %v", got, want)
	}
	if got := gittest.FileAt(t, f.origin, head, "k8s/app.yaml"); got != "image: birds:v2\n" {
		t.Fatalf("k8s/app.yaml on origin: %q", got)
	}
	// the workspace's branch follows the pushed commit
	if got := gittest.Head(t, f.ws, gittest.Main); got != head {
		t.Fatalf("workspace main = %s, want %s", got, head)
	}
	if !strings.Contains(log.String(), "pushed "+head[:12]) {
		t.Fatalf("log: %q", log.String())
	}

	// nothing changed since: no commit, no push
	res2, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Pushed || res2.Commit != head || gittest.Head(t, f.origin, gittest.Main) != head {
		t.Fatalf("second publish: %+v, origin %s", res2, gittest.Head(t, f.origin, gittest.Main))
	}
	// allow-empty does commit
	res3, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws, AllowEmpty: true, Message: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if !res3.Pushed || gittest.Head(t, f.origin, gittest.Main) != res3.Commit || len(changed(t, f.origin, head, res3.Commit)) != 0 {
		t.Fatalf("allow-empty: %+v", res3)
	}
}

func TestPublishNothingChanged(t *testing.T) {
	f := newFixture(t)
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pushed || res.Commit != f.seed || gittest.Head(t, f.origin, gittest.Main) != f.seed {
		t.Fatalf("%+v", res)
	}
}

func TestPublishRaceReplaysOnTop(t *testing.T) {
	f := newFixture(t)
	// someone else pushes a source change after our checkout
	other := filepath.Join(t.TempDir(), "other")
	gittest.Clone(t, f.origin, other)
	theirs := gittest.Commit(t, other, map[string]string{"back-end/birds.json": "[]\n"}, "add birds")
	gittest.Push(t, other)

	render(t, f.ws, "v2")
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws})
	if err != nil {
		t.Fatal(err)
	}
	head := gittest.Head(t, f.origin, gittest.Main)
	if !res.Pushed || res.Commit != head || res.Attempts != 2 {
		t.Fatalf("result %+v, origin %s", res, head)
	}
	c := gittest.CommitObject(t, f.origin, head)
	if c.ParentHashes[0].String() != theirs {
		t.Fatalf("published commit's parent = %s, want their commit %s", c.ParentHashes[0], theirs)
	}
	if gittest.FileAt(t, f.origin, head, "back-end/birds.json") != "[]\n" || gittest.FileAt(t, f.origin, head, "k8s/app.yaml") != "image: birds:v2\n" {
		t.Fatal("the published tree lost one side")
	}
	if got, want := changed(t, f.origin, theirs, head), []string{"k8s/app.yaml", "k8s/old.yaml", "k8s/svc.yaml"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changed files %v, want %v", got, want)
	}
	// the workspace now has their file too
	if data, err := os.ReadFile(filepath.Join(f.ws, "back-end", "birds.json")); err != nil || string(data) != "[]\n" {
		t.Fatalf("workspace birds.json: %q %v", data, err)
	}
}

func TestPublishConflictLeavesRemote(t *testing.T) {
	f := newFixture(t)
	other := filepath.Join(t.TempDir(), "other")
	gittest.Clone(t, f.origin, other)
	theirs := gittest.Commit(t, other, map[string]string{"k8s/app.yaml": "image: birds:theirs\n"}, "their publish")
	gittest.Push(t, other)

	render(t, f.ws, "v2")
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws})
	if !errors.Is(err, gitrepo.ErrConflict) {
		t.Fatalf("want ErrConflict, got %v (%+v)", err, res)
	}
	if !strings.Contains(err.Error(), "k8s") || !strings.Contains(err.Error(), "no force") {
		t.Fatalf("unclear message: %v", err)
	}
	if got := gittest.Head(t, f.origin, gittest.Main); got != theirs {
		t.Fatalf("origin moved to %s", got)
	}
	if got := gittest.Head(t, f.ws, gittest.Main); got != f.seed {
		t.Fatalf("workspace branch moved to %s on failure", got)
	}
}

func TestPublishDivergedFails(t *testing.T) {
	f := newFixture(t)
	// the user's clone has a commit origin never got; the run checks it out
	mine := gittest.Commit(t, f.local, map[string]string{"back-end/birds.json": "[1]\n"}, "mine, unpushed")
	ws := filepath.Join(t.TempDir(), "ws")
	if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: f.local, Dir: ws, Rev: mine, Branch: "main", Upstream: f.origin}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	gittest.Clone(t, f.origin, other)
	theirs := gittest.Commit(t, other, map[string]string{"README.md": "theirs\n"}, "theirs")
	gittest.Push(t, other)

	render(t, ws, "v2")
	_, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: ws})
	if !errors.Is(err, gitrepo.ErrDiverged) || !strings.Contains(err.Error(), mine[:12]) {
		t.Fatalf("want ErrDiverged naming %.12s, got %v", mine, err)
	}
	if got := gittest.Head(t, f.origin, gittest.Main); got != theirs {
		t.Fatalf("origin moved to %s", got)
	}
}

func TestPublishSameContentAlreadyThere(t *testing.T) {
	f := newFixture(t)
	render(t, f.ws, "v2")
	// another run published exactly the same manifests first
	other := filepath.Join(t.TempDir(), "other")
	gittest.Clone(t, f.origin, other)
	theirs := gittest.Commit(t, other, map[string]string{"k8s/app.yaml": "image: birds:v2\n", "k8s/svc.yaml": "kind: Service\n", "k8s/old.yaml": ""}, "their publish")
	gittest.Push(t, other)

	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pushed || res.Commit != theirs || gittest.Head(t, f.origin, gittest.Main) != theirs {
		t.Fatalf("%+v", res)
	}
}

func TestPublishRefusesCheckedOutBranch(t *testing.T) {
	f := newFixture(t)
	// the workspace's upstream is a non-bare clone with main checked out
	ws := filepath.Join(t.TempDir(), "ws")
	if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: f.local, Dir: ws}); err != nil {
		t.Fatal(err)
	}
	render(t, ws, "v2")
	_, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: ws})
	if !errors.Is(err, gitrepo.ErrCheckedOut) || !strings.Contains(err.Error(), "checked-out branch") {
		t.Fatalf("push into a checked-out branch: %v, want ErrCheckedOut", err)
	}
	if got := gittest.Head(t, f.local, gittest.Main); got != f.seed {
		t.Fatalf("local clone's main moved to %s", got)
	}
}

func TestPublishPathsOutsideRepo(t *testing.T) {
	f := newFixture(t)
	_, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: f.ws, Paths: []string{"../x"}})
	if err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Fatalf("got %v", err)
	}
}

// TestPublishIgnoreRules: like `git add k8s/`, ignored files are skipped
// unless already tracked, with .gitignore files at any level and
// .git/info/exclude.
func TestPublishIgnoreRules(t *testing.T) {
	f := newFixture(t)
	tracked := gittest.Commit(t, f.local, map[string]string{"k8s/keep.tmp": "v1\n"}, "track a .tmp")
	gittest.Push(t, f.local)
	ws := filepath.Join(t.TempDir(), "ws")
	if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{Source: f.origin, Dir: ws}); err != nil {
		t.Fatal(err)
	}
	gittest.WriteFile(t, filepath.Join(ws, "k8s", ".gitignore"), "*.tmp\n")
	gittest.WriteFile(t, filepath.Join(ws, ".gitignore"), "build/\n")
	gittest.WriteFile(t, filepath.Join(ws, ".git", "info", "exclude"), "k8s/secret.yaml\n")
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "keep.tmp"), "v2\n")         // tracked: committed
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "new.tmp"), "x\n")           // ignored: skipped
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "secret.yaml"), "s\n")       // excluded: skipped
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "build", "out.yaml"), "b\n") // ignored dir: skipped
	gittest.WriteFile(t, filepath.Join(ws, "k8s", "sub", "app.yaml"), "a\n")   // committed
	res, err := gitrepo.CommitPush(context.Background(), gitrepo.PublishOptions{Dir: ws})
	if err != nil {
		t.Fatal(err)
	}
	got := changed(t, f.origin, tracked, res.Commit)
	if want := []string{"k8s/.gitignore", "k8s/keep.tmp", "k8s/sub/app.yaml"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}
}
