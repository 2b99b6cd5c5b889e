package serve_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// The run page's own calls are reads like the others: the token is needed
// (public-read opens them); the job summary comes back as HTML without the
// raw HTML or javascript: links a step wrote.
func TestWebCallsNeedTokenAndSanitize(t *testing.T) {
	wf := "name: Sum\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n" +
		"          echo '# Done' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"          echo '<script>alert(1)</script> <b onclick=\"x()\">bold</b>' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"          echo '[x](javascript:alert(2)) [ok](https://example.com/)' >> \"$GITHUB_STEP_SUMMARY\"\n"
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public-read=%v", public), func(t *testing.T) {
			s := start(t, serve.Config{PublicRead: public}, birds(t, map[string]string{".github/workflows/sum.yaml": wf}), 0)
			id, _, _ := s.dispatch(t, "sum.yaml", nil)
			s.done(t, id)
			for _, p := range []string{"", "/attempts/1", "/attempts/1/logs", "/summary", "/attempts/1/summary"} {
				url := fmt.Sprintf("%s/api/runs/%d%s", s.URL, id, p)
				resp, _ := do(t, "GET", url, "", nil)
				want := 401
				if public {
					want = 200
				}
				must(t, resp.StatusCode == want, "GET %s without the token: %s, want %d", p, resp.Status, want)
				resp, _ = do(t, "GET", url, token, nil)
				must(t, resp.StatusCode == 200, "GET %s with the token: %s", p, resp.Status)
			}
			// What the viewer may do: nothing without the token.
			var r struct {
				Can map[string]bool `json:"can"`
			}
			getJSON(t, fmt.Sprintf("%s/api/runs/%d", s.URL, id), &r)
			must(t, r.Can["rerun"] && !r.Can["rerun_failed"] && !r.Can["cancel"], "can with the token on a successful run: %v", r.Can)
			if public {
				_, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d", s.URL, id), "", nil)
				must(t, strings.Contains(string(body), `"rerun": false`), "can without the token: %s", body)
			}
		})
	}
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/sum.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "sum.yaml", nil)
	s.done(t, id)
	resp, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d/summary", s.URL, id), token, nil)
	html := string(body)
	must(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && strings.Contains(html, "<h1>Done</h1>") &&
		strings.Contains(html, `<a href="https://example.com/">ok</a>`), "summary: %s %s", resp.Header.Get("Content-Type"), html)
	for _, bad := range []string{"<script", "onclick", "javascript:", "<b"} {
		must(t, !strings.Contains(html, bad), "summary keeps %q:\n%s", bad, html)
	}
}

// One step's raw HTML that never ends (an unclosed <div>, <img> before no
// blank line, <script> with no </script>) is left out without taking the
// rest of the summary with it: the Markdown of the steps and jobs written
// after it is rendered (CommonMark's HTML blocks run to a blank line, or
// for <script> to the end of the document).
func TestSummaryRawHTMLKeepsLaterParts(t *testing.T) {
	wf := "name: Sum\non: workflow_dispatch\njobs:\n" +
		"  a:\n    runs-on: x\n    steps:\n      - run: |\n" +
		"          echo '# A done' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"          echo '<img src=x onerror=\"window.pwned=1\">' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"      - run: |\n" +
		"          echo '## A second step' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"          echo '<script>window.pwned=2' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: |\n" +
		"          echo '# B done' >> \"$GITHUB_STEP_SUMMARY\"\n" +
		"          echo '[ok](https://example.com/)' >> \"$GITHUB_STEP_SUMMARY\"\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/sum.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "sum.yaml", nil)
	s.done(t, id)
	_, body := do(t, "GET", fmt.Sprintf("%s/api/runs/%d/summary", s.URL, id), token, nil)
	html := string(body)
	for _, want := range []string{"<h1>A done</h1>", "<h2>A second step</h2>", "<h1>B done</h1>", `<a href="https://example.com/">ok</a>`} {
		must(t, strings.Contains(html, want), "summary lacks %s:\n%s", want, html)
	}
	for _, bad := range []string{"<script", "onerror", "<img"} {
		must(t, !strings.Contains(html, bad), "summary keeps %q:\n%s", bad, html)
	}
}

// A job's check-run annotations keep those whose message has more than
// one line (%0A in the workflow command), with their file, line and
// column, as GitHub lists them.
func TestAnnotationsMultiLine(t *testing.T) {
	wf := "name: Ann\non: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n" +
		"          echo '::warning file=a.go,line=3,col=2::first%0Asecond'\n" +
		"          echo '::error::one%0Atwo'\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ann.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "ann.yaml", nil)
	s.done(t, id)
	var jobs struct {
		Jobs []struct {
			ID int64 `json:"id"`
		} `json:"jobs"`
	}
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/jobs", s.URL, id), &jobs)
	must(t, len(jobs.Jobs) == 1, "jobs: %+v", jobs)
	var anns []struct {
		Path    string `json:"path"`
		Line    int    `json:"start_line"`
		Col     *int   `json:"start_column"`
		Level   string `json:"annotation_level"`
		Message string `json:"message"`
	}
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/check-runs/%d/annotations", s.URL, jobs.Jobs[0].ID), &anns)
	must(t, len(anns) == 2, "annotations %+v, want the warning and the error", anns)
	w, e := anns[0], anns[1]
	must(t, w.Level == "warning" && w.Path == "a.go" && w.Line == 3 && w.Col != nil && *w.Col == 2 && w.Message == "first\nsecond",
		"warning %+v", w)
	must(t, e.Level == "failure" && e.Path == ".github" && e.Line == 1 && e.Message == "one\ntwo", "error %+v", e)
}

// With public-read, a request that brings a wrong token is refused as on
// GitHub (401 Bad credentials), not read as an anonymous one: the web UI's
// sign-in, which checks the token with a read, then says so.
func TestPublicReadRefusesWrongToken(t *testing.T) {
	s := start(t, serve.Config{PublicRead: true}, birds(t, map[string]string{".github/workflows/ui.yaml": uiWF}), 0)
	for _, p := range []string{"/api/repos", "/api/runs", "/repos/mona/birds/actions/runs", "/api/v3/repos/mona/birds/actions/workflows"} {
		resp, _ := do(t, "GET", s.URL+p, "", nil)
		must(t, resp.StatusCode == 200, "GET %s without a token: %s, want 200 (public-read)", p, resp.Status)
		resp, body := do(t, "GET", s.URL+p, "wrong-token", nil)
		must(t, resp.StatusCode == 401 && strings.Contains(string(body), "Bad credentials"), "GET %s with a wrong token: %s %s, want 401", p, resp.Status, body)
		resp, _ = do(t, "GET", s.URL+p, token, nil)
		must(t, resp.StatusCode == 200, "GET %s with the token: %s", p, resp.Status)
	}
}
