package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildRunner builds the runner binary once per test binary run.
func buildRunner(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "runner")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeFile writes src to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestExecExitCodes(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	write := func(name, src string) string { return writeFile(t, dir, name, src) }
	ok := write("ok.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo fine}]\n")
	fail := write("fail.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: exit 4}]\n")
	bad := write("bad.yaml", "on: push\njobs:\n  a:\n    runs-on: x\n    needs: zz\n    steps: [{run: echo}]\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"exec", ok}, 0, "fine"},
		{[]string{"exec", fail}, 1, "exit code 4"},
		{[]string{"exec", bad}, 2, "bad.yaml:5:12: job \"a\" needs unknown job \"zz\""},
		{[]string{"exec", "no-such-workflow"}, 2, "not found"},
		{[]string{"exec", ok, "--input", "x=1"}, 2, "no workflow_dispatch trigger"},
		{[]string{"plan", bad}, 2, "needs unknown job"},
	} {
		args := c.args
		if args[0] == "exec" {
			args = append(args, "--state", filepath.Join(dir, "state"))
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if got := exitCode(err); got != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("runner %v: exit %d, want %d with %q\n%s", c.args, got, c.code, c.want, out)
		}
	}
}

// Ctrl-C: steps get SIGTERM then SIGKILL, always() steps still run, the
// exit code is 130 and no child process survives.
func TestExecInterrupt(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "w.yaml")
	os.WriteFile(wf, []byte(`on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          (trap '' TERM INT; sleep 300) &
          echo $! > bg.pid
          sleep 300 &
          echo $! > fg.pid
          wait
      - if: always()
        run: echo cleanup-step-ran
  b:
    runs-on: x
    steps:
      - run: sleep 300
`), 0o644)
	cmd := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"), "--keep-workspaces")
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "state", "runs", "1", "jobs", "a", "workspace")
	var pids []int
	for i := 0; i < 500 && len(pids) < 2; i++ {
		time.Sleep(10 * time.Millisecond)
		pids = pids[:0]
		for _, f := range []string{"bg.pid", "fg.pid"} {
			if data, err := os.ReadFile(filepath.Join(ws, f)); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	if len(pids) < 2 {
		cmd.Process.Kill()
		t.Fatalf("step did not start\n%s", out.String())
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if code := exitCode(err); code != 130 {
		t.Errorf("exit code %d, want 130\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "cleanup-step-ran") {
		t.Errorf("always() step did not run\n%s", out.String())
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if !strings.Contains(string(st), ") Z ") {
				t.Errorf("process %d survived the interrupt", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// After Ctrl-C, the steps that still run (if: always(), posts) get the
// cancel timeout, as GitHub gives a cancelled job (5 minutes by default,
// --cancel-timeout): then they are forced to end, the exit code is 130 and
// no process survives; runner did not end until the job's timeout (6 hours
// by default) or a second Ctrl-C.
func TestExecCancelTimeout(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	wf := filepath.Join(dir, "w.yaml")
	os.WriteFile(wf, []byte(`on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: sleep 300
      - if: always()
        run: |
          sleep 300 &
          echo $! > cleanup.pid
          wait
`), 0o644)
	cmd := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"), "--keep-workspaces", "--cancel-timeout", "1s")
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500 && !strings.Contains(out.String(), "Run sleep 300"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("runner did not end after the cancel timeout\n%s", out.String())
	}
	if code := exitCode(err); code != 130 {
		t.Errorf("exit code %d, want 130\n%s", code, out.String())
	}
	data, rerr := os.ReadFile(filepath.Join(dir, "state", "runs", "1", "jobs", "a", "workspace", "cleanup.pid"))
	if rerr != nil {
		t.Fatalf("the always() step did not start: %v\n%s", rerr, out.String())
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if err := syscall.Kill(pid, 0); err == nil {
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if !strings.Contains(string(st), ") Z ") {
			t.Errorf("process %d of the always() step survived", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// exec's --env-file, --matrix and --event-file (whose dispatch inputs are
// the run's), from the command line to the steps.
func TestExecEnvFileMatrixEventFile(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	write := func(name, src string) string { return writeFile(t, dir, name, src) }
	wf := write("wf.yaml", `on:
  workflow_dispatch:
    inputs:
      who: {required: true}
jobs:
  a:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2, 3]
    steps:
      - run: echo "leg=${{ matrix.n }} who=${{ inputs.who }} greeting=$GREETING"
`)
	env := write("vars.env", "GREETING=\"hello\\nworld\"\n")
	event := write("event.json", `{"inputs": {"who": "ana"}}`)
	out, err := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"), "--env-file", env,
		"--matrix", "n:2", "--event-file", event).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "leg=2 who=ana greeting=hello") || strings.Contains(string(out), "leg=1") || strings.Contains(string(out), "leg=3") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := exec.Command(bin, "exec", wf, "--state", filepath.Join(dir, "state"), "--matrix", "n").CombinedOutput(); exitCode(err) != 2 {
		t.Errorf("--matrix without a value: exit %d, want 2", exitCode(err))
	}
}

// runner plan resolves the run as exec would: run-name and the concurrency
// group evaluated with the same trigger flags; bad inputs exit 2.
func TestPlanShowsTheRun(t *testing.T) {
	bin := buildRunner(t)
	dir := t.TempDir()
	writeFile(t, dir, "wf.yaml", `name: Deploy
run-name: Deploy ${{ inputs.env }}
on:
  workflow_dispatch:
    inputs:
      env: {type: choice, options: [staging, prod], default: staging}
concurrency:
  group: deploy-${{ inputs.env }}
  cancel-in-progress: true
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
`)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=Ana", "-c", "user.email=a@example.com", "commit", "-qm", "init"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	plan := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"plan", "wf.yaml"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}
	if out, code := plan("--input", "env=prod"); code != 0 || !strings.Contains(out, "run: Deploy prod (event workflow_dispatch)") ||
		!strings.Contains(out, `concurrency: group "deploy-prod", cancel-in-progress`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if out, code := plan("--input", "env=dev"); code != 2 || !strings.Contains(out, "must be one of") {
		t.Errorf("bad input: exit %d:\n%s", code, out)
	}
}
