package serve_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/birdflock/runner/pkg/serve"
)

// Every API read needs the token: a run's log, its details, the runs and
// workflows lists, the live stream, metrics. The UI's pages and /healthz
// hold no data and stay open.
func TestReadsNeedToken(t *testing.T) {
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo the-secret-build-output\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/r.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "r.yaml", nil)
	s.done(t, id)
	reads := []string{
		fmt.Sprintf("/api/runs/%d/logs", id), fmt.Sprintf("/api/runs/%d/logs?stream=1", id), fmt.Sprintf("/api/runs/%d", id),
		"/api/runs", "/api/workflows", "/api/repos", "/metrics",
		fmt.Sprintf("/repos/mona/birds/actions/runs/%d/logs", id), fmt.Sprintf("/repos/mona/birds/actions/runs/%d", id), "/repos/mona/birds/actions/runs",
	}
	for _, p := range reads {
		for _, tok := range []string{"", "wrong"} {
			resp, body := do(t, "GET", s.URL+p, tok, nil)
			must(t, resp.StatusCode == http.StatusUnauthorized && !strings.Contains(string(body), "the-secret-build-output"),
				"GET %s with token %q: %s %s", p, tok, resp.Status, body)
		}
		resp, _ := do(t, "GET", s.URL+p, token, nil)
		must(t, resp.StatusCode == http.StatusOK, "GET %s with the token: %s", p, resp.Status)
	}
	must(t, strings.Contains(s.logText(t, id), "the-secret-build-output"), "log with the token:\n%s", s.logText(t, id))
	for _, p := range []string{"/", fmt.Sprintf("/runs/%d", id), "/static/app.js", "/healthz"} {
		resp, _ := do(t, "GET", s.URL+p, "", nil)
		must(t, resp.StatusCode == http.StatusOK, "GET %s without a token: %s", p, resp.Status)
	}

	// public-read: true opens reads (not writes) to anyone.
	pub := start(t, serve.Config{PublicRead: true}, birds(t, map[string]string{".github/workflows/r.yaml": wf}), 0)
	id, _, _ = pub.dispatch(t, "r.yaml", nil)
	pub.done(t, id)
	resp, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d/logs", pub.URL, id), "", nil)
	must(t, resp.StatusCode == 200 && strings.Contains(string(body), "the-secret-build-output"), "public-read log: %s %s", resp.Status, body)
	resp, _ = do(t, "POST", fmt.Sprintf("%s/api/runs/%d/rerun", pub.URL, id), "", nil)
	must(t, resp.StatusCode == http.StatusUnauthorized, "public-read re-run without a token: %s", resp.Status)
}

// A dispatch ref is an existing branch or tag, by short or full name:
// nothing after a colon reaches github.ref_name (where a run: line would
// execute it), and no revision syntax (~, ^, @{) or bare commit is taken.
func TestDispatchRefValidated(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "pwned")
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"ref=${{ github.ref_name }}\"\n"
	repo := birds(t, map[string]string{".github/workflows/ref.yaml": wf})
	head, err := repo.g.Head()
	if err != nil {
		t.Fatal(err)
	}
	sha := head.Hash().String()
	_, err = repo.g.CreateTag("v1", head.Hash(), nil)
	must(t, err == nil, "tag: %v", err)
	_, err = repo.g.CreateTag("v2", head.Hash(), &git.CreateTagOptions{Tagger: &object.Signature{Name: "Mona", Email: "mona@example.com", When: time.Now()}, Message: "v2"})
	must(t, err == nil, "annotated tag: %v", err)
	s := start(t, serve.Config{}, repo, 0)
	post := func(ref string) (*http.Response, string) {
		resp, body := do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/ref.yaml/dispatches", token, map[string]any{"ref": ref})
		return resp, string(body)
	}
	for _, ref := range []string{
		`refs/heads/main:"; touch ` + marker + `; echo "`, `main:"; touch ` + marker + `; echo "`,
		"main~0", "main^{tree}", "main@{0}", "main^", "@", "HEAD", "refs/heads/../main", "refs/heads/main/", "main.lock", ".main",
		"refs/remotes/origin/main", "refs/heads/nope", "nope", sha, sha[:7], "main\x00", "ma in",
	} {
		resp, body := post(ref)
		var e struct{ Message string }
		must(t, resp.StatusCode == http.StatusUnprocessableEntity && json.Unmarshal([]byte(body), &e) == nil && e.Message != "",
			"ref %q: %s %s (want 422 with a message)", ref, resp.Status, body)
	}
	total, _ := s.runs(t)
	must(t, total == 0, "%d runs queued for refused refs", total)
	for ref, want := range map[string]string{"main": "refs/heads/main", "refs/heads/main": "refs/heads/main", "v1": "refs/tags/v1", "refs/tags/v2": "refs/tags/v2"} {
		resp, body := post(ref)
		must(t, resp.StatusCode == http.StatusNoContent, "ref %q: %s %s", ref, resp.Status, body)
		var id int
		fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
		r := s.done(t, id)
		must(t, r.conclusion() == "success" && r.HeadSHA == sha, "ref %q: run %+v", ref, r)
		var full struct{ Ref string }
		getJSON(t, fmt.Sprintf("%s/api/runs/%d", s.URL, id), &full)
		must(t, full.Ref == want, "ref %q ran as %q, want %q", ref, full.Ref, want)
	}
	_, err = os.Stat(marker)
	must(t, os.IsNotExist(err), "the ref's text ran as a command: %s exists", marker)
}

