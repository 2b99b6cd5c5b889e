package serve_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/testenv"
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

// kill -9 of the service during a run whose step started a process that
// left its session and environment (env -i drops RUNNER_TEMP, by which a
// restart finds a dead server's steps): the restart still ends it, as it
// is in the job's cgroup.
func TestRestartEndsEscapedProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root: job cgroups")
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "escaped.pid")
	wf := fmt.Sprintf("on: workflow_dispatch\njobs:\n  long:\n    runs-on: x\n    steps:\n      - run: |\n          env -i /usr/bin/setsid -f /bin/sh -c 'echo $$ > %s; exec sleep 300' >/dev/null 2>&1\n          sleep 30\n", pidFile)
	repo := birds(t, map[string]string{".github/workflows/long.yaml": wf})
	config := filepath.Join(dir, "runner.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("listen: %s\nstate: %s\nrepositories:\n  - path: %s\n    name: mona/birds\n    branch: main\n",
		freeAddr(t), filepath.Join(dir, "state"), repo.dir)), 0o644)
	pid := 0
	t.Cleanup(func() {
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	p := startProcess(t, config)
	s := &testServer{URL: p.url}
	id, resp, body := s.dispatch(t, "long.yaml", nil)
	must(t, resp.StatusCode == 204, "dispatch: %s %s", resp.Status, body)
	s.wait(t, id, "the escaped process to start", func(runJSON) bool {
		data, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return pid > 0
	})
	p.cmd.Process.Kill() // SIGKILL: no cleanup at all
	p.cmd.Wait()

	startProcess(t, config)
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		fields := strings.Fields(string(stat))
		if err != nil || (len(fields) > 2 && fields[2] == "Z") {
			break
		}
		must(t, time.Now().Before(deadline), "the escaped process (pid %d) is still running after the restart: %s", pid, stat)
		time.Sleep(20 * time.Millisecond)
	}
}
