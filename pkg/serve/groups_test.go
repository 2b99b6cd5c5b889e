package serve_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/serve"
)

// Concurrency groups are per repository, as on GitHub: the same group name
// in another repository neither waits for nor cancels this one's run.
func TestConcurrencyGroupPerRepository(t *testing.T) {
	for _, cancel := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancel-in-progress=%v", cancel), func(t *testing.T) {
			wf := strings.Replace(slowWF, "on: workflow_dispatch\n", fmt.Sprintf("on: workflow_dispatch\nconcurrency:\n  group: deploy\n  cancel-in-progress: %v\n", cancel), 1)
			files := map[string]string{".github/workflows/slow.yaml": wf}
			fish := birds(t, files)
			s := start(t, serve.Config{Capacity: 4, Repositories: []serve.Repo{{Path: fish.dir, Name: "mona/fish", Branch: "main"}}}, birds(t, files), 0)
			a, _, _ := s.dispatch(t, "slow.yaml", nil)
			s.wait(t, a, "start", func(r runJSON) bool { return r.Status == "in_progress" })
			resp, body := do(t, "POST", s.URL+"/repos/mona/fish/actions/workflows/slow.yaml/dispatches", token, map[string]any{"ref": "main"})
			must(t, resp.StatusCode == 204, "dispatch in mona/fish: %s %s", resp.Status, body)
			var b int
			fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &b)
			s.wait(t, b, "start beside the other repository's run of the group", func(r runJSON) bool { return r.Status == "in_progress" })
			ra := s.run(t, a)
			must(t, ra.Status == "in_progress", "mona/birds' run was touched by mona/fish's group: %+v", ra)
			for _, id := range []int{a, b} {
				do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, id), token, nil)
				s.done(t, id)
			}
		})
	}
}

// A group that names the run (`${{ github.run_id }}`, GitHub's idiom for
// "cancel nothing but keep the key") gives each run its own group: with
// cancel-in-progress, a second run must not cancel the first. The server
// evaluated groups with a github context of its own that had no run_id, so
// every run fell into "Overlap-" and each new run cancelled the last.
func TestConcurrencyGroupNamesTheRun(t *testing.T) {
	wf := `name: Overlap
on: workflow_dispatch
concurrency:
  group: ${{ github.workflow }}-${{ github.run_id }}
  cancel-in-progress: true
jobs:
  work:
    runs-on: x
    steps:
      - run: echo started; sleep 3; echo finished
`
	s := start(t, serve.Config{Capacity: 4}, birds(t, map[string]string{".github/workflows/overlap.yaml": wf}), 0)
	a, _, _ := s.dispatch(t, "overlap.yaml", nil)
	s.wait(t, a, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	b, _, _ := s.dispatch(t, "overlap.yaml", nil)
	for _, id := range []int{a, b} {
		r := s.done(t, id)
		must(t, r.Conclusion != nil && *r.Conclusion == "success", "run %d: %+v, want success (each run has its own group)", id, r)
	}
}
