package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container/agent"
	ct "github.com/birdflock/runner/pkg/containertest"
)

// agentService sets up a container of the redis stand-in (it has the C
// library a test binary built with cgo needs, so the agent runs there
// whichever way the test was built) with Spec.ExecAgent, user and
// working directory cfg's, entrypoint entry, and starts it.
func agentService(t *testing.T, r *Runc, cfg v1.Config, entry ...string) (*runcContainer, *logBuffer) {
	t.Helper()
	ct.Require(t, ct.Redis)
	img := ct.Image(t, ct.RedisImage(t), cfg)
	archive := ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
	ctx := context.Background()
	c, err := r.Setup(ctx, Spec{Archive: archive, Env: []string{"FROM_SPEC=spec"}, Entrypoint: entry, ExecAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(ctx) })
	rc := c.(*runcContainer)
	if rc.agentExe == "" {
		t.Fatal("no agent: runner's test binary cannot run in the redis image")
	}
	logs := collect(c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return rc, logs
}

// containerPid is the host pid of the container's pid 1 (runc's pid file).
func containerPid(t *testing.T, c *runcContainer) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(c.bundle, "pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
	}
	t.Fatal("no pid file")
	return 0
}

// With Spec.ExecAgent the container's pid 1 is the agent and the image's
// process its child; Exec's process is in every namespace and cgroup of
// the container, sees its files, has its environment, user and working
// directory, its seccomp filter, no_new_privs and no capabilities (a
// user other than root), and its exit code comes back. An Exec past its
// context is killed inside the container.
func TestServiceAgentExec(t *testing.T) {
	r := newRuntime(t)
	c, logs := agentService(t, r, v1.Config{User: "1234:1234", WorkingDir: "/tmp", Env: []string{"FROM_IMAGE=image"}},
		"sh", "-c", `echo "main $FROM_SPEC $(id -u)"; exec sleep 300`)
	if err := os.WriteFile(filepath.Join(c.bundle, "rootfs", "marker"), []byte("in the image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code, out, err := c.Exec(ctx, []string{"/bin/sh", "-c", `echo "$FROM_IMAGE $FROM_SPEC $(id -u):$(id -g) $(pwd)"; cat /marker
for n in net pid mnt ipc uts; do readlink /proc/self/ns/$n; done
cat /proc/self/cgroup
grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; exit 3`})
	if err != nil || code != 3 {
		t.Fatalf("Exec = %d %v\n%s", code, err, out)
	}
	init := containerPid(t, c)
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(init) + "/cmdline")
	if !strings.Contains(string(cmdline), agent.Arg) {
		t.Errorf("pid 1 of the container is %q, not the agent", cmdline)
	}
	want := []string{"image spec 1234:1234 /tmp", "in the image"}
	for _, n := range []string{"net", "pid", "mnt", "ipc", "uts"} {
		l, err := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/" + n)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, l)
	}
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(init) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, strings.Split(strings.TrimSpace(string(cg)), "\n")...)
	want = append(want, "CapEff:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2")
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Exec's view:\n%s\nwant (the container's pid 1's):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if code, out, err := c.Exec(ctx, []string{"false"}); err != nil || code != 1 {
		t.Errorf("a failing command: %d %q %v", code, out, err)
	}

	n := 200000 + os.Getpid()%100000
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, _, err := c.Exec(tctx, []string{"sh", "-c", "sleep " + strconv.Itoa(n) + "; true"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec past its deadline: %v", err)
	}
	left := func() []string {
		var found []string
		for _, p := range agent.Descendants(init) {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
			if strings.Contains(string(b), strconv.Itoa(n)) {
				found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
		return found
	}
	for deadline := time.Now().Add(5 * time.Second); len(left()) > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if l := left(); len(l) > 0 {
		t.Errorf("the timed-out process is still in the container: %q", l)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	<-logs.done
	if got := logs.String(); got != "main spec 1234\n" {
		t.Errorf("log = %q, want the image's process's output", got)
	}
	assertGone(t, r, c.ID())
}

// The container ends with the image's process (the agent exits with its
// code), and one that cannot start ends it with 127, saying why in the
// log; an Exec then fails instead of waiting. SIGTERM to runc (as when
// runner dies: Pdeathsig) reaches the image's process through the agent.
func TestServiceAgentMainExit(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	c, logs := agentService(t, r, v1.Config{}, "sh", "-c", "echo bye; exit 7")
	code, err := c.Wait(ctx)
	<-logs.done
	if err != nil || code != 7 || logs.String() != "bye\n" {
		t.Errorf("Wait = %d %v, log %q; want 7, bye", code, err, logs.String())
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, c.ID())

	c, logs = agentService(t, r, v1.Config{}, "sh", "-c", `trap "echo term; exit 5" TERM; echo up; while :; do sleep 0.05; done`)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "up") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err = c.Wait(ctx)
	<-logs.done
	if err != nil || code != 5 || logs.String() != "up\nterm\n" {
		t.Errorf("after SIGTERM: Wait = %d %v, log %q; want 5, up, term", code, err, logs.String())
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}

	c, logs = agentService(t, r, v1.Config{}, "/no/such/program")
	code, err = c.Wait(ctx)
	<-logs.done
	if err != nil || code != 127 || !strings.Contains(logs.String(), "/no/such/program") {
		t.Errorf("Wait = %d %v, log %q; want 127 and the program named", code, err, logs.String())
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, _, err := c.Exec(tctx, []string{"true"}); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec in a container whose process did not start: %v", err)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, c.ID())
}

// The agent is used only where the container's user may run runner's
// binary: a 0700 binary is root's only.
func TestRunnableBy(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		mode     os.FileMode
		uid      uint32
		runnable bool
	}{
		{0o755, 0, true}, {0o755, 1234, true}, {0o700, 0, true}, {0o700, 1234, false},
		{0o750, 1234, false}, {0o644, 0, false}, {0o711, 1234, false},
	} {
		f := filepath.Join(dir, c.mode.String())
		if err := os.WriteFile(f, nil, c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, c.mode); err != nil {
			t.Fatal(err)
		}
		if got := runnableBy(f, c.uid); got != c.runnable {
			t.Errorf("runnableBy(%v, uid %d) = %v, want %v", c.mode, c.uid, got, c.runnable)
		}
	}
	if err := os.Chown(filepath.Join(dir, "-rwx------"), 1234, 0); err != nil {
		t.Fatal(err)
	}
	if !runnableBy(filepath.Join(dir, "-rwx------"), 1234) {
		t.Error("a 0700 binary is not runnable by its owner")
	}
}
