package serve_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

const token = "test-token"

// gitRepo is a real repository in a temp dir, committed to with go-git.
type gitRepo struct {
	dir string
	g   *git.Repository
}

func newRepo(t testing.TB, files map[string]string) *gitRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	g, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	r := &gitRepo{dir: dir, g: g}
	r.commit(t, "init", files)
	return r
}

func (r *gitRepo) commit(t testing.TB, msg string, files map[string]string) string {
	t.Helper()
	wt, err := r.g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "Mona", Email: "mona@example.com", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// testServer is a real server on 127.0.0.1 with its own state dir.
type testServer struct {
	*serve.Server
	URL  string
	Repo *gitRepo
}

func start(t testing.TB, cfg serve.Config, repo *gitRepo, poll time.Duration) *testServer {
	t.Helper()
	return startOpts(t, cfg, serve.Options{}, repo, poll)
}

func startOpts(t testing.TB, cfg serve.Config, opts serve.Options, repo *gitRepo, poll time.Duration) *testServer {
	t.Helper()
	if cfg.State == "" {
		cfg.State = filepath.Join(t.TempDir(), "state")
	}
	cfg.Token = token
	if repo != nil {
		cfg.Repositories = append(cfg.Repositories, serve.Repo{Path: repo.dir, Name: "mona/birds", Branch: "main", Poll: poll})
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	srv, err := serve.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer()
	hs.Start()
	srv.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close(5 * time.Second)
	})
	return &testServer{Server: srv, URL: hs.URL, Repo: repo}
}

func do(t testing.TB, method, url, tok string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// dispatch posts a dispatch and returns the new run's id (0 when refused).
func (s *testServer) dispatch(t testing.TB, wf string, inputs map[string]any) (int, *http.Response, string) {
	t.Helper()
	resp, body := do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/"+wf+"/dispatches", token, map[string]any{"ref": "main", "inputs": inputs})
	id := 0
	if loc := resp.Header.Get("Location"); loc != "" {
		fmt.Sscanf(loc, "/api/runs/%d", &id)
	}
	return id, resp, string(body)
}

type runJSON struct {
	ID         int               `json:"id"`
	Name       string            `json:"name"`
	Event      string            `json:"event"`
	Status     string            `json:"status"`
	Conclusion *string           `json:"conclusion"`
	Message    *string           `json:"message"`
	HeadSHA    string            `json:"head_sha"`
	RunAttempt int               `json:"run_attempt"`
	Inputs     map[string]string `json:"inputs"`
	Jobs       []struct {
		Name       string  `json:"name"`
		Status     string  `json:"status"`
		Conclusion *string `json:"conclusion"`
		Steps      []struct {
			Name       string  `json:"name"`
			Status     string  `json:"status"`
			Conclusion *string `json:"conclusion"`
		} `json:"steps"`
	} `json:"jobs"`
}

func (r runJSON) conclusion() string {
	if r.Conclusion == nil {
		return ""
	}
	return *r.Conclusion
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, body := do(t, "GET", url, token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
}

func (s *testServer) run(t testing.TB, id int) runJSON {
	t.Helper()
	var r runJSON
	getJSON(t, fmt.Sprintf("%s/api/runs/%d", s.URL, id), &r)
	return r
}

// wait polls until cond holds for the run, or fails after a deadline.
func (s *testServer) wait(t testing.TB, id int, what string, cond func(runJSON) bool) runJSON {
	t.Helper()
	var r runJSON
	testenv.Eventually(t, 30*time.Second, func() bool { r = s.run(t, id); return cond(r) }, "run %d: waiting for %s; last: %+v", id, what, &r)
	return r
}

func (s *testServer) done(t testing.TB, id int) runJSON {
	t.Helper()
	return s.wait(t, id, "completion", func(r runJSON) bool { return r.Status == "completed" })
}

func (s *testServer) logText(t testing.TB, id int) string {
	t.Helper()
	_, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d/logs", s.URL, id), token, nil)
	return string(body)
}

func (s *testServer) runs(t testing.TB) (int, []runJSON) {
	t.Helper()
	var list struct {
		Total int       `json:"total_count"`
		Runs  []runJSON `json:"workflow_runs"`
	}
	getJSON(t, s.URL+"/api/runs?per_page=100", &list)
	return list.Total, list.Runs
}

func must(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
