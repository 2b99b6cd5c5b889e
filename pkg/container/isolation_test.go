package container

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// shellArchive is the alpine stand-in with `sh -c` as its Entrypoint, so
// that a Spec's Command is one shell script, run as user ("": root).
func shellArchive(t *testing.T, user ...string) string {
	t.Helper()
	img := ct.Image(t, ct.Alpine(t), v1.Config{Entrypoint: []string{"sh", "-c"}, Cmd: []string{"true"}, User: strings.Join(user, "")})
	return ct.Archive(t, img, filepath.Join(t.TempDir(), "img.tar"))
}

// runScript runs script in a container of spec and returns its exit code
// and log once it has exited and been removed (nothing may be left).
func runScript(t *testing.T, r *Runc, spec Spec, script string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec.Command = []string{script}
	c, err := r.Setup(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy(context.WithoutCancel(ctx))
	logs := collect(c.Logs())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	code, err := c.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-logs.done
	if err := c.Destroy(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, c.ID())
	return code, logs.String()
}

// A container gets Docker's confinement: a seccomp filter (Docker's
// default profile, which refuses unshare and namespace-making clone to a
// process without CAP_SYS_ADMIN), no_new_privs, Docker's capability set as
// the bounding set, and Docker's masked paths. Before, `unshare -U -r`
// gave the container's root a user namespace with every capability in it.
func TestContainerIsConfinedLikeDocker(t *testing.T) {
	r := newRuntime(t)
	for _, user := range []string{"", "nobody"} {
		code, log := runScript(t, r, Spec{Archive: shellArchive(t, user)}, `
grep -E '^(Seccomp|NoNewPrivs|CapBnd):' /proc/self/status
echo "interrupts: $(wc -c < /proc/interrupts) bytes"
unshare -U -r id
echo "unshare exit $?"`)
		if code != 0 {
			t.Fatalf("user %q: exit %d, log:\n%s", user, code, log)
		}
		for _, want := range []string{
			"Seccomp:\t2\n",               // filter mode
			"NoNewPrivs:\t1\n",            // no setuid escalation
			"CapBnd:\t00000000a80425fb\n", // Docker's 14 default capabilities
			"interrupts: 0 bytes\n",       // masked like Docker's /proc/interrupts
			"unshare(0x10000000): Operation not permitted\n",
			"unshare exit 1\n",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("user %q: log lacks %q:\n%s", user, want, log)
			}
		}
		if strings.Contains(log, "uid=0(root)") {
			t.Errorf("user %q: unshare -U -r made a user namespace:\n%s", user, log)
		}
	}
}

// A fork loop stops at the pids limit: the shell cannot fork past it.
// Before, nothing stopped it (only the host's pid_max).
func TestPidsLimitStopsForkLoop(t *testing.T) {
	r := newRuntime(t)
	code, log := runScript(t, r, Spec{Archive: shellArchive(t), Limits: Limits{Pids: 40}}, `
i=0
while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done
echo "started all $i"`)
	if code == 0 || strings.Contains(log, "started all") || !strings.Contains(log, "can't fork") {
		t.Fatalf("exit %d, log:\n%s\nwant the fork loop to fail at the pids limit", code, log)
	}
}

// A process that allocates past the memory limit is killed. Before, a
// container could use all of the host's memory.
func TestMemoryLimitStopsHog(t *testing.T) {
	r := newRuntime(t)
	code, log := runScript(t, r, Spec{Archive: shellArchive(t), Limits: Limits{Memory: 32 << 20}}, `
x=$(head -c 134217728 /dev/zero | tr '\0' a)
echo "kept ${#x} bytes"`)
	if code != 128+int(syscall.SIGKILL) || strings.Contains(log, "kept") {
		t.Fatalf("exit %d, log:\n%s\nwant the shell OOM-killed (exit 137)", code, log)
	}
}

// The limits are those of the container's cgroups, read back from the
// host: the defaults, given values, and -1 for none. Destroy removes the
// cgroups and the network namespace with the container.
func TestLimitsInContainerCgroups(t *testing.T) {
	r := newRuntime(t)
	archive := shellArchive(t)
	const unlimited = "unlimited"
	for _, tc := range []struct {
		name         string
		limits       Limits
		pids, memory string
	}{
		{"default", Limits{}, "4096", strconv.Itoa(4 << 30)},
		{"given", Limits{Pids: 100, Memory: 64 << 20}, "100", strconv.Itoa(64 << 20)},
		{"none", Limits{Pids: -1, Memory: -1}, "max", unlimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, err := r.Setup(ctx, Spec{Archive: archive, Command: []string{"sleep 600"}, Limits: tc.limits})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Destroy(ctx)
			logs := collect(c.Logs())
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			run := ct.Inspect(t, c.ID())
			if got := run.Limit(t, "pids"); got != tc.pids {
				t.Errorf("pids limit %s, want %s", got, tc.pids)
			}
			got := run.Limit(t, "memory")
			if tc.memory == unlimited {
				if n, err := strconv.ParseInt(got, 10, 64); got != "max" && (err != nil || n < 1<<60) {
					t.Errorf("memory limit %s, want none", got)
				}
			} else if got != tc.memory {
				t.Errorf("memory limit %s, want %s", got, tc.memory)
			}
			if err := c.Destroy(ctx); err != nil {
				t.Fatal(err)
			}
			<-logs.done
			assertGone(t, r, c.ID())
			run.AssertReleased(t)
		})
	}
}
