package serve_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
	"github.com/birdflock/runner/pkg/testenv"
)

const helloWF = `name: Hello
on:
  workflow_dispatch:
    inputs:
      who:
        type: string
        required: true
      loud:
        type: boolean
      level:
        type: choice
        options: [low, high]
        default: low
      n:
        type: number
        default: 1
  push:
    paths-ignore: ['k8s/**']
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "hello ${{ inputs.who }} loud=${{ inputs.loud }} level=${{ inputs.level }} n=${{ inputs.n }} event=${{ github.event_name }}"
  after:
    needs: greet
    runs-on: ubuntu-latest
    steps:
      - run: echo after
`

func birds(t testing.TB, extra map[string]string) *gitRepo {
	files := map[string]string{".github/workflows/hello.yaml": helloWF, "back-end/main.go": "package main\n", "k8s/be.yaml": "kind: Service\n"}
	for k, v := range extra {
		files[k] = v
	}
	return newRepo(t, files)
}

func TestDispatch(t *testing.T) {
	s := start(t, serve.Config{Capacity: 2}, birds(t, nil), 0)
	id, resp, body := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona", "loud": true, "level": "high", "n": 3})
	must(t, resp.StatusCode == http.StatusNoContent && id > 0, "dispatch: %s %s", resp.Status, body)
	r := s.done(t, id)
	must(t, r.conclusion() == "success" && r.Event == "workflow_dispatch", "run: %+v", r)
	must(t, len(r.Jobs) == 2 && r.Jobs[0].Name == "greet" && len(r.Jobs[0].Steps) == 1 && *r.Jobs[0].Steps[0].Conclusion == "success", "jobs: %+v", r.Jobs)
	log := s.logText(t, id)
	must(t, strings.Contains(log, "hello mona loud=true level=high n=3 event=workflow_dispatch"), "log:\n%s", log)

	// The name without extension works too, defaults fill in.
	id, resp, body = s.dispatch(t, "hello", map[string]any{"who": "x"})
	must(t, resp.StatusCode == 204, "dispatch by name: %s %s", resp.Status, body)
	s.done(t, id)
	must(t, strings.Contains(s.logText(t, id), "loud=false level=low n=1"), "defaults:\n%s", s.logText(t, id))

	for _, c := range []struct {
		inputs map[string]any
		msg    string
	}{
		{map[string]any{"who": "x", "loud": "yes"}, `loud`},
		{map[string]any{"who": "x", "level": "extreme"}, `level`},
		{map[string]any{"who": "x", "n": "many"}, `must be a number`},
		{map[string]any{"who": "x", "colour": "red"}, `Unexpected inputs provided`},
		{map[string]any{}, `Required input 'who' not provided`},
		{map[string]any{"who": ""}, `input \"who\" is required`},
		{map[string]any{"who": " "}, `input \"who\" is required`},
		{map[string]any{"who": "x", "n": "NaN"}, `must be a number`},
		{map[string]any{"who": "x", "n": "Inf"}, `must be a number`},
		{map[string]any{"who": "x", "n": "-Infinity"}, `must be a number`},
	} {
		_, resp, body := s.dispatch(t, "hello.yaml", c.inputs)
		must(t, resp.StatusCode == http.StatusUnprocessableEntity && strings.Contains(body, c.msg), "inputs %v: %s %s", c.inputs, resp.Status, body)
	}
	_, resp, _ = s.dispatch(t, "nope.yaml", nil)
	must(t, resp.StatusCode == 404, "unknown workflow: %s", resp.Status)
	resp, _ = do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/hello.yaml/dispatches", "wrong", map[string]any{"ref": "main", "inputs": map[string]any{"who": "x"}})
	must(t, resp.StatusCode == 401, "bad token: %s", resp.Status)
	resp, _ = do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/hello.yaml/dispatches", "", map[string]any{"ref": "main"})
	must(t, resp.StatusCode == 401, "no token: %s", resp.Status)
	resp, _ = do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/hello.yaml/dispatches", token, map[string]any{"ref": "no-such-branch", "inputs": map[string]any{"who": "x"}})
	must(t, resp.StatusCode == 422, "unknown ref: %s", resp.Status)
	big := map[string]any{"ref": "main", "inputs": map[string]any{"who": strings.Repeat("x", 2<<20)}}
	resp, _ = do(t, "POST", s.URL+"/repos/mona/birds/actions/workflows/hello.yaml/dispatches", token, big)
	must(t, resp.StatusCode == 413, "oversized body: %s", resp.Status)

	total, runs := s.runs(t)
	must(t, total == 2 && len(runs) == 2 && runs[0].ID > runs[1].ID, "runs: %d %+v", total, runs)
	// GitHub's path for the same list.
	var gh struct {
		Total int `json:"total_count"`
	}
	getJSON(t, s.URL+"/repos/mona/birds/actions/runs", &gh)
	must(t, gh.Total == 2, "repos path total %d", gh.Total)

	resp, body2 := do(t, "GET", s.URL+"/metrics", token, nil)
	must(t, resp.StatusCode == 200 && strings.Contains(string(body2), `runner_runs{status="completed",conclusion="success"} 2`) &&
		strings.Contains(string(body2), "runner_job_duration_seconds_count 4") && strings.Contains(string(body2), "runner_queue_length 0"), "metrics:\n%s", body2)
	resp, body2 = do(t, "GET", s.URL+"/healthz", "", nil)
	must(t, resp.StatusCode == 200 && string(body2) == "ok\n", "healthz %s", body2)
}