// A signed push runs a commit as its branch only when the commit is on
// that branch (its tip or in its history): a commit of another branch,
// or a tag push naming a commit the tag does not point at, gets 422.
func TestWebhookCommitOnBranch(t *testing.T) {
	repo := birds(t, nil)
	s := start(t, serve.Config{WebhookSecret: "s3cret"}, repo, 0)
	old := repo.commit(t, "old", map[string]string{"back-end/main.go": "package main\n// old\n"})
	tip := repo.commit(t, "tip", map[string]string{"back-end/main.go": "package main\n// tip\n"})
	wt, _ := repo.g.Worktree()
	must(t, wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("evil"), Create: true}) == nil, "checkout evil")
	evil := repo.commit(t, "evil", map[string]string{"back-end/main.go": "package main\n// evil\n"})
	must(t, wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("main")}) == nil, "checkout main")
	_, err := repo.g.CreateTag("v1", plumbing.NewHash(old), nil)
	must(t, err == nil, "tag: %v", err)
	push := func(delivery, ref, after string) (int, string) {
		return deliver(t, s, "s3cret", delivery, map[string]any{
			"ref": ref, "before": "0000000000000000000000000000000000000000", "after": after, "repository": map[string]any{"full_name": "mona/birds"},
			"commits": []any{map[string]any{"modified": []string{"back-end/main.go"}}},
		})
	}
	for i, c := range []struct{ ref, after string }{
		{"refs/heads/main", evil}, {"refs/tags/v1", tip}, {"refs/heads/nope", tip}, {"refs/heads/main~1", old}, {"refs/remotes/x/main", tip}, {"main", tip},
	} {
		code, body := push(fmt.Sprintf("bad-%d", i), c.ref, c.after)
		must(t, code == http.StatusUnprocessableEntity, "push of %s as %s: %d %s (want 422)", c.after[:7], c.ref, code, body)
	}
	total, _ := s.runs(t)
	must(t, total == 0, "%d runs queued for pushes of commits not on their ref", total)
	for i, c := range []struct{ ref, after string }{
		{"refs/heads/main", tip}, {"refs/heads/main", old}, {"refs/heads/evil", evil}, {"refs/tags/v1", old},
	} {
		code, body := push(fmt.Sprintf("good-%d", i), c.ref, c.after)
		must(t, code == http.StatusAccepted && !strings.Contains(body, `"runs": []`), "push of %s as %s: %d %s", c.after[:7], c.ref, code, body)
	}
}

