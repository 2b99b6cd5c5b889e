package serve_test

import (
	"fmt"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// GET /api/runs?status= takes conclusions as well as statuses, as GitHub's.
func TestRunsStatusFilter(t *testing.T) {
	ok := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo fine\n"
	bad := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: exit 1\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ok.yaml": ok, ".github/workflows/bad.yaml": bad}), 0)
	for _, wf := range []string{"ok.yaml", "ok.yaml", "bad.yaml"} {
		id, _, _ := s.dispatch(t, wf, nil)
		s.done(t, id)
	}
	for _, c := range []struct {
		status string
		want   int
	}{{"success", 2}, {"failure", 1}, {"completed", 3}, {"cancelled", 0}, {"queued", 0}, {"in_progress", 0}, {"", 3}} {
		for _, prefix := range []string{"/api", "/repos/mona/birds/actions"} {
			var list struct {
				Total int       `json:"total_count"`
				Runs  []runJSON `json:"workflow_runs"`
			}
			getJSON(t, fmt.Sprintf("%s%s/runs?status=%s", s.URL, prefix, c.status), &list)
			must(t, list.Total == c.want && len(list.Runs) == c.want, "%s/runs?status=%s: total_count %d (%d listed), want %d", prefix, c.status, list.Total, len(list.Runs), c.want)
		}
	}
	resp, body := do(t, "GET", s.URL+"/api/runs?status=green", token, nil)
	must(t, resp.StatusCode == 422, "unknown status: %s %s", resp.Status, body)
}

// Absolute URLs in GitHub's shapes start with external-url when it is set,
// whatever Host the request came with.
func TestRunURLsUseExternalURL(t *testing.T) {
	ok := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo fine\n"
	s := start(t, serve.Config{ExternalURL: "https://ci.example.org/"}, birds(t, map[string]string{".github/workflows/ok.yaml": ok}), 0)
	id, _, _ := s.dispatch(t, "ok.yaml", nil)
	s.done(t, id)
	var r struct {
		URL     string `json:"url"`
		HTMLURL string `json:"html_url"`
		JobsURL string `json:"jobs_url"`
		LogsURL string `json:"logs_url"`
	}
	var raw map[string]any
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), &r)
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), &raw)
	want := fmt.Sprintf("https://ci.example.org/repos/mona/birds/actions/runs/%d", id)
	must(t, r.URL == want && r.JobsURL == want+"/jobs" && r.LogsURL == want+"/logs" && r.HTMLURL == fmt.Sprintf("https://ci.example.org/runs/%d", id),
		"urls: %+v, want them under %s", r, want)
	must(t, raw["repository"].(map[string]any)["url"] == "https://ci.example.org/repos/mona/birds", "repository url: %v", raw["repository"])
}
