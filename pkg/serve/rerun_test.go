package serve_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// Attempts are numbered per workflow run, as on GitHub: re-running run 1
// twice gives attempts 2 and 3, and a re-run of attempt 2 gives 4.
// Re-running the failed jobs of a run that succeeded is refused with 403.
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
	second, a2 := rerun(id)
	_, a3 := rerun(id)
	_, a4 := rerun(second)
	must(t, a2 == 2 && a3 == 3 && a4 == 4, "attempts %d, %d, %d; want 2, 3, 4", a2, a3, a4)

	for _, path := range []string{"/api/runs/%d/rerun?failed=true", "/repos/mona/birds/actions/runs/%d/rerun-failed-jobs"} {
		resp, body := do(t, "POST", s.URL+fmt.Sprintf(path, id), token, nil)
		must(t, resp.StatusCode == 403 && strings.Contains(string(body), "cannot be retried"), "%s on a successful run: %s %s", path, resp.Status, body)
	}
	total, _ := s.runs(t)
	must(t, total == 4, "runs: %d, want 4", total)
}