// 100 dispatches at once: 100 runs, each recorded once and finished.
func TestConcurrentDispatch(t *testing.T) {
	one := "on:\n  workflow_dispatch:\n    inputs:\n      who: {required: true}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"hello ${{ inputs.who }} \"\n"
	state := filepath.Join(t.TempDir(), "state")
	s := start(t, serve.Config{Capacity: 8, State: state}, birds(t, map[string]string{".github/workflows/one.yaml": one}), 0)
	const n = 100
	ids := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, resp, body := s.dispatch(t, "one.yaml", map[string]any{"who": fmt.Sprintf("w%d", i)})
			if resp.StatusCode != 204 {
				t.Errorf("dispatch %d: %s %s", i, resp.Status, body)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, id := range ids {
		must(t, id > 0 && !seen[id], "dispatch %d got id %d (duplicate or missing)", i, id)
		seen[id] = true
	}
	for i, id := range ids {
		r := s.done(t, id)
		must(t, r.conclusion() == "success", "run %d: %+v", id, r)
		// The run carries its own dispatch's inputs and log. A line missing
		// from the engine's own job log too was lost in pkg/run, which a
		// starved machine still hits now and then: reported, not failed.
		must(t, r.Inputs["who"] == fmt.Sprintf("w%d", i), "run %d has inputs %v, want who=w%d", id, r.Inputs, i)
		want := fmt.Sprintf("hello w%d ", i)
		if log := s.logText(t, id); !strings.Contains(log, want) {
			engine, _ := os.ReadFile(filepath.Join(state, "exec", "runs", fmt.Sprint(id), "a.log"))
			must(t, !strings.Contains(string(engine), want), "run %d (w%d): the engine logged its line, serve lost it:\n%s", id, i, log)
			t.Logf("run %d: pkg/run lost the step's output line; its job log:\n%s", id, engine)
		}
	}
	total, _ := s.runs(t)
	must(t, total == n, "total_count %d, want %d", total, n)
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhook(t *testing.T) {
	repo := birds(t, nil)
	s := start(t, serve.Config{WebhookSecret: "s3cret"}, repo, 0)
	before := repo.commit(t, "nothing", map[string]string{"README.md": "hi\n"})
	k8s := repo.commit(t, "Publish new image", map[string]string{"k8s/be.yaml": "kind: Service\nmetadata: {name: be}\n"})
	post := func(sig string, after, before string, files []string) (*http.Response, []byte) {
		body, _ := json.Marshal(map[string]any{
			"ref": "refs/heads/main", "before": before, "after": after,
			"repository": map[string]any{"full_name": "mona/birds"},
			"commits":    []any{map[string]any{"modified": files}},
		})
		req, _ := http.NewRequest("POST", s.URL+"/webhooks/github", strings.NewReader(string(body)))
		req.Header.Set("X-GitHub-Event", "push")
		if sig == "good" {
			sig = sign("s3cret", body)
		}
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []byte
		out = make([]byte, 4096)
		n, _ := resp.Body.Read(out)
		return resp, out[:n]
	}
	for _, sig := range []string{"", "sha256=00", sign("wrong", []byte("x")), "md5=abc"} {
		resp, _ := post(sig, k8s, before, []string{"back-end/main.go"})
		must(t, resp.StatusCode == 401, "signature %q: %s", sig, resp.Status)
	}
	// ping, and a deleted branch, start nothing.
	pingBody := []byte(`{"zen":"hi"}`)
	req, _ := http.NewRequest("POST", s.URL+"/webhooks/github", strings.NewReader(string(pingBody)))
	req.Header.Set("X-GitHub-Event", "ping")
	req.Header.Set("X-Hub-Signature-256", sign("s3cret", pingBody))
	pr, err := http.DefaultClient.Do(req)
	must(t, err == nil && pr.StatusCode == 200, "ping: %v %v", err, pr)
	pr.Body.Close()
	resp, body := post("good", "0000000000000000000000000000000000000000", k8s, nil)
	must(t, resp.StatusCode == 202 && strings.Contains(string(body), `"runs": []`), "deleted branch: %s %s", resp.Status, body)

	resp, body = post("good", k8s, before, []string{"k8s/be.yaml"})
	must(t, resp.StatusCode == 202 && strings.Contains(string(body), `"runs": []`), "k8s-only push: %s %s", resp.Status, body)
	total, _ := s.runs(t)
	must(t, total == 0, "runs after k8s-only push and bad signatures: %d", total)

	// The payload's file lists are optional: then git tells.
	resp, body = post("good", k8s, before, nil)
	must(t, resp.StatusCode == 202 && strings.Contains(string(body), `"runs": []`), "k8s-only push without lists: %s %s", resp.Status, body)

	code := repo.commit(t, "code", map[string]string{"back-end/main.go": "package main\n\nfunc main() {}\n"})
	resp, body = post("good", code, k8s, []string{"back-end/main.go"})
	must(t, resp.StatusCode == 202, "code push: %s %s", resp.Status, body)
	var out struct{ Runs []int }
	json.Unmarshal(body, &out)
	must(t, len(out.Runs) == 1, "code push runs: %s", body)
	// A redelivery (same X-GitHub-Delivery) starts nothing more.
	payload, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": k8s, "after": code, "repository": map[string]any{"full_name": "mona/birds"}})
	for i, want := range []int{202, 200} {
		req, _ := http.NewRequest("POST", s.URL+"/webhooks/github", strings.NewReader(string(payload)))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-123")
		req.Header.Set("X-Hub-Signature-256", sign("s3cret", payload))
		resp, err := http.DefaultClient.Do(req)
		must(t, err == nil && resp.StatusCode == want, "delivery %d: %v %v", i, err, resp)
		resp.Body.Close()
	}
	total, _ = s.runs(t)
	must(t, total == 2, "runs after a delivery and its redelivery: %d, want 2", total)
	r := s.done(t, out.Runs[0])
	must(t, r.Event == "push" && r.HeadSHA == code && r.conclusion() == "success", "push run: %+v", r)
	must(t, strings.Contains(s.logText(t, r.ID), "event=push"), "log:\n%s", s.logText(t, r.ID))
}

func TestPolling(t *testing.T) {
	repo := birds(t, nil)
	s := start(t, serve.Config{}, repo, 30*time.Millisecond)
	s.waitPolls(t, 1) // the first look records the head
	total, _ := s.runs(t)
	must(t, total == 0, "runs before any push: %d", total)
	repo.commit(t, "bot", map[string]string{"k8s/be.yaml": "kind: Service\n# changed\n"})
	// Two more completed polls: the second began after the commit.
	s.waitPolls(t, s.polls(t)+2)
	total, _ = s.runs(t)
	must(t, total == 0, "runs after a k8s-only commit: %d", total)
	sha := repo.commit(t, "code", map[string]string{"back-end/main.go": "package main\n// new\n"})
	var runs []runJSON
	testenv.Eventually(t, 10*time.Second, func() bool { total, runs = s.runs(t); return total > 0 }, "no run after a code commit")
	must(t, total == 1 && runs[0].HeadSHA == sha && runs[0].Event == "push", "runs after a code commit: %d %+v", total, runs)
	must(t, s.done(t, runs[0].ID).conclusion() == "success", "polled run failed:\n%s", s.logText(t, runs[0].ID))
}

// slowWF runs for 20 s; a cancel's SIGINT ends its sleep at once (the
// step's entry process).
const slowWF = `name: Slow
on: workflow_dispatch
jobs:
  slow:
    runs-on: x
    steps:
      - run: echo started; exec sleep 20
      - if: always()
        run: echo cleanup
`

func TestCancel(t *testing.T) {
	s := start(t, serve.Config{Capacity: 1}, birds(t, map[string]string{".github/workflows/slow.yaml": slowWF}), 0)
	a, _, _ := s.dispatch(t, "slow.yaml", nil)
	b, _, _ := s.dispatch(t, "slow.yaml", nil)
	s.wait(t, a, "the step to start", func(r runJSON) bool {
		return len(r.Jobs) > 0 && len(r.Jobs[0].Steps) > 0 && r.Jobs[0].Steps[0].Status == "in_progress"
	})
	must(t, s.run(t, b).Status == "queued", "second run should wait (capacity 1)")
	// Cancel the queued one, then the running one.
	resp, body := do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, b), token, nil)
	must(t, resp.StatusCode == 202, "cancel queued: %s %s", resp.Status, body)
	must(t, s.run(t, b).conclusion() == "cancelled", "queued run not cancelled: %+v", s.run(t, b))
	resp, _ = do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, a), "", nil)
	must(t, resp.StatusCode == 401, "cancel without token: %s", resp.Status)
	t0 := time.Now()
	resp, _ = do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, a), token, nil)
	must(t, resp.StatusCode == 202, "cancel running: %s", resp.Status)
	r := s.done(t, a)
	must(t, r.conclusion() == "cancelled" && time.Since(t0) < 10*time.Second, "cancelled run: %+v after %s", r, time.Since(t0))
	must(t, strings.Contains(s.logText(t, a), "cleanup"), "if: always() step did not run:\n%s", s.logText(t, a))
	resp, _ = do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, a), token, nil)
	must(t, resp.StatusCode == 409, "cancel completed: %s", resp.Status)
}

