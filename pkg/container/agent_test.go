package container

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// agentJob starts a job container of the redis stand-in (it has the
// C library a test binary built with cgo needs, so the agent runs there
// whichever way the test was built).
func agentJob(t *testing.T, s JobSpec) (*Runc, *JobContainer) {
	t.Helper()
	r := newRuntime(t)
	ct.Require(t, ct.Redis)
	img := ct.RedisImage(t)
	ctx := context.Background()
	ci, err := (&ImageCache{Dir: t.TempDir()}).Get(ctx, "redis", func(context.Context, string) (v1.Image, error) { return img, nil })
	if err != nil {
		t.Fatal(err)
	}
	s.Image = ci
	c, err := r.StartJob(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(ctx) })
	return r, c
}

// agentRun starts args through the agent and returns the process and a
// function that waits for its end and returns its output.
func agentRun(t *testing.T, c *JobContainer, env []string, cwd string, args ...string) (*Process, func() (ExitStatus, string)) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(args, env, cwd, pw)
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatal(err)
	}
	return p, func() (ExitStatus, string) {
		st, err := p.Wait()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(pr)
		pr.Close()
		return st, string(out)
	}
}

// The agent starts processes in the container with the environment,
// working directory and user asked for, stdout and stderr to the file
// given (nothing else: not the agent's control socket), and reports the
// exit code; a name it cannot find is an error from Start.
func TestJobContainerAgentRunsProcesses(t *testing.T) {
	r, c := agentJob(t, JobSpec{User: "999"})
	if ok, why := c.Agent(); !ok {
		t.Fatalf("no agent: %s", why)
	}
	env := []string{"PATH=/usr/bin:/bin", "WHO=agent"}
	p, wait := agentRun(t, c, env, "/data", "sh", "-c", `echo "out $WHO $(id -u) $(pwd) $$"; echo err >&2; ls -l /proc/$$/fd | grep socket; exit 7`)
	st, out := wait()
	p.Close()
	if st.Code != 7 || st.Signal != 0 || out != "out agent 999 /data "+strconv.Itoa(p.Pid)+"\nerr\n" {
		t.Errorf("got %+v %q (pid %d)", st, out, p.Pid)
	}
	pr, pw, _ := os.Pipe()
	defer pr.Close()
	_, err := c.Start([]string{"no-such-program"}, env, "/", pw)
	pw.Close()
	if err == nil || !strings.Contains(err.Error(), "no-such-program") {
		t.Errorf("a missing program: %v", err)
	}
	if err := c.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertJobGone(t, r, c)
	if _, err := c.Start([]string{"true"}, env, "/", os.Stdout); err == nil {
		t.Error("Start after Destroy")
	}
}

// A signal reaches the process's group and what it started in the
// background; closing a process's socket before its end kills it; a
// destroyed container takes its processes along.
func TestJobContainerAgentSignalsAndClose(t *testing.T) {
	r, c := agentJob(t, JobSpec{})
	if ok, why := c.Agent(); !ok {
		t.Fatalf("no agent: %s", why)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	n := 200000 + os.Getpid()%100000
	sleeps := func(k int) string { return "sleep " + strconv.Itoa(n+k) }
	left := func(k int) bool {
		out, _ := exec.Command("pgrep", "-f", "^"+sleeps(k)+"$").Output()
		return len(out) > 0
	}
	gone := func(k int) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if !left(k) {
				return true
			}
		}
		return false
	}
	p, wait := agentRun(t, c, env, "/", "sh", "-c", sleeps(1)+" & "+sleeps(2)+"; echo not-reached")
	for deadline := time.Now().Add(5 * time.Second); !left(2) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, out := wait()
	p.Close()
	if st.Signal != syscall.SIGTERM || strings.Contains(out, "not-reached") {
		t.Errorf("after SIGTERM: %+v %q", st, out)
	}
	if !gone(1) || !gone(2) {
		t.Errorf("sleeps left after SIGTERM")
	}

	p, _ = agentRun(t, c, env, "/", "sh", "-c", sleeps(3))
	for deadline := time.Now().Add(5 * time.Second); !left(3) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	p.Close()
	if !gone(3) {
		t.Errorf("the process outlived its closed socket")
	}

	agentRun(t, c, env, "/", "sh", "-c", sleeps(4))
	for deadline := time.Now().Add(5 * time.Second); !left(4) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertJobGone(t, r, c)
	if left(4) {
		t.Errorf("the process outlived its container")
	}
}

// Without the agent (NoAgent, or when runner's binary cannot run in the
// image) the container holds itself with tail and says why.
func TestJobContainerWithoutAgent(t *testing.T) {
	_, c := agentJob(t, JobSpec{NoAgent: true})
	if ok, why := c.Agent(); ok || why == "" {
		t.Fatalf("Agent() = %v, %q", ok, why)
	}
	if got := execOut(t, c, "cat", "/proc/1/cmdline"); !strings.HasPrefix(got, "tail\x00") {
		t.Errorf("pid 1: %q", got)
	}
}

// When runner's end of the control socket closes without a Destroy (runner
// killed with kill -9), the agent exits and the container ends with it,
// its processes too; the bundle and overlay are left to the next sweep.
func TestJobContainerEndsWithRunner(t *testing.T) {
	_, c := agentJob(t, JobSpec{})
	env := []string{"PATH=/usr/bin:/bin"}
	long := "sleep " + strconv.Itoa(300000+os.Getpid()%100000)
	p, _ := agentRun(t, c, env, "/", "sh", "-c", long)
	defer p.Close()
	c.agent.conn.Close() // what the kernel does when runner dies
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the container runs on without runner")
	}
	if out, _ := exec.Command("pgrep", "-f", "^"+long+"$").Output(); len(out) > 0 {
		t.Errorf("the step's process outlived the container: %s", out)
	}
}
