package serve_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"


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