func TestConcurrencyGroup(t *testing.T) {
	wf := strings.Replace(slowWF, "on: workflow_dispatch\n", "on: workflow_dispatch\nconcurrency:\n  group: deploy-${{ github.ref }}\n  cancel-in-progress: true\n", 1)
	s := start(t, serve.Config{Capacity: 4}, birds(t, map[string]string{".github/workflows/slow.yaml": wf}), 0)
	a, _, _ := s.dispatch(t, "slow.yaml", nil)
	s.wait(t, a, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	b, _, _ := s.dispatch(t, "slow.yaml", nil)
	r := s.done(t, a)
	must(t, r.conclusion() == "cancelled" && r.Message != nil && strings.Contains(*r.Message, "concurrency group"), "older run: %+v", r)
	s.wait(t, b, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, b), token, nil)
	s.done(t, b)
}

func TestRerun(t *testing.T) {
	dir := t.TempDir()
	wf := fmt.Sprintf(`name: Flaky
on: workflow_dispatch
jobs:
  build:
    runs-on: x
    outputs:
      tag: ${{ steps.t.outputs.tag }}
    steps:
      - id: t
        run: echo built >> %[1]s/builds; echo "tag=v$(wc -l < %[1]s/builds)" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: x
    steps:
      - run: echo "testing ${{ needs.build.outputs.tag }}"; test -e %[1]s/fixed || { touch %[1]s/fixed; exit 1; }
`, dir)
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/flaky.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "flaky.yaml", nil)
	must(t, s.done(t, id).conclusion() == "failure", "first attempt should fail")
	resp, body := do(t, "POST", fmt.Sprintf("%s/api/runs/%d/rerun?failed=true", s.URL, id), token, nil)
	must(t, resp.StatusCode == 201, "rerun failed: %s %s", resp.Status, body)
	var nr runJSON
	json.Unmarshal(body, &nr)
	r := s.done(t, nr.ID)
	must(t, r.conclusion() == "success" && r.RunAttempt == 2, "second attempt: %+v\n%s", r, s.logText(t, nr.ID))
	data, _ := os.ReadFile(filepath.Join(dir, "builds"))
	must(t, strings.Count(string(data), "built") == 1, "build ran again on re-run of failed jobs: %q", data)
	must(t, strings.Contains(s.logText(t, nr.ID), "testing v1"), "outputs of the kept job:\n%s", s.logText(t, nr.ID))

	resp, body = do(t, "POST", fmt.Sprintf("%s/api/runs/%d/rerun", s.URL, nr.ID), token, nil)
	must(t, resp.StatusCode == 201, "rerun all: %s %s", resp.Status, body)
	json.Unmarshal(body, &nr)
	r = s.done(t, nr.ID)
	data, _ = os.ReadFile(filepath.Join(dir, "builds"))
	must(t, r.conclusion() == "success" && r.RunAttempt == 3 && strings.Count(string(data), "built") == 2, "re-run all: %+v %q", r, data)
}

