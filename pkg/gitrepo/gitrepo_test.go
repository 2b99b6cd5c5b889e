package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
)

var seedFiles = map[string]string{
	"README.md":           "# birds\n",
	"back-end/main.go":    "package main\n",
	"templates/a.yaml.j2": "version: {{ version }}\n",
	"k8s/app.yaml":        "image: birds:old\n",
	"k8s/old.yaml":        "kind: Old\n",
}

// fixture is a bare origin (…/alice/birds.git), the user's working clone of
// it, and a workspace cloned from that working clone as checkout does.
type fixture struct {
	origin, local, ws string
	seed              string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	base := t.TempDir()
	f := fixture{
		origin: filepath.Join(base, "alice", "birds.git"),
		local:  filepath.Join(base, "local"),
		ws:     filepath.Join(base, "ws"),
	}
	f.seed = gittest.Origin(t, f.origin, seedFiles)
	gittest.Clone(t, f.origin, f.local)
	info, err := gitrepo.Resolve(f.local)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gitrepo.Clone(context.Background(), gitrepo.CloneOptions{
		Source: f.local, Dir: f.ws, Rev: info.SHA, Branch: info.RefName, Upstream: info.Upstream,
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResolveWorkingClone(t *testing.T) {
	f := newFixture(t)
	info, err := gitrepo.Resolve(filepath.Join(f.local, "back-end")) // inside the tree is fine
	if err != nil {
		t.Fatal(err)
	}
	want := gitrepo.Info{
		SHA: f.seed, Ref: "refs/heads/main", RefName: "main", Actor: gittest.Author.Name,
		Repository: "alice/birds", Upstream: f.origin, Dir: f.local,
	}
	if info != want {
		t.Fatalf("Resolve = %+v\nwant      %+v", info, want)
	}
}

func TestResolveBareAndURL(t *testing.T) {
	f := newFixture(t)
	info, err := gitrepo.Resolve(f.origin)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Bare || info.Upstream != f.origin || info.Repository != "birds" || info.SHA != f.seed || info.RefName != "main" {
		t.Fatalf("bare: %+v", info)
	}
	// file:// URLs are opened in place, like plain paths
	info, err = gitrepo.Resolve("file://" + f.origin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Upstream != f.origin || info.SHA != f.seed || info.Actor != gittest.Author.Name {
		t.Fatalf("file URL: %+v", info)
	}
	// a working clone without origin is its own upstream, named after its directory
	lone := filepath.Join(t.TempDir(), "lonely")
	gittest.Init(t, lone)
	sha := gittest.Commit(t, lone, map[string]string{"a": "a\n"}, "one")
	info, err = gitrepo.Resolve(lone)
	if err != nil {
		t.Fatal(err)
	}
	if info.Upstream != lone || info.Repository != "lonely" || info.SHA != sha || info.Bare {
		t.Fatalf("clone without origin: %+v", info)
	}
	if _, err := gitrepo.Resolve(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Resolve of a missing repository succeeded")
	}
}

func TestChangedFiles(t *testing.T) {
	f := newFixture(t)
	c2 := gittest.Commit(t, f.local, map[string]string{"k8s/app.yaml": "image: birds:new\n", "k8s/old.yaml": "", "k8s/new.yaml": "x: 1\n"}, "k8s")
	r, err := gitrepo.Open(context.Background(), f.local, gitrepo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ChangedFiles(f.seed, c2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"k8s/app.yaml", "k8s/new.yaml", "k8s/old.yaml"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ChangedFiles = %v, want %v", got, want)
	}
	viaPath, err := gitrepo.ChangedFiles(f.local, f.seed, c2)
	if err != nil || !reflect.DeepEqual(viaPath, got) {
		t.Fatalf("gitrepo.ChangedFiles = %v, %v", viaPath, err)
	}
	all, err := r.ChangedFiles(strings.Repeat("0", 40), f.seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(seedFiles) {
		t.Fatalf("ChangedFiles from nothing = %v", all)
	}
}

func TestSourceCommit(t *testing.T) {
	f := newFixture(t)
	src := gittest.Commit(t, f.local, map[string]string{"back-end/main.go": "package main // v2\n"}, "source")
	bot1 := gittest.Commit(t, f.local, map[string]string{"k8s/app.yaml": "image: v2\n"}, "bot")
	bot2 := gittest.Commit(t, f.local, map[string]string{"k8s/sub/x.yaml": "x\n", "k8s/old.yaml": ""}, "bot again")
	r, err := gitrepo.Open(context.Background(), f.local, gitrepo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rev    string
		ignore []string
		want   string
	}{
		{bot2, []string{"k8s/**"}, src},
		{bot2, []string{"k8s/"}, src},
		{bot2, []string{"k8s"}, src},
		{bot1, []string{"k8s/**"}, src},
		{src, []string{"k8s/**"}, src},
		{bot2, nil, bot2},
		{bot2, []string{"k8s/*.yaml"}, bot2}, // k8s/sub/x.yaml is not matched by *
		{bot2, []string{"k8s/*.yaml", "k8s/sub/**"}, src},
		{bot2, []string{"**/*.yaml", "back-end/**"}, f.seed},
		{"HEAD", []string{"**"}, f.seed}, // everything ignored: the root commit
	} {
		got, err := r.SourceCommit(tc.rev, tc.ignore)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("SourceCommit(%.7s, %q) = %.7s, want %.7s", tc.rev, tc.ignore, got, tc.want)
		}
	}
	if got, err := gitrepo.SourceCommit(f.local, "HEAD", []string{"k8s/**"}); err != nil || got != src {
		t.Errorf("gitrepo.SourceCommit = %.7s, %v; want %.7s", got, err, src)
	}
	if _, err := r.SourceCommit("HEAD", []string{"[abc"}); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestGlobs(t *testing.T) {
	g, err := gitrepo.CompileGlobs([]string{"k8s/**", "docs/*.md", "**/.keep", "a?c"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"k8s/a.yaml": true, "k8s/x/y/z": true, "k8s": false, "k8sx/a": false,
		"docs/a.md": true, "docs/x/a.md": false, ".keep": true, "x/y/.keep": true,
		"abc": true, "abbc": false, "a/c": false, "back-end/main.go": false,
	} {
		if got := g.Match(p); got != want {
			t.Errorf("Match(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestCloneChecksOutBranchAndSetsUpstream(t *testing.T) {
	f := newFixture(t)
	r, err := gitrepo.Open(context.Background(), f.ws, gitrepo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info := r.Info()
	if info.SHA != f.seed || info.RefName != "main" || info.Upstream != f.origin {
		t.Fatalf("workspace: %+v (origin %s)", info, f.origin)
	}
	data, err := os.ReadFile(filepath.Join(f.ws, "k8s", "app.yaml"))
	if err != nil || string(data) != seedFiles["k8s/app.yaml"] {
		t.Fatalf("checked-out file: %q, %v", data, err)
	}
}

func TestCloneRevisions(t *testing.T) {
	f := newFixture(t)
	c2 := gittest.Commit(t, f.local, map[string]string{"README.md": "two\n"}, "two")
	ctx := context.Background()
	for _, tc := range []struct {
		rev, branch, wantRef, wantCommit string
	}{
		{"", "", "refs/heads/main", c2},
		{f.seed, "", "", f.seed},
		{f.seed, "main", "refs/heads/main", f.seed},
		{"main", "", "refs/heads/main", c2},
		{"refs/heads/main", "", "refs/heads/main", c2},
	} {
		dir := filepath.Join(t.TempDir(), "w")
		co, err := gitrepo.Clone(ctx, gitrepo.CloneOptions{Source: f.local, Dir: dir, Rev: tc.rev, Branch: tc.branch})
		if err != nil {
			t.Fatalf("rev %q: %v", tc.rev, err)
		}
		if co.Ref != tc.wantRef || co.Commit != tc.wantCommit {
			t.Errorf("rev %q branch %q: got %s at %.7s, want %s at %.7s", tc.rev, tc.branch, co.Ref, co.Commit, tc.wantRef, tc.wantCommit)
		}
	}
	// a failed clone leaves no half-written directory
	dir := filepath.Join(t.TempDir(), "w")
	if _, err := gitrepo.Clone(ctx, gitrepo.CloneOptions{Source: f.local, Dir: dir, Rev: strings.Repeat("ab", 20)}); err == nil {
		t.Fatal("clone of a missing commit succeeded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed clone left %s behind (%v)", dir, err)
	}
}
