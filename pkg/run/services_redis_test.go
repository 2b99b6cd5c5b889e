package run_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/run"
)

// redisRef pushes the redis stand-in (Debian's redis-server, redis-cli and
// bash) to a loopback registry and returns its reference.
func redisRef(t *testing.T) string {
	t.Helper()
	ct.Require(t, ct.Root, ct.Runc, ct.Busybox, ct.Redis)
	return ct.Push(t, ct.RedisImage(t), ct.Registry(t), "library/redis", "7")
}

// A job on the host uses a real Redis service: its health check is
// redis-cli ping inside the service, and the step (on the host, with the
// host's redis-cli) sets and reads a key at the ephemeral port that
// job.services gives. A second job gets a fresh server (the first one's
// key is gone) on the same unpacked copy of the image: one entry in the
// image cache, no overlay left mounted.
func TestServiceRedisOnHost(t *testing.T) {
	ref := redisRef(t)
	state := t.TempDir()
	before := runcState()
	svc := fmt.Sprintf(`
    services:
      redis:
        image: %s
        ports: ['6379']
        options: >-
          --health-cmd "redis-cli ping"
          --health-interval 1s --health-timeout 2s --health-retries 5`, ref)
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  test:
    runs-on: x`+svc+`
    steps:
      - run: |
          port=${{ job.services.redis.ports['6379'] }}
          redis-cli -p "$port" set greeting from-host-job
          echo "got=$(redis-cli -p "$port" get greeting)"
  again:
    needs: test
    runs-on: x`+svc+`
    steps:
      - run: echo "again=[$(redis-cli -p ${{ job.services.redis.ports['6379'] }} get greeting)]"
`, run.Trigger{Event: "push"}, run.Options{StateDir: state})
	for _, key := range []string{"test", "again"} {
		if j := job(t, res, key); j.Result != "success" {
			t.Fatalf("job %s %s: %s\n%s", key, j.Result, j.Error, out)
		}
	}
	for _, want := range []string{"Service redis is healthy", "got=from-host-job", "again=[]", "Ready to accept connections"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertServicesGone(t, out, 2)
	var dirs []string
	all, _ := filepath.Glob(filepath.Join(state, "images", "sha256-*"))
	for _, d := range all {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) != 1 {
		t.Errorf("image cache holds %v, want one unpacked copy", all)
	}
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if os.Getenv("SHOW") != "" {
		t.Log(out)
	}
}

// A container job (bash and redis-cli from the image) reaches two Redis
// services by label at their own port, as on GitHub: redis:6379 and
// cache:6379 are different servers (each service is also published on a
// loopback address of its own, which the label names); the published
// host ports answer under the label too.
func TestContainerJobRedisServiceByLabel(t *testing.T) {
	ref := redisRef(t)
	fixed := freePort(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  c:
    runs-on: x
    container: %s
    services:
      redis:
        image: %s
        ports: ['%d:6379']
        options: --health-cmd "redis-cli ping" --health-interval 1s
      cache:
        image: %s
        ports: ['6379']
        options: --health-cmd "redis-cli ping" --health-interval 1s
    steps:
      - run: |
          echo "shell=$BASH_VERSION"
          redis-cli -h redis set k in-redis
          redis-cli -h cache -p 6379 set k in-cache
          echo "redis=$(redis-cli -h redis -p 6379 get k) cache=$(redis-cli -h cache get k)"
          echo "published=$(redis-cli -h redis -p %d get k) $(redis-cli -h cache -p ${{ job.services.cache.ports['6379'] }} get k)"
          echo "localhost=$(redis-cli -p %d get k)"
`, ref, ref, fixed, ref, fixed, fixed), run.Trigger{Event: "push"}, run.Options{})
	if j := job(t, res, "c"); j.Result != "success" {
		t.Fatalf("job %s: %s\n%s", j.Result, j.Error, out)
	}
	for _, want := range []string{
		"shell=5.", "redis=in-redis cache=in-cache", "published=in-redis in-cache", "localhost=in-redis",
		"Service redis is healthy", "Service cache is healthy", "for the job container redis is 127.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertServicesGone(t, out, 3) // the two services and the job container
}

// Services reach each other by label, as on GitHub's job network: the
// health check of `redis` asks the other Redis, `other`, by name (both on
// 6379, each in its own namespace); a step on the host then finds in
// `other` the key `redis`'s check wrote there.
func TestServicesReachEachOtherByLabel(t *testing.T) {
	ref := redisRef(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    services:
      redis:
        image: %s
        options: >-
          --health-cmd "redis-cli -h other set from-redis yes | grep -q OK"
          --health-interval 1s --health-retries 3
      other:
        image: %s
        ports: ['6379']
        options: --health-cmd "redis-cli ping" --health-interval 1s
    steps:
      - run: echo "other has [$(redis-cli -p ${{ job.services.other.ports['6379'] }} get from-redis)]"
`, ref, ref), run.Trigger{Event: "push"}, run.Options{})
	if j := job(t, res, "test"); j.Result != "success" {
		t.Fatalf("job %s: %s\n%s", j.Result, j.Error, out)
	}
	if !strings.Contains(out, "other has [yes]") {
		t.Errorf("output lacks the key written by name:\n%s", out)
	}
	assertServicesGone(t, out, 2)
}

// A Redis service's health check runs through runner's agent, the
// service's pid 1 (in its pid namespace), with the service's environment
// and files: the check that passes needs all three. A check that keeps
// failing there (a port nothing listens on) makes the service unhealthy:
// the job fails before its step with the count and the server's log, and
// nothing is left.
func TestServiceRedisHealthThroughAgent(t *testing.T) {
	ref := redisRef(t)
	before := runcState()
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  good:
    runs-on: x
    services:
      redis:
        image: %[1]s
        env: {MARK: from-service}
        options: >-
          --health-cmd "grep -q __runner-job-container-agent /proc/1/cmdline && test \"$MARK\" = from-service && test -x /usr/bin/redis-server && redis-cli ping"
          --health-interval 1s --health-retries 3
    steps:
      - run: echo good-step-ran
  bad:
    runs-on: x
    services:
      redis:
        image: %[1]s
        options: --health-cmd "redis-cli -p 1 ping" --health-interval 200ms --health-retries 2
    steps:
      - run: echo bad-step-ran
`, ref), run.Trigger{Event: "push"}, run.Options{StateDir: t.TempDir()})
	if j := job(t, res, "good"); j.Result != "success" || !strings.Contains(out, "good-step-ran") {
		t.Errorf("good: %s %s\n%s", j.Result, j.Error, out)
	}
	j := job(t, res, "bad")
	for _, want := range []string{"service redis is unhealthy", `"redis-cli -p 1 ping" had 2 failures in a row`, "Ready to accept connections"} {
		if j.Result != "failure" || !strings.Contains(j.Error, want) {
			t.Errorf("bad: %s, error lacks %q: %s", j.Result, want, j.Error)
		}
	}
	if strings.Contains(out, "bad-step-ran") {
		t.Errorf("a step ran next to an unhealthy service:\n%s", out)
	}
	assertServicesGone(t, out, 2)
	if left := runcLeftovers(t, before); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
