package gittest

import (
	"crypto/subtle"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/testenv"
)

// Author signs the commits made here.
var Author = object.Signature{Name: "Alice Example", Email: "alice@example.com"}

// Main is the default branch of every repository made here.
const Main = plumbing.ReferenceName("refs/heads/main")

// Bare creates an empty bare repository at dir (whose HEAD names main).
func Bare(t testing.TB, dir string) {
	t.Helper()
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare: true, InitOptions: git.InitOptions{DefaultBranch: Main},
	}); err != nil {
		t.Fatal(err)
	}
}

// Init creates an empty working repository at dir (HEAD names main).
func Init(t testing.TB, dir string) {
	t.Helper()
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: Main}}); err != nil {
		t.Fatal(err)
	}
}

// Origin creates a bare repository at dir seeded with files in one commit
// (pushed from a throwaway clone) and returns that commit.
func Origin(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	Bare(t, dir)
	seed := filepath.Join(t.TempDir(), "seed")
	Init(t, seed)
	sha := Commit(t, seed, files, "initial commit")
	AddRemote(t, seed, "origin", dir)
	Push(t, seed)
	return sha
}

// AddRemote adds a remote to the repository at dir.
func AddRemote(t testing.TB, dir, name, url string) {
	t.Helper()
	r := open(t, dir)
	if _, err := r.CreateRemote(&config.RemoteConfig{Name: name, URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
}

// Clone clones url into dir (branch main checked out).
func Clone(t testing.TB, url, dir string) {
	t.Helper()
	if _, err := git.PlainClone(dir, false, &git.CloneOptions{URL: url}); err != nil {
		t.Fatal(err)
	}
}

// Commit writes files (an empty value deletes the file) into the working
// tree at dir, stages exactly them and commits as Author.
func Commit(t testing.TB, dir string, files map[string]string, msg string) string {
	t.Helper()
	r := open(t, dir)
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if _, err := wt.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		WriteFile(t, p, content)
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := Author
	sig.When = time.Now()
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &sig, Committer: &sig, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// Push pushes main of the repository at dir to origin.
func Push(t testing.TB, dir string) {
	t.Helper()
	if err := open(t, dir).Push(&git.PushOptions{RemoteName: "origin"}); err != nil && err != git.NoErrAlreadyUpToDate {
		t.Fatal(err)
	}
}

// Head returns the commit a branch of the repository at dir points at.
func Head(t testing.TB, dir string, branch plumbing.ReferenceName) string {
	t.Helper()
	ref, err := open(t, dir).Reference(branch, true)
	if err != nil {
		t.Fatal(err)
	}
	return ref.Hash().String()
}

// CommitObject reads a commit of the repository at dir.
func CommitObject(t testing.TB, dir, sha string) *object.Commit {
	t.Helper()
	c, err := open(t, dir).CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FileAt returns a file's content in a commit of the repository at dir, ""
// when it is absent.
func FileAt(t testing.TB, dir, sha, name string) string {
	t.Helper()
	tree, err := CommitObject(t, dir, sha).Tree()
	if err != nil {
		t.Fatal(err)
	}
	f, err := tree.File(name)
	if err != nil {
		return ""
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// WriteFile writes content, creating parent directories.
func WriteFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, dir string) *git.Repository {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// GitBinary returns the path of git, used by tests only to check what
// go-git wrote. Without it the test fails when CI=true and is skipped
// otherwise.
func GitBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		testenv.Missing(t, "git missing (%v): install Debian package git", err)
	}
	return p
}

// HTTPBackend is git's smart-HTTP CGI program (Debian package git).
const HTTPBackend = "/usr/lib/git-core/git-http-backend"

// HTTPServer serves the bare repositories under root over smart HTTP on
// 127.0.0.1 with git's http-backend, requiring basic auth user:password for
// every request. The git binary is needed only here, as the server. Without
// it the test fails when CI=true and is skipped otherwise. Requests counts
// the requests that passed authentication, UploadPacks those of them that
// fetched objects (git-upload-pack POSTs, not ref listings).
type HTTPServer struct {
	URL         string
	Requests    atomic.Int64
	Denied      atomic.Int64
	UploadPacks atomic.Int64
	srv         *httptest.Server
}

// Close stops the server before the test ends (the source goes offline).
func (s *HTTPServer) Close() { s.srv.Close() }

// ServeHTTP starts the server; it stops when the test ends.
func ServeHTTP(t testing.TB, root, user, password string) *HTTPServer {
	t.Helper()
	if _, err := os.Stat(HTTPBackend); err != nil {
		testenv.Missing(t, "git http-backend missing (%v): install Debian package git", err)
	}
	gitPath, _ := exec.LookPath("git")
	s := &HTTPServer{}
	backend := &cgi.Handler{
		Path: HTTPBackend,
		Env: []string{
			"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			// http-backend allows receive-pack only for authenticated users
			"REMOTE_USER=" + user,
			"PATH=" + filepath.Dir(gitPath) + ":/usr/bin:/bin",
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			s.Denied.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.Requests.Add(1)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			s.UploadPacks.Add(1)
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL, s.srv = srv.URL, srv
	return s
}
