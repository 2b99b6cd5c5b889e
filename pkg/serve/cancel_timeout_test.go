package serve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/serve"
)

// hangingCleanupWF has an if: always() step that hangs well past the
// tests' wait for a run to complete (30 s). Its first step ends on the
// cancel's SIGINT (sleep is its entry process), leaving the cancel
// timeout to the always() step.
const hangingCleanupWF = `name: Hanging cleanup
on: workflow_dispatch
jobs:
  slow:
    runs-on: x
    steps:
      - run: echo started; exec sleep 60
      - if: always()
        run: echo cleanup-begins; sleep 600; echo cleanup-ended
`

// startHanging dispatches hangingCleanupWF and waits for its first step.
func startHanging(t *testing.T, cfg serve.Config) (*testServer, int) {
	t.Helper()
	s := start(t, cfg, birds(t, map[string]string{".github/workflows/hang.yaml": hangingCleanupWF}), 0)
	id, _, _ := s.dispatch(t, "hang.yaml", nil)
	s.wait(t, id, "the step to start", func(r runJSON) bool {
		return len(r.Jobs) > 0 && len(r.Jobs[0].Steps) > 0 && r.Jobs[0].Steps[0].Status == "in_progress"
	})
	return s, id
}

// After a cancel, an if: always() step runs, but only for the cancel
// timeout: then it is ended and the run completes cancelled, freeing its
// job slot, instead of holding it for the job's timeout.
func TestCancelTimeoutEndsAlwaysStep(t *testing.T) {
	s, id := startHanging(t, serve.Config{Capacity: 1, CancelTimeout: 2 * time.Second})
	resp, body := do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, id), token, nil)
	must(t, resp.StatusCode == 202, "cancel: %s %s", resp.Status, body)
	r := s.done(t, id)
	log := s.logText(t, id)
	must(t, r.conclusion() == "cancelled", "run: %+v\n%s", r, log)
	must(t, strings.Contains(log, "| cleanup-begins") && !strings.Contains(log, "| cleanup-ended"), "the always() step did not run, or was not ended:\n%s", log)
	// The slot is free again: a new run starts.
	next, _, _ := s.dispatch(t, "hang.yaml", nil)
	s.wait(t, next, "start", func(r runJSON) bool { return r.Status == "in_progress" })
	do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/force-cancel", s.URL, next), token, nil)
	s.done(t, next)
}

// force-cancel ends the steps that run after a cancellation at once,
// whatever the cancel timeout (the default 5 minutes here).
func TestForceCancelEndsAlwaysStep(t *testing.T) {
	s, id := startHanging(t, serve.Config{Capacity: 1})
	must(t, s.Config().CancelTimeout.String() == "5m0s", "default cancel-timeout: %s", s.Config().CancelTimeout)
	resp, body := do(t, "POST", fmt.Sprintf("%s/api/runs/%d/cancel", s.URL, id), token, nil)
	must(t, resp.StatusCode == 202, "cancel: %s %s", resp.Status, body)
	s.wait(t, id, "the always() step", func(r runJSON) bool {
		for _, st := range r.Jobs[0].Steps {
			if strings.Contains(st.Name, "cleanup-begins") && st.Status == "in_progress" {
				return true
			}
		}
		return false
	})
	resp, body = do(t, "POST", fmt.Sprintf("%s/repos/mona/birds/actions/runs/%d/force-cancel", s.URL, id), token, nil)
	must(t, resp.StatusCode == 202, "force-cancel: %s %s", resp.Status, body)
	r := s.done(t, id)
	must(t, r.conclusion() == "cancelled", "run: %+v\n%s", r, s.logText(t, id))
}

// cancel-timeout reads as a duration; a negative one is refused, naming
// the key.
func TestCancelTimeoutConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "serve.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := serve.LoadConfig(write("cancel-timeout: 30s\n"))
	must(t, err == nil && cfg.CancelTimeout == 30*time.Second, "cancel-timeout: 30s: %+v, %v", cfg, err)
	_, err = serve.LoadConfig(write("cancel-timeout: -1s\n"))
	must(t, err != nil && strings.Contains(err.Error(), "cancel-timeout: -1s is negative"), "negative cancel-timeout: %v", err)
}