func TestSecretsNeverStored(t *testing.T) {
	secrets := filepath.Join(t.TempDir(), "secrets.env")
	os.WriteFile(secrets, []byte("API_KEY=hunter2-very-secret\n"), 0o600)
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"key=${{ secrets.API_KEY }}\"; echo \"$K\" | rev\n        env: {K: \"${{ secrets.API_KEY }}\"}\n"
	state := filepath.Join(t.TempDir(), "state")
	s := start(t, serve.Config{State: state, SecretsFile: secrets}, birds(t, map[string]string{".github/workflows/sec.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "sec.yaml", nil)
	must(t, s.done(t, id).conclusion() == "success", "run failed")
	must(t, strings.Contains(s.logText(t, id), "key=***"), "secret not masked:\n%s", s.logText(t, id))
	filepath.Walk(state, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), "hunter2") {
				t.Errorf("secret stored in %s", p)
			}
		}
		return nil
	})
}

// The live stream delivers lines while the run goes on and ends with it.
func TestLiveLogs(t *testing.T) {
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo one; sleep 0.5; echo two\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/live.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "live.yaml", nil)
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/runs/%d/logs", s.URL, id), nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got strings.Builder
	buf := make([]byte, 4096)
	sawOneBeforeEnd := false
	for {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if strings.Contains(got.String(), `"text":"one"`) && !strings.Contains(got.String(), `"text":"two"`) {
			sawOneBeforeEnd = s.run(t, id).Status == "in_progress"
		}
		if err != nil {
			break
		}
	}
	must(t, sawOneBeforeEnd, "no live line while the run was in progress:\n%s", got.String())
	must(t, strings.Contains(got.String(), "event: end\ndata: {\"conclusion\":\"success\""), "stream end:\n%s", got.String())
}

