package serve_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The documented way to start the service, RUNNER_TOKEN=… RUNNER_WEBHOOK_SECRET=…
// runner serve: a step's environment holds neither value, nor the user's
// other variables (a service's steps start from a minimal environment);
// and a step that digs them out of runner's own process still finds them
// masked in the log.
func TestServeStepsGetNoCredentials(t *testing.T) {
	const hook = "whs-5e6f7a8b9c0d"
	repo := birds(t, map[string]string{".github/workflows/env.yaml": `on: workflow_dispatch
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          env | sort
          echo "runner's own: $(tr '\0' ' ' < /proc/$PPID/environ)"
`})
	url, _ := serveCmd(t, []string{"RUNNER_TOKEN=" + token, "RUNNER_WEBHOOK_SECRET=" + hook, "SERVICE_ONLY_VAR=not-for-steps"},
		"--state", filepath.Join(t.TempDir(), "state"), "--repo", repo.dir)
	s := &testServer{URL: url}
	resp, body := do(t, "POST", url+"/repos/local/repo/actions/workflows/env.yaml/dispatches", token, map[string]any{})
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	var id int
	fmt.Sscanf(resp.Header.Get("Location"), "/api/runs/%d", &id)
	must(t, s.done(t, id).conclusion() == "success", "run:\n%s", s.logText(t, id))
	_, data := do(t, "GET", fmt.Sprintf("%s/api/runs/%d/logs", url, id), token, nil)
	log := string(data)
	for _, leak := range []string{token, hook, "RUNNER_TOKEN=", "RUNNER_WEBHOOK_SECRET=", "SERVICE_ONLY_VAR"} {
		must(t, !strings.Contains(strings.Split(log, "runner's own:")[0], leak), "a step's environment has %q:\n%s", leak, log)
	}
	for _, leak := range []string{token, hook} {
		must(t, !strings.Contains(log, leak), "%q not masked:\n%s", leak, log)
	}
	must(t, strings.Contains(log, "PATH=") && strings.Contains(log, "RUNNER_TOKEN=*** "), "log:\n%s", log)
}
