package run_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/run"
)

// Cancelling the run while a remote leg's step runs cancels the leg as
// Ctrl-C would: the step ends, its if: always() step still runs, in the
// remote, and the job is cancelled.
func TestRemoteCancelRunsAlways(t *testing.T) {
	bin := runnerForLegs(t)
	dir := t.TempDir()
	src := `
on: push
jobs:
  slow:
    runs-on: x
    steps:
      - run: touch ` + dir + `/started; sleep 30
      - run: echo "never"
      - if: always()
        run: echo "always ran, status ${{ job.status }}"
`
	lr := runLegs(t, cancelWhen(t, dir+"/started"), src, run.Trigger{}, run.Options{}, &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}})
	j := job(t, lr.res, "slow")
	if j.Result != "cancelled" || lr.res.Conclusion != "cancelled" {
		t.Errorf("job %s, run %s; want cancelled\n%s", j.Result, lr.res.Conclusion, lr.out)
	}
	if !strings.Contains(lr.out, "always ran, status cancelled") || strings.Contains(lr.out, "| never") {
		t.Errorf("want the always() step and not the next one\n%s", lr.out)
	}
	if len(j.Steps) != 3 || j.Steps[0].Conclusion != "cancelled" || j.Steps[1].Conclusion != "skipped" || j.Steps[2].Conclusion != "success" {
		t.Errorf("steps %s", jobsOf(lr.res))
	}
}

// A remote that dies in the middle of a job (its process killed) fails the
// job with an error that says so; the run goes on.
func TestRemoteDiesMidJob(t *testing.T) {
	bin := runnerForLegs(t)
	dir := t.TempDir()
	src := `
on: push
jobs:
  doomed:
    runs-on: x
    steps:
      - run: echo $$ > ` + dir + `/step.pid; exec sleep 30
  after:
    needs: doomed
    if: always()
    runs-on: x
    steps:
      - run: echo "after ${{ needs.doomed.result }}"
`
	pids := make(chan int, 4)
	tt := &tapTransport{note: "started pod", ProcessTransport: run.ProcessTransport{Path: bin, Started: func(leg run.LegInfo, pid int) {
		if leg.Job == "doomed" {
			pids <- pid
		}
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		pid := <-pids
		for ctx.Err() == nil {
			if data, err := os.ReadFile(dir + "/step.pid"); err == nil && len(bytes.TrimSpace(data)) > 0 {
				var step int
				fmt.Sscan(string(data), &step)
				syscall.Kill(pid, syscall.SIGKILL)
				t.Cleanup(func() { syscall.Kill(step, syscall.SIGKILL) })
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	lr := runLegs(t, ctx, src, run.Trigger{}, run.Options{}, tt)
	j := job(t, lr.res, "doomed")
	if j.Result != "failure" || !strings.Contains(j.Error, "the remote leg ended without a result") || !strings.Contains(j.Error, "killed") {
		t.Errorf("job %s, error %q; want a failure that says the remote was killed\n%s", j.Result, j.Error, lr.out)
	}
	if !strings.Contains(lr.out, "after failure") {
		t.Errorf("the dependent job did not see the failure\n%s", lr.out)
	}
	// What the transport says about the leg is in its log and events.
	log, _ := os.ReadFile(filepath.Join(lr.res.Dir, "doomed.log"))
	if !strings.Contains(string(log), "Error: the remote leg ended without a result") || !strings.Contains(string(log), "job | started pod doomed") {
		t.Errorf("doomed.log lacks the transport's line or the error:\n%s", log)
	}
	if !slices.Contains(lr.events["after"], "line|job||started pod after") {
		t.Errorf("events of after: %q", lr.events["after"])
	}
}

// The ways a leg is stopped reach a remote leg as they reach a local one:
// its own timeout-minutes, fail-fast of a sibling leg, and Options.Force
// after a cancellation (which ends the if: always() step too).
func TestRemoteLegStops(t *testing.T) {
	bin := runnerForLegs(t)
	timeout := `
on: push
jobs:
  slow:
    runs-on: x
    timeout-minutes: 0.03
    steps:
      - run: sleep 30
      - if: always()
        run: echo "after the timeout ${{ job.status }}"
`
	failFast := `
on: push
jobs:
  m:
    runs-on: x
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: if [ ${{ matrix.n }} = 1 ]; then sleep 0.5; exit 1; fi; sleep 30
`
	for _, c := range []struct{ name, src string }{{"timeout", timeout}, {"fail-fast", failFast}} {
		t.Run(c.name, func(t *testing.T) {
			local := runLegs(t, context.Background(), c.src, run.Trigger{}, run.Options{}, nil)
			remote := runLegs(t, context.Background(), c.src, run.Trigger{}, run.Options{}, &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}})
			if l, r := jobsOf(local.res), jobsOf(remote.res); l != r {
				t.Errorf("job results differ\nlocal:\n%s\nremote:\n%s\nremote output:\n%s", l, r, remote.out)
			}
			if local.res.Conclusion != "failure" {
				t.Errorf("run %s; want failure\n%s", local.res.Conclusion, local.out)
			}
		})
	}
	t.Run("force", func(t *testing.T) {
		dir := t.TempDir()
		src := `
on: push
jobs:
  stubborn:
    runs-on: x
    steps:
      - run: touch ` + dir + `/started; sleep 30
      - if: always()
        run: touch ` + dir + `/cleanup; sleep 30
`
		force, stop := context.WithCancel(context.Background())
		defer stop()
		go func() {
			for ctx := t.Context(); ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(dir + "/cleanup"); err == nil {
					stop()
					return
				}
			}
		}()
		lr := runLegs(t, cancelWhen(t, dir+"/started"), src, run.Trigger{}, run.Options{Force: force}, &tapTransport{ProcessTransport: run.ProcessTransport{Path: bin}})
		j := job(t, lr.res, "stubborn")
		// The always() step was killed, not left to finish its sleep.
		if j.Result != "cancelled" || len(j.Steps) != 2 || j.Steps[1].Conclusion == "success" {
			t.Errorf("%s\n%s", jobsOf(lr.res), lr.out)
		}
	})
}

// A remote that is not runner (a pod image without it, a wrong binary)
// fails the job with what it said and how it ended.
func TestRemoteNotRunner(t *testing.T) {
	script := filepath.Join(t.TempDir(), "not-runner")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"not runner: $*\" >&2\necho hello\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo fine}]\n"
	lr := runLegs(t, context.Background(), src, run.Trigger{}, run.Options{}, &tapTransport{ProcessTransport: run.ProcessTransport{Path: script}})
	j := job(t, lr.res, "a")
	// It said hello: the controller kills it at once, or it ends first.
	for _, want := range []string{"the remote leg ended without a result", `bad frame "hello"`, script + " job --stdio", "its stderr ends: not runner: job --stdio"} {
		if !strings.Contains(j.Error, want) {
			t.Errorf("error %q lacks %q", j.Error, want)
		}
	}
	if j.Result != "failure" {
		t.Errorf("result %s", j.Result)
	}
}
