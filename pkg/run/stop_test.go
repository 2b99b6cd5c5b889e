package run_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/run"
)

// ladderRun runs three jobs and cancels the run once each one's step has
// set its traps (the file "started" in its workspace): "interrupt" ends
// on SIGINT, "terminate" on SIGTERM, "kill" traps both and is killed. The
// step's loop sleeps in the foreground, as a script's command would, and
// it leaves a child in the background, which must not outlive it. The
// jobs run in container when it is set; the steps are docker:// steps of
// image when it is set.
func ladderRun(t *testing.T, container, image string) (*run.Result, string) {
	t.Helper()
	state := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 0; i < 3000 && ctx.Err() == nil; i++ {
			if m, _ := filepath.Glob(filepath.Join(state, "runs", "*", "jobs", "*", "workspace", "started")); len(m) == 3 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	return runWF(t, ctx, ladderJobs(container, image), run.Trigger{Event: "push"}, run.Options{
		StateDir: state, Parallel: 3, InterruptGrace: time.Second, KillGrace: time.Second,
	})
}

// ladderJobs is ladderRun's workflow.
func ladderJobs(container, image string) string {
	var b strings.Builder
	b.WriteString("on: push\njobs:\n")
	for i, j := range []struct{ name, traps string }{
		{"interrupt", `trap 'echo got-INT; exit 3' INT; trap 'echo got-TERM; exit 4' TERM`},
		{"terminate", `trap 'echo got-INT' INT; trap 'echo got-TERM; exit 4' TERM`},
		{"kill", `trap 'echo got-INT' INT; trap 'echo got-TERM' TERM`},
	} {
		b.WriteString("  " + j.name + ":\n    runs-on: x\n")
		if container != "" {
			b.WriteString("    container: " + container + "\n")
		}
		n := strconv.Itoa(3000000 + 10*os.Getpid() + i)
		child := "sleep " + n
		script := j.traps + "; " + child + " & touch started; while :; do sleep 0.1; done"
		b.WriteString("    steps:\n")
		if image == "" {
			b.WriteString("      - run: " + strconv.Quote(script) + "\n")
		} else {
			b.WriteString("      - uses: docker://" + image + "\n        with:\n          entrypoint: /bin/sh\n")
			b.WriteString("          args: |-\n            -c \"" + script + "\"\n")
		}
		b.WriteString("      - if: always()\n        run: |\n          echo " + j.name + "-after\n")
		// Every process's command line, in the job's container too (no
		// pgrep there); the pattern does not match grep's own.
		b.WriteString("          if cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -q 'sleep " + n[:len(n)-1] + "[" + n[len(n)-1:] + "] '; then echo " + j.name + "-child-left; fi\n")
	}
	return b.String()
}

// checkLadder checks what ladderJobs printed: each job's step got the
// signals GitHub's runner sends in turn, SIGINT first, and no more than
// it needed; the always() step ran after it.
func checkLadder(t *testing.T, res *run.Result, out string) {
	t.Helper()
	lines := map[string][]string{}
	got := regexp.MustCompile(`(?m)^\s*(\w+) \| (got-INT|got-TERM|\w+-after|\w+-child-left)$`)
	for _, m := range got.FindAllStringSubmatch(out, -1) {
		lines[m[1]] = append(lines[m[1]], m[2])
	}
	for name, want := range map[string][]string{
		"interrupt": {"got-INT", "interrupt-after"},
		"terminate": {"got-INT", "got-TERM", "terminate-after"},
		"kill":      {"got-INT", "got-TERM", "kill-after"},
	} {
		if strings.Join(lines[name], " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", name, lines[name], want)
		}
		if r := job(t, res, name); r.Result != "cancelled" || r.Steps[0].Conclusion != "cancelled" {
			t.Errorf("%s: %s, step %s", name, r.Result, r.Steps[0].Conclusion)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// A step that is cancelled (or times out: the same path) gets SIGINT, then
// SIGTERM after the interrupt grace, then SIGKILL after the kill grace, as
// on GitHub.
func TestStopLadder(t *testing.T) {
	res, out := ladderRun(t, "", "")
	checkLadder(t, res, out)
}

// The same in a job container: through runner's agent, and through runc
// exec where the agent cannot run (the image lacks its libraries).
func TestStopLadderInContainer(t *testing.T) {
	for name, ref := range map[string]func(t *testing.T) string{
		"agent":     func(t *testing.T) string { return jobImage(t, agentLibs(t)...) },
		"runc exec": func(t *testing.T) string { return jobImage(t) },
	} {
		t.Run(name, func(t *testing.T) {
			before := runcState()
			res, out := ladderRun(t, ref(t), "")
			checkLadder(t, res, out)
			if left := runcLeftovers(t, before); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// A docker:// step gets the ladder as its container's main process (as
// docker run passes the runner's signals on to it).
func TestStopLadderDockerStep(t *testing.T) {
	ref := actionImage(t)
	before := runcState()
	res, out := ladderRun(t, "", ref)
	checkLadder(t, res, out)
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A force (a second Ctrl-C, force-cancel) during the ladder kills the
// step at once: it never gets SIGTERM, though its interrupt grace is a
// minute.
func TestForceSkipsTheLadder(t *testing.T) {
	dir := t.TempDir()
	ctx := cancelWhen(t, dir+"/started")
	// The step's INT trap writes "interrupted": the force comes then.
	force := cancelWhen(t, dir+"/interrupted")
	res, out := runWF(t, ctx, `
on: push
jobs:
  a:
    runs-on: x
    steps:
      - run: |
          trap 'echo got-INT; touch `+dir+`/interrupted' INT; trap 'echo got-TERM' TERM
          touch `+dir+`/started
          while :; do sleep 0.1; done
      - if: always()
        run: echo always-ran
`, run.Trigger{}, run.Options{InterruptGrace: time.Minute, KillGrace: time.Minute, Force: force})
	if !strings.Contains(out, "| got-INT\n") || strings.Contains(out, "| got-TERM\n") {
		t.Errorf("want SIGINT, then SIGKILL without SIGTERM:\n%s", out)
	}
	// The always() step comes after the force: cancelled, not started,
	// not a failure.
	j := job(t, res, "a")
	if res.Conclusion != "cancelled" || j.Steps[0].Conclusion != "cancelled" {
		t.Errorf("conclusion %s, step %+v", res.Conclusion, j.Steps[0])
	}
	if s := j.Steps[1]; s.Conclusion != "cancelled" || s.Error != "the run was cancelled" || strings.Contains(out, "| always-ran") {
		t.Errorf("the always() step after the force: %+v\n%s", s, out)
	}
}
