package actions_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/birdflock/runner/pkg/actions"
	"github.com/birdflock/runner/pkg/gitrepo"
	"github.com/birdflock/runner/pkg/gitrepo/gittest"
	"github.com/birdflock/runner/pkg/testenv"
	"github.com/birdflock/runner/pkg/workflow"
)

const token = "ghs_actionsT0kenValue0987654321"

const actionYML = `name: Hello
inputs:
  who:
    required: true
runs:
  using: composite
  steps:
    - run: echo hi
      shell: bash
`

// seedRepo makes a working repository at seed with files (an exec/
// prefix in the name makes the file executable; empty content deletes
// the file) and symbolic links
// (name → target), commits them, pushes to the bare repository bare
// (created when missing) and returns the commit.
func seedRepo(t *testing.T, seed, bare string, files, links map[string]string) string {
	t.Helper()
	if _, err := os.Stat(bare); err != nil {
		gittest.Bare(t, bare)
	}
	if _, err := os.Stat(seed); err != nil {
		gittest.Init(t, seed)
		gittest.AddRemote(t, seed, "origin", bare)
	}
	r, err := git.PlainOpen(seed)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		exec := strings.HasPrefix(name, "exec/")
		p := filepath.Join(seed, name)
		if content == "" {
			if _, err := wt.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		gittest.WriteFile(t, p, content)
		if exec {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(seed, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := gittest.Author
	sig.When = time.Now()
	h, err := wt.Commit("update", &git.CommitOptions{Author: &sig, Committer: &sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	gittest.Push(t, seed)
	return h.String()
}

// tag creates or moves a tag in the repository at dir: lightweight, or
// annotated with a message.
func tag(t *testing.T, dir, name, sha, message string) {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.DeleteTag(name)
	var opts *git.CreateTagOptions
	if message != "" {
		sig := gittest.Author
		sig.When = time.Now()
		opts = &git.CreateTagOptions{Tagger: &sig, Message: message}
	}
	if _, err := r.CreateTag(name, plumbing.NewHash(sha), opts); err != nil {
		t.Fatal(err)
	}
}

func branch(t *testing.T, dir, name, sha string) {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), plumbing.NewHash(sha))); err != nil {
		t.Fatal(err)
	}
}

// server serves the bare repositories under root over git's http-backend
// with the token, and returns a resolver whose source is that server.
func server(t *testing.T, root string) (*gittest.HTTPServer, *actions.Resolver) {
	srv := gittest.ServeHTTP(t, root, gitrepo.TokenUser, token)
	return srv, &actions.Resolver{StateDir: testenv.WritableTempDir(t), Source: actions.Source{URL: srv.URL + "/{owner}/{repo}.git"}}
}

func ref(t *testing.T, uses string) workflow.ActionRef {
	t.Helper()
	r, err := workflow.ParseActionRef(uses)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSourceSettings(t *testing.T) {
	if got := (actions.Source{}).URLFor("actions", "checkout"); got != "https://github.com/actions/checkout" {
		t.Fatalf("default URL: %s", got)
	}
	s, err := actions.ParseSource("https://git.example.com/mirror/{owner}/{repo}.git")
	if err != nil || s.URLFor("Alice", "tools") != "https://git.example.com/mirror/Alice/tools.git" {
		t.Fatalf("template: %+v %v", s, err)
	}
	dir := t.TempDir()
	if s, err := actions.ParseSource(dir); err != nil || s.Dir != dir || s.URL != "" {
		t.Fatalf("folder: %+v %v", s, err)
	}
	for in, want := range map[string]string{
		"https://git.example.com/{owner}":            "needs {owner} and {repo}",
		"ftp://x/{owner}/{repo}":                     `scheme "ftp"`,
		filepath.Join(dir, "missing"):                "no such file",
		"https://u:s3cr3tpass@h/{owner}":             "https://***@h/{owner}",
		filepath.Join(dir, "..", filepath.Base(dir)): "",
	} {
		_, err := actions.ParseSource(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want %q", in, err, want)
		case err != nil && strings.Contains(err.Error(), "s3cr3tpass"):
			t.Errorf("%s: credentials in %v", in, err)
		}
	}
}

// TestFetchFromServer resolves tags (lightweight, annotated), a branch and
// a full SHA from a git server, caches the trees read-only by commit,
// follows a moved tag, reuses the cache without fetching, and resolves
// from the cache when the server is gone.
func TestFetchFromServer(t *testing.T) {
	root := t.TempDir()
	bare := filepath.Join(root, "alice", "hello.git")
	seed := filepath.Join(t.TempDir(), "seed")
	c1 := seedRepo(t, seed, bare, map[string]string{"action.yml": actionYML, "exec/run.sh": "#!/bin/sh\necho one\n", "sub/data.txt": "one\n"}, map[string]string{"link": "sub/data.txt"})
	c2 := seedRepo(t, seed, bare, map[string]string{"sub/data.txt": "two\n"}, nil)
	tag(t, bare, "v1", c1, "")
	tag(t, bare, "v1.0.0", c1, "release 1.0.0")
	branch(t, bare, "release", c1)
	srv, r := server(t, root)
	ctx := context.Background()

	for version, want := range map[string]string{"v1": c1, "v1.0.0": c1, "release": c1, "main": c2, c1: c1, "refs/tags/v1": c1, "refs/heads/main": c2} {
		act, err := r.Resolve(ctx, ref(t, "alice/hello@"+version), "", token)
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		wantDir := filepath.Join(r.StateDir, "actions", "alice", "hello", want)
		if act.Commit != want || act.Dir != wantDir || act.Meta.Name.Raw != "Hello" || act.Fetched.Cached {
			t.Fatalf("%s: commit %s dir %s name %q, want %s in %s", version, act.Commit, act.Dir, act.Meta.Name.Raw, want, wantDir)
		}
	}
	tree := filepath.Join(r.StateDir, "actions", "alice", "hello", c1)
	for name, mode := range map[string]os.FileMode{"action.yml": 0o444, "exec/run.sh": 0o555, "sub": os.ModeDir | 0o555, ".": os.ModeDir | 0o555} {
		st, err := os.Lstat(filepath.Join(tree, name))
		if err != nil || st.Mode() != mode {
			t.Errorf("%s: mode %v, want %v (%v)", name, st.Mode(), mode, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(tree, "link")); string(got) != "one\n" {
		t.Errorf("link reads %q", got)
	}

	for version, want := range map[string]string{
		c1[:7]:                  "shortened commit SHA",
		"nope":                  `"nope" is not a tag, a branch or a full commit SHA of ` + srv.URL + "/alice/hello.git",
		strings.Repeat("a", 40): "commit aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is not in",
	} {
		_, err := r.Resolve(ctx, ref(t, "alice/hello@"+version), "", token)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "alice/hello@"+version+": ") {
			t.Errorf("%s: got %v, want %q", version, err, want)
		}
	}
	if _, err := r.Resolve(ctx, ref(t, "alice/missing@v1"), "", token); err == nil || !strings.Contains(err.Error(), "no such repository") {
		t.Errorf("missing repository: %v", err)
	}

	// The tag moves: the next resolution follows it.
	tag(t, bare, "v1", c2, "")
	if _, c, err := r.Fetch(ctx, "alice", "hello", "v1", token); err != nil || c != c2 {
		t.Fatalf("moved tag: %s %v, want %s", c, err, c2)
	}
	// Everything is cached: asking again lists refs but fetches nothing.
	fetches := srv.UploadPacks.Load()
	for _, v := range []string{"v1", "v1.0.0", "release", c1} {
		if _, _, err := r.Fetch(ctx, "alice", "hello", v, token); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.UploadPacks.Load() - fetches; n != 0 {
		t.Fatalf("%d fetches for cached commits", n)
	}

	// Offline: what was resolved before resolves as then, and says so.
	srv.Close()
	requests := srv.Requests.Load()
	for v, want := range map[string]string{"v1": c2, "release": c1, "v1.0.0": c1, c1: c1} {
		f, err := r.FetchRepo(ctx, "alice", "hello", v, token)
		if err != nil {
			t.Fatalf("offline %s: %v", v, err)
		}
		if f.Commit != want || !f.Cached || !strings.Contains(f.Note, "cannot be reached") {
			t.Fatalf("offline %s: %+v, want %s", v, f, want)
		}
		if !fullSHAString(v) && !strings.Contains(f.Note, "used the cached resolution of "+v) {
			t.Fatalf("offline %s: note %q", v, f.Note)
		}
	}
	if srv.Requests.Load() != requests {
		t.Fatal("the closed server answered")
	}
	if _, err := r.Resolve(ctx, ref(t, "alice/hello@v2"), "", token); err == nil || !strings.Contains(err.Error(), "list the refs of "+srv.URL) {
		t.Fatalf("offline, never resolved: %v", err)
	}
	// A fresh state dir has nothing to fall back on.
	r2 := &actions.Resolver{StateDir: testenv.WritableTempDir(t), Source: r.Source}
	if _, err := r2.Resolve(ctx, ref(t, "alice/hello@v1"), "", token); err == nil {
		t.Fatal("offline without a cache resolved")
	}
}

func fullSHAString(s string) bool { return len(s) == 40 }

// TestFetchToken: the token is the clone's basic auth, a missing or wrong
// one is a clear error, and neither the token nor credentials in the URL
// template show in an error.
func TestFetchToken(t *testing.T) {
	root := t.TempDir()
	c := seedRepo(t, filepath.Join(t.TempDir(), "seed"), filepath.Join(root, "alice", "private.git"), map[string]string{"action.yml": actionYML}, nil)
	tag(t, filepath.Join(root, "alice", "private.git"), "v1", c, "")
	srv, r := server(t, root)
	ctx := context.Background()

	_, err := r.Resolve(ctx, ref(t, "alice/private@v1"), "", "")
	if err == nil || !strings.Contains(err.Error(), "requires credentials") {
		t.Fatalf("without token: %v", err)
	}
	_, err = r.Resolve(ctx, ref(t, "alice/private@v1"), "", token+"-wrong")
	if err == nil || !strings.Contains(err.Error(), "refused the token") || strings.Contains(err.Error(), token) {
		t.Fatalf("wrong token: %v", err)
	}
	denied := srv.Denied.Load()
	act, err := r.Resolve(ctx, ref(t, "alice/private@v1"), "", token)
	if err != nil || act.Commit != c {
		t.Fatalf("with token: %v", err)
	}
	if srv.Denied.Load() != denied {
		t.Fatal("the token was not sent with the first request")
	}
	// Credentials in the template win over the token and stay hidden.
	for _, pass := range []string{token + "-old", token} {
		r3 := &actions.Resolver{StateDir: testenv.WritableTempDir(t), Source: actions.Source{
			URL: strings.Replace(srv.URL, "http://", "http://"+gitrepo.TokenUser+":"+pass+"@", 1) + "/{owner}/{repo}.git"}}
		_, err := r3.Resolve(ctx, ref(t, "alice/private@v1"), "", token)
		if pass == token {
			if err != nil {
				t.Fatalf("credentials in the template: %v", err)
			}
			continue
		}
		if err == nil || strings.Contains(err.Error(), pass) || !strings.Contains(err.Error(), "http://***@127.0.0.1") {
			t.Fatalf("wrong credentials in the template: %v", err)
		}
	}
	// Offline, the note and the error hide them too.
	withCreds := &actions.Resolver{StateDir: testenv.WritableTempDir(t), Source: actions.Source{
		URL: strings.Replace(srv.URL, "http://", "http://"+gitrepo.TokenUser+":"+token+"@", 1) + "/{owner}/{repo}.git"}}
	if _, err := withCreds.Resolve(ctx, ref(t, "alice/private@v1"), "", ""); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	// a token as the user name, which Go's errors do not redact
	withCreds.Source.URL = strings.Replace(srv.URL, "http://", "http://"+token+"@", 1) + "/{owner}/{repo}.git"
	f, err := withCreds.FetchRepo(ctx, "alice", "private", "v1", "")
	if err != nil || !f.Cached || strings.Contains(f.Note+f.Source, token) || !strings.Contains(f.Note, "http://***@127.0.0.1") {
		t.Fatalf("offline with credentials in the template: %+v %v", f, err)
	}
	_, err = withCreds.FetchRepo(ctx, "alice", "private", "main", "")
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "http://***@127.0.0.1") {
		t.Fatalf("offline, not cached, credentials in the template: %v", err)
	}
}

// TestFetchCleansLeftovers: a tree a killed resolver left half-written is
// removed by the next one, which writes its own whole.
func TestFetchCleansLeftovers(t *testing.T) {
	root := t.TempDir()
	bare := filepath.Join(root, "alice", "hello.git")
	c := seedRepo(t, filepath.Join(t.TempDir(), "seed"), bare, map[string]string{"action.yml": actionYML}, nil)
	tag(t, bare, "v1", c, "")
	_, r := server(t, root)
	base := filepath.Join(r.StateDir, "actions", "alice", "hello")
	gittest.WriteFile(t, filepath.Join(base, ".tmp-123", "half", "written"), "x")
	if err := os.Chmod(filepath.Join(base, ".tmp-123", "half"), 0o555); err != nil {
		t.Fatal(err)
	}
	act, err := r.Resolve(context.Background(), ref(t, "alice/hello@v1"), "", token)
	if err != nil || act.Commit != c {
		t.Fatal(err)
	}
	if exists(filepath.Join(base, ".tmp-123")) {
		t.Fatal("the leftover is still there")
	}
}

// TestFetchFromDir takes actions from a local folder: a working git
// repository (tags resolved in it), a bare one, a plain folder (copied by
// content) and an OWNER/REPO@VERSION folder.
func TestFetchFromDir(t *testing.T) {
	src := t.TempDir()
	work := filepath.Join(src, "alice", "work")
	c1 := seedRepo(t, work, filepath.Join(t.TempDir(), "unused.git"), map[string]string{"action.yml": actionYML}, nil)
	c2 := seedRepo(t, work, filepath.Join(t.TempDir(), "unused.git"), map[string]string{"x": "2\n"}, nil)
	tag(t, work, "v1", c1, "annotated")
	bare := filepath.Join(src, "alice", "bare.git")
	c3 := seedRepo(t, filepath.Join(t.TempDir(), "seed"), bare, map[string]string{"action.yml": actionYML, "y": "3\n"}, nil)
	plain := filepath.Join(src, "bob", "plain")
	gittest.WriteFile(t, filepath.Join(plain, "action.yml"), actionYML)
	gittest.WriteFile(t, filepath.Join(src, "bob", "plain@v2", "action.yml"), strings.Replace(actionYML, "Hello", "Hello v2", 1))
	r := &actions.Resolver{StateDir: testenv.WritableTempDir(t), Source: actions.Source{Dir: src}}
	ctx := context.Background()

	for uses, want := range map[string]string{"alice/work@v1": c1, "alice/work@main": c2, "alice/bare@main": c3, "alice/bare@" + c3: c3} {
		act, err := r.Resolve(ctx, ref(t, uses), "", "")
		if err != nil || act.Commit != want || act.Dir != filepath.Join(r.StateDir, "actions", "alice", strings.Split(strings.Split(uses, "/")[1], "@")[0], want) {
			t.Fatalf("%s: %+v %v, want %s", uses, act, err, want)
		}
	}
	act, err := r.Resolve(ctx, ref(t, "bob/plain@v1"), "", "")
	if err != nil || act.Commit != "" || !strings.HasPrefix(act.Fetched.Digest, "sha256:") || filepath.Base(act.Dir) != "dir-"+strings.TrimPrefix(act.Fetched.Digest, "sha256:") {
		t.Fatalf("plain folder: %+v %v", act, err)
	}
	first := act.Dir
	if st, err := os.Stat(filepath.Join(first, "action.yml")); err != nil || st.Mode() != 0o444 {
		t.Fatalf("plain copy: %v %v", st, err)
	}
	act, err = r.Resolve(ctx, ref(t, "bob/plain@v2"), "", "")
	if err != nil || act.Meta.Name.Raw != "Hello v2" {
		t.Fatalf("plain@v2: %+v %v", act, err)
	}
	// The folder changes: a new copy, the old one stays as it was.
	gittest.WriteFile(t, filepath.Join(plain, "more.txt"), "more\n")
	act, err = r.Resolve(ctx, ref(t, "bob/plain@v1"), "", "")
	if err != nil || act.Dir == first || !exists(filepath.Join(act.Dir, "more.txt")) || exists(filepath.Join(first, "more.txt")) {
		t.Fatalf("changed plain folder: %+v %v", act, err)
	}
	if _, err := r.Resolve(ctx, ref(t, "carol/none@v1"), "", ""); err == nil || !strings.Contains(err.Error(), "no folder carol/none in the actions source "+src) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := r.Resolve(ctx, ref(t, "alice/work@v9"), "", ""); err == nil || !strings.Contains(err.Error(), `"v9" is not a tag`) {
		t.Fatalf("bad ref in a local repository: %v", err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestFetchConcurrent: jobs resolving the same action at once get the same
// tree, fetched once, and leave no temporary folder.
func TestFetchConcurrent(t *testing.T) {
	root := t.TempDir()
	bare := filepath.Join(root, "alice", "hello.git")
	c := seedRepo(t, filepath.Join(t.TempDir(), "seed"), bare, map[string]string{"action.yml": actionYML, "exec/run.sh": "#!/bin/sh\n"}, nil)
	tag(t, bare, "v1", c, "")
	srv, r := server(t, root)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	dirs := make([]string, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// a resolver each, as two processes sharing a state dir
			ri := &actions.Resolver{StateDir: r.StateDir, Source: r.Source}
			act, err := ri.Resolve(context.Background(), ref(t, "alice/hello@v1"), "", token)
			if err == nil {
				dirs[i] = act.Dir
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || dirs[i] != filepath.Join(r.StateDir, "actions", "alice", "hello", c) {
			t.Fatalf("resolver %d: %s %v", i, dirs[i], err)
		}
	}
	if n := srv.UploadPacks.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	if tmp, _ := filepath.Glob(filepath.Join(r.StateDir, "actions", "alice", "hello", ".tmp-*")); len(tmp) > 0 {
		t.Fatalf("left behind: %v", tmp)
	}
}

// TestFetchRefusesEscapingLinks: a link that leaves the repository, alone
// or through another link, fails the fetch and leaves nothing in the cache.
func TestFetchRefusesEscapingLinks(t *testing.T) {
	for name, links := range map[string]map[string]string{
		"absolute": {"evil": "/etc/passwd"},
		"dotdot":   {"sub/evil": "../../outside"},
		"chain":    {"d": ".", "sub/g": "../d/.."},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			bare := filepath.Join(root, "alice", "links.git")
			c := seedRepo(t, filepath.Join(t.TempDir(), "seed"), bare, map[string]string{"action.yml": actionYML, "sub/x": "x\n"}, links)
			tag(t, bare, "v1", c, "")
			_, r := server(t, root)
			_, err := r.Resolve(context.Background(), ref(t, "alice/links@v1"), "", token)
			if err == nil || !strings.Contains(err.Error(), "points outside the repository") {
				t.Fatalf("got %v", err)
			}
			left, _ := filepath.Glob(filepath.Join(r.StateDir, "actions", "alice", "links", "[.0-9a-f]*"))
			for _, l := range left {
				if b := filepath.Base(l); b != ".lock" {
					t.Errorf("left in the cache: %s", b)
				}
			}
		})
	}
}

// TestFetchActionErrors: an action.yml with errors names its file, line
// and column; a repository without one says so.
func TestFetchActionErrors(t *testing.T) {
	root := t.TempDir()
	bare := filepath.Join(root, "alice", "broken.git")
	seed := filepath.Join(t.TempDir(), "seed")
	c1 := seedRepo(t, seed, bare, map[string]string{"action.yml": "name: x\nruns:\n  using: node99\n  main: x.js\n"}, nil)
	c2 := seedRepo(t, seed, bare, map[string]string{"action.yml": "", "README.md": "none\n"}, nil)
	tag(t, bare, "v1", c1, "")
	tag(t, bare, "v2", c2, "")
	_, r := server(t, root)
	ctx := context.Background()
	_, err := r.Resolve(ctx, ref(t, "alice/broken@v1"), "", token)
	want := filepath.Join(r.StateDir, "actions", "alice", "broken", c1, "action.yml") + `:3:10: runs.using: unknown value "node99"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %s", err, want)
	}
	_, err = r.Resolve(ctx, ref(t, "alice/broken@v2"), "", token)
	if err == nil || !strings.Contains(err.Error(), "alice/broken@v2: no action.yml or action.yaml") {
		t.Fatalf("no action.yml: %v", err)
	}
}
