package serve_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// Attempts are numbered per workflow run and keep its id, as on GitHub:
// re-running run 1 three times gives attempts 2, 3 and 4 of run 1, each
// still readable; the run is listed once. Re-running the failed jobs of a
// run that succeeded is refused with 403.
func TestRerunAttempts(t *testing.T) {
	ok := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo fine\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/ok.yaml": ok}), 0)
	id, _, _ := s.dispatch(t, "ok.yaml", nil)
	must(t, s.done(t, id).conclusion() == "success", "first attempt failed")
	rerun := func(of int) (int, int) {
		t.Helper()
		resp, body := do(t, "POST", fmt.Sprintf("%s/api/runs/%d/rerun", s.URL, of), token, nil)
		must(t, resp.StatusCode == 201, "rerun %d: %s %s", of, resp.Status, body)
		var nr runJSON
		json.Unmarshal(body, &nr)
		s.done(t, nr.ID)
		return nr.ID, nr.RunAttempt
	}
	id2, a2 := rerun(id)
	id3, a3 := rerun(id)
	id4, a4 := rerun(id)
	must(t, a2 == 2 && a3 == 3 && a4 == 4, "attempts %d, %d, %d; want 2, 3, 4", a2, a3, a4)
	must(t, id2 == id && id3 == id && id4 == id, "re-runs of run %d got run ids %d, %d, %d", id, id2, id3, id4)
	for n := 1; n <= 4; n++ {
		var a struct {
			ID       int     `json:"id"`
			Attempt  int     `json:"run_attempt"`
			Status   string  `json:"status"`
			Previous *string `json:"previous_attempt_url"`
		}
		getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/%d", s.URL, id, n), &a)
		must(t, a.ID == id && a.Attempt == n && a.Status == "completed" && (a.Previous == nil) == (n == 1) &&
			(n == 1 || strings.HasSuffix(*a.Previous, fmt.Sprintf("/repos/mona/birds/actions/runs/%d/attempts/%d", id, n-1))), "attempt %d: %+v", n, a)
	}
	resp, body := do(t, "GET", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/5", s.URL, id), token, nil)
	must(t, resp.StatusCode == 404, "attempt 5: %s %s", resp.Status, body)

	for _, path := range []string{"/api/runs/%d/rerun?failed=true", "/repos/mona/birds/actions/runs/%d/rerun-failed-jobs"} {
		resp, body := do(t, "POST", s.URL+fmt.Sprintf(path, id), token, nil)
		must(t, resp.StatusCode == 403 && strings.Contains(string(body), "cannot be retried"), "%s on a successful run: %s %s", path, resp.Status, body)
	}
	total, runs := s.runs(t)
	must(t, total == 1 && runs[0].ID == id && runs[0].RunAttempt == 4, "runs: %d %+v, want run %d at attempt 4 alone", total, runs, id)
}

// Inside a re-run's steps github.run_id / GITHUB_RUN_ID is the workflow
// run's id and github.run_attempt / GITHUB_RUN_ATTEMPT the attempt, as on
// GitHub (they said the attempt's internal record number and 1).
func TestRerunStepsSeeRunIDAndAttempt(t *testing.T) {
	wf := "on: workflow_dispatch\njobs:\n  a:\n    runs-on: x\n    steps:\n" +
		"      - run: echo \"seen=${{ github.run_id }}/${{ github.run_attempt }}/$GITHUB_RUN_ID/$GITHUB_RUN_ATTEMPT\"\n"
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/w.yaml": wf}), 0)
	// Another run first, so a run's record number and its id differ.
	other, _, _ := s.dispatch(t, "w.yaml", nil)
	s.done(t, other)
	id, _, _ := s.dispatch(t, "w.yaml", nil)
	s.done(t, id)
	for n := 1; n <= 3; n++ {
		if n > 1 {
			resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun", s.URL, id), token, nil)
			must(t, resp.StatusCode == 201, "rerun: %s %s", resp.Status, body)
			s.wait(t, id, fmt.Sprintf("attempt %d", n), func(r runJSON) bool { return r.RunAttempt == n && r.Status == "completed" })
		}
		want := fmt.Sprintf("seen=%d/%d/%d/%d", id, n, id, n)
		log := s.logText(t, id)
		must(t, strings.Contains(log, want), "attempt %d: want %s in\n%s", n, want, log)
	}
}

// Re-running the failed jobs of a run keeps each matrix leg of the jobs
// that succeeded as a job of its own in the new attempt, with its name and
// result, as GitHub lists them (they were one job named after the job id).
func TestRerunFailedKeepsMatrixLegs(t *testing.T) {
	wf := `on: workflow_dispatch
jobs:
  build:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo leg ${{ matrix.n }}
  test:
    needs: build
    runs-on: x
    steps:
      - run: exit 1
`
	s := start(t, serve.Config{}, birds(t, map[string]string{".github/workflows/m.yaml": wf}), 0)
	id, _, _ := s.dispatch(t, "m.yaml", nil)
	must(t, s.done(t, id).conclusion() == "failure", "first attempt did not fail")
	resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun-failed-jobs", s.URL, id), token, nil)
	must(t, resp.StatusCode == 201, "rerun failed: %s %s", resp.Status, body)
	s.done(t, id)
	var jobs struct {
		Jobs []struct {
			Name       string `json:"name"`
			Conclusion string `json:"conclusion"`
		} `json:"jobs"`
	}
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/attempts/2/jobs", s.URL, id), &jobs)
	got := map[string]string{}
	for _, j := range jobs.Jobs {
		got[j.Name] = j.Conclusion
	}
	must(t, len(jobs.Jobs) == 3 && got["build (1)"] == "success" && got["build (2)"] == "success" && got["test"] == "failure",
		"attempt 2's jobs: %+v, want build (1), build (2) kept and test run again", jobs.Jobs)
}
