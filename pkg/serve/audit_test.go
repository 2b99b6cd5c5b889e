package serve_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
)

// A re-run keeps its run's created_at, as on GitHub (run_started_at is
// what resets on a re-run), so the created filter keeps finding a run
// re-run later: `created=<=T` with T between the run's creation and its
// re-run lists it, `created=>T` does not. A re-run's created_at was the
// attempt's, which moved an old run into today's list and out of the
// range it was created in.
func TestRerunKeepsCreatedAt(t *testing.T) {
	s := start(t, serve.Config{}, birds(t, nil), 0)
	id, _, _ := s.dispatch(t, "hello.yaml", map[string]any{"who": "mona"})
	s.done(t, id)
	type times struct {
		ID         int    `json:"id"`
		Attempt    int    `json:"run_attempt"`
		Status     string `json:"status"`
		Created    string `json:"created_at"`
		RunStarted string `json:"run_started_at"`
	}
	var first times
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), &first)
	time.Sleep(1100 * time.Millisecond) // created_at has whole seconds
	between := time.Now().UTC().Format(time.RFC3339)
	time.Sleep(1100 * time.Millisecond)
	resp, body := do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/rerun", s.URL, id), token, nil)
	must(t, resp.StatusCode == 201, "rerun: %s %s", resp.Status, body)
	s.wait(t, id, "attempt 2", func(r runJSON) bool { return r.RunAttempt == 2 && r.Status == "completed" })
	var second times
	getJSON(t, fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d", s.URL, id), &second)
	must(t, second.Attempt == 2 && second.Created == first.Created, "attempt 2's created_at %s, want the run's %s", second.Created, first.Created)
	must(t, second.RunStarted > between, "attempt 2's run_started_at %s, want after %s (it resets on a re-run)", second.RunStarted, between)

	for q, want := range map[string]int{"created=<=" + between: 1, "created=>" + between: 0} {
		l := listRuns(t, s.URL+"/repos/mona/birds/actions/runs?"+q, token, nil)
		must(t, l.resp.StatusCode == 200 && l.Total == want && len(l.Runs) == want, "runs?%s: %s total %d, want %d\n%s", q, l.resp.Status, l.Total, want, l.body)
	}
}