// Loopback is decided by the resolved address, not its text; a listen
// address other machines can reach needs a token the operator set (a
// generated one is refused) and is warned about.
func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr     string
		loopback bool
	}{
		{"127.0.0.1:0", true}, {"127.0.0.2:0", true}, {"localhost:0", true}, {"[::1]:0", true}, {"[::ffff:127.0.0.1]:0", true},
		{"0.0.0.0:0", false}, {":0", false}, {"[::]:0", false}, {"10.1.2.3:0", false},
	} {
		_, loop, err := serve.IsLoopback(c.addr)
		must(t, err == nil && loop == c.loopback, "IsLoopback(%q) = %v, %v; want %v", c.addr, loop, err, c.loopback)
	}
	_, _, err := serve.IsLoopback("127.0.0.1.invalid:0")
	must(t, err != nil, "a name that starts like 127.0.0.1 but does not resolve: no error")

	check := func(cfg serve.Config) (string, string, error) {
		cfg.State = filepath.Join(t.TempDir(), "state")
		srv, err := serve.New(cfg, serve.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close(time.Second)
		return srv.CheckListen()
	}
	_, warn, err := check(serve.Config{Listen: "0.0.0.0:8080"})
	must(t, err != nil && strings.Contains(err.Error(), "0.0.0.0:8080") && strings.Contains(err.Error(), "token"), "all interfaces with a generated token: %v (warning %q)", err, warn)
	_, _, err = check(serve.Config{Listen: ":8080"})
	must(t, err != nil, "an empty host (all interfaces) with a generated token was accepted")
	addr, warn, err := check(serve.Config{Listen: "0.0.0.0:8080", Token: "chosen"})
	must(t, err == nil && addr == "0.0.0.0:8080" && strings.Contains(warn, "other machines"), "all interfaces with a token: %q %q %v", addr, warn, err)
	addr, warn, err = check(serve.Config{Listen: "localhost:8080"})
	must(t, err == nil && warn == "" && addr == "127.0.0.1:8080", "localhost: %q %q %v", addr, warn, err)
}

// Unauthenticated answers (the UI, /healthz, public reads) check the Host
// header against the server's names (DNS rebinding); every answer forbids
// framing.
func TestHostCheckAndFraming(t *testing.T) {
	s := start(t, serve.Config{PublicRead: true, Hosts: []string{"ci.example.com"}, ExternalURL: "https://runner.example.org:8443/"}, birds(t, nil), 0)
	get := func(path, host, tok string) *http.Response {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Host = host
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	for _, p := range []string{"/", "/runs/1", "/static/app.js", "/healthz", "/api/runs"} {
		for _, h := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "ci.example.com", "runner.example.org:8443", "LOCALHOST"} {
			resp := get(p, h, "")
			must(t, resp.StatusCode == http.StatusOK, "GET %s, Host %s: %s", p, h, resp.Status)
		}
		for _, h := range []string{"evil.example", "127.0.0.1.evil.example:" + port, "example.com"} {
			resp := get(p, h, "")
			must(t, resp.StatusCode == http.StatusMisdirectedRequest, "GET %s, Host %s: %s (want 421)", p, h, resp.Status)
		}
	}
	// With the token the name does not matter: a rebound page has none.
	resp := get("/api/runs", "evil.example", token)
	must(t, resp.StatusCode == http.StatusOK, "GET /api/runs with the token, Host evil.example: %s", resp.Status)
	for _, p := range []string{"/", "/runs/1", "/api/runs", "/healthz"} {
		resp := get(p, "127.0.0.1", "")
		must(t, resp.Header.Get("X-Frame-Options") == "DENY" && strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'"),
			"GET %s: X-Frame-Options %q, CSP %q", p, resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy"))
	}
	resp, _ = do(t, "POST", s.URL+"/webhooks/github", "", nil)
	must(t, resp.Header.Get("X-Frame-Options") == "DENY", "webhook answer without X-Frame-Options")
}

// The state directory (logs, runs.db, the generated token, run
// directories) is the service user's alone: other users of the machine
// cannot read the logs around the API.
func TestStatePrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo private\n"
	s := start(t, serve.Config{State: state}, birds(t, map[string]string{".github/workflows/p.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "p.yaml", nil)
	s.done(t, id)
	for path, want := range map[string]os.FileMode{
		state: 0o700, filepath.Join(state, "logs"): 0o700, filepath.Join(state, "logs", fmt.Sprintf("%d.jsonl", id)): 0o600,
	} {
		fi, err := os.Stat(path)
		must(t, err == nil && fi.Mode().Perm() == want, "%s: %v %v, want %v", path, fi.Mode().Perm(), err, want)
	}
	// An existing state directory others can enter is reported.
	open := filepath.Join(t.TempDir(), "open")
	os.MkdirAll(open, 0o755)
	os.Chmod(open, 0o755)
	var log strings.Builder
	srv, err := serve.New(serve.Config{State: open, Token: token}, serve.Options{Log: &log})
	must(t, err == nil, "new: %v", err)
	srv.Close(time.Second)
	must(t, strings.Contains(log.String(), "chmod 700"), "no warning for a state directory with mode 0755: %q", log.String())
}