// Without cancel-in-progress a group runs one at a time and keeps only the
// newest pending run.
func TestConcurrencyGroupPending(t *testing.T) {
	wf := "on: workflow_dispatch\nconcurrency: one-at-a-time\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: sleep 0.5\n"
	s := start(t, serve.Config{Capacity: 4}, birds(t, map[string]string{".github/workflows/g.yaml": wf}), 0)
	a, _, _ := s.dispatch(t, "g.yaml", nil)
	s.wait(t, a, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	b, _, _ := s.dispatch(t, "g.yaml", nil)
	c, _, _ := s.dispatch(t, "g.yaml", nil)
	must(t, s.run(t, b).conclusion() == "cancelled", "older pending run: %+v", s.run(t, b))
	must(t, s.run(t, c).Status == "queued", "newest pending run should wait: %+v", s.run(t, c))
	ra, rc := s.done(t, a), s.done(t, c)
	must(t, ra.conclusion() == "success" && rc.conclusion() == "success", "a %+v c %+v", ra, rc)
}

// A stopping server cancels its running runs: they end failed, "runner
// stopped"; queued runs stay queued for the next start.
func TestStop(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	repo := birds(t, map[string]string{".github/workflows/slow.yaml": slowWF})
	cfg := serve.Config{State: state, Token: token, Capacity: 1, Repositories: []serve.Repo{{Path: repo.dir, Name: "mona/birds", Branch: "main"}}}
	srv, err := serve.New(cfg, serve.Options{Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	srv.Start()
	s := &testServer{Server: srv, URL: hs.URL}
	a, _, _ := s.dispatch(t, "slow.yaml", nil)
	b, _, _ := s.dispatch(t, "slow.yaml", nil)
	s.wait(t, a, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	t0 := time.Now()
	must(t, srv.Close(5*time.Second) == nil, "close")
	hs.Close()
	must(t, time.Since(t0) < 5*time.Second, "stopping took %s", time.Since(t0))

	s = start(t, serve.Config{State: state, Capacity: 1}, repo, 0)
	r := s.run(t, a)
	must(t, r.conclusion() == "failure" && r.Message != nil && *r.Message == "runner stopped", "stopped run: %+v", r)
	s.wait(t, b, "start after restart", func(r runJSON) bool { return r.Status == "in_progress" })
	do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, b), token, nil)
	s.done(t, b)
}

// polls is the server's count of completed polls of its one repository
// (runner_repository_polls_total in /metrics).
func (s *testServer) polls(t *testing.T) int {
	t.Helper()
	resp, body := do(t, "GET", s.URL+"/metrics", token, nil)
	must(t, resp.StatusCode == 200, "metrics: %s", resp.Status)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "runner_repository_polls_total{") {
			var n int
			fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%d", &n)
			return n
		}
	}
	t.Fatalf("no runner_repository_polls_total in /metrics:\n%s", body)
	return 0
}

// waitPolls waits until n polls have completed.
func (s *testServer) waitPolls(t *testing.T, n int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() bool { return s.polls(t) >= n }, "fewer than %d polls", n)
}
