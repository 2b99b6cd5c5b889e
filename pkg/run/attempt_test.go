package run_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/birdflock/runner/pkg/run"
)

// An attempt of a re-run keeps its own record (the run directory is keyed
// by Trigger.ID) while its steps see the workflow run's id and attempt, as
// on GitHub: github.run_id / GITHUB_RUN_ID is RunID, github.run_attempt /
// GITHUB_RUN_ATTEMPT is Attempt. Before, both said the record number and 1.
func TestRunIDAndAttempt(t *testing.T) {
	src := `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "ctx=${{ github.run_id }}/${{ github.run_number }}/${{ github.run_attempt }} env=$GITHUB_RUN_ID/$GITHUB_RUN_NUMBER/$GITHUB_RUN_ATTEMPT"
`
	state := t.TempDir()
	res, out := runWF(t, context.Background(), src, run.Trigger{ID: 9, RunID: 4, Attempt: 3}, run.Options{StateDir: state})
	if res.Conclusion != "success" || res.ID != 9 || res.Dir != filepath.Join(state, "runs", "9") {
		t.Fatalf("record: id %d dir %s conclusion %s; want 9 under %s", res.ID, res.Dir, res.Conclusion, state)
	}
	if !strings.Contains(out, "ctx=4/4/3 env=4/4/3") {
		t.Errorf("steps saw:\n%s\nwant ctx=4/4/3 env=4/4/3", out)
	}
	// Defaults: the record number, attempt 1.
	_, out = runWF(t, context.Background(), src, run.Trigger{ID: 5}, run.Options{})
	if !strings.Contains(out, "ctx=5/5/1 env=5/5/1") {
		t.Errorf("steps saw:\n%s\nwant ctx=5/5/1 env=5/5/1", out)
	}
}
