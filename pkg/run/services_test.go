package run_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/birdflock/runner/pkg/container"
	"github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
)

// serviceScript is the test service: busybox httpd serving $GREETING on
// $PORT after $DELAY seconds, or, with $EXIT set, a message and that exit
// code.
const serviceScript = `if [ -n "$EXIT" ]; then echo "fatal: $EXIT_MSG"; exit "$EXIT"; fi
echo "serving ${GREETING:-hello} on ${PORT:-80} after ${DELAY:-0}s"
sleep "${DELAY:-0}"
echo "${GREETING:-hello}" > /www/index.html
exec httpd -f -v -p "${PORT:-80}" -h /www`

// serviceImage pushes the test service image to a loopback registry and
// returns its reference.
func serviceImage(t *testing.T) string {
	t.Helper()
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox)
	return pushService(t, containertest.Registry(t), "svc")
}

// pushService pushes the test service image to the registry at addr as
// repo:latest and returns its reference.
func pushService(t *testing.T, addr, repo string) string {
	t.Helper()
	img := containertest.Image(t, containertest.Alpine(t), v1.Config{Cmd: []string{"/bin/sh", "-c", serviceScript}},
		containertest.Layer(t, containertest.Entry{Name: "www/"}))
	ref := addr + "/" + repo
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := registry.New(registry.Options{}).Push(ctx, registry.FromImage(img), ref, []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	return ref + ":latest"
}

// freePort is a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var serviceIDs = regexp.MustCompile(`runner-[0-9a-f]{12}`)

// assertServicesGone checks that the containers named in out are gone:
// runc knows none of them and their bundles are removed.
func assertServicesGone(t *testing.T, out string, want int) {
	t.Helper()
	ids := map[string]bool{}
	for _, id := range serviceIDs.FindAllString(out, -1) {
		ids[id] = true
	}
	if len(ids) != want {
		t.Errorf("want %d service containers named in the output, got %v", want, ids)
	}
	for id := range ids {
		if b, err := exec.Command(containertest.RuncPath(), "state", id).CombinedOutput(); err == nil {
			t.Errorf("runc still has container %s: %s", id, b)
		}
		if _, err := os.Stat(filepath.Join(container.DefaultDir(), id)); !os.IsNotExist(err) {
			t.Errorf("bundle of %s left: %v", id, err)
		}
	}
}

// A job on the host reaches its services at localhost and the published
// port: an ephemeral one and a fixed one, both for container port 80 (each
// service has its own network namespace). The first service's health
// check passes only after its server started a second late; the steps
// start after that. The services' logs are printed at the end and the
// containers removed.
func TestServicesOnHost(t *testing.T) {
	ref := serviceImage(t)
	fixed := freePort(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    services:
      web:
        image: %s
        env: {GREETING: first, DELAY: "1"}
        ports: ['80']
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1:80/" --health-interval 5s --health-retries 2
      other:
        image: %s
        options: -e GREETING=second
        ports: ['%d:80']
    steps:
      - run: |
          echo "ids ${{ job.services.web.id }} ${{ job.services.other.id }}"
          echo "fixed=${{ job.services.other.ports['80'] }}"
          busybox wget -q -O- "http://localhost:${{ job.services.web.ports['80'] }}/"
          busybox wget -q -O- "http://localhost:${{ job.services.other.ports[80] }}/"
`, ref, ref, fixed), run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "test")
	if j.Result != "success" {
		t.Fatalf("job %s: %s\n%s", j.Result, j.Error, out)
	}
	for _, want := range []string{
		"first\n", "second\n", fmt.Sprintf("fixed=%d", fixed),
		"Service web is healthy", "Service other is running (no health check)",
		"Print service container logs: web", "serving first on 80 after 1s", "serving second on 80",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	assertServicesGone(t, out, 2)
	if os.Getenv("SHOW") != "" {
		t.Log(out)
	}
}

// A service whose health check never passes fails the job with the end of
// its log, before any step; the container is removed.
func TestServiceUnhealthy(t *testing.T) {
	ref := serviceImage(t)
	marker := filepath.Join(t.TempDir(), "ran")
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    services:
      db:
        image: %s
        env: {GREETING: never}
        options: >-
          --health-cmd "wget -q -O /dev/null http://127.0.0.1:81/"
          --health-interval 200ms --health-timeout 2s --health-retries 2
    steps:
      - run: touch %s
`, ref, marker), run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "test")
	if j.Result != "failure" || !strings.Contains(j.Error, "service db is unhealthy") || !strings.Contains(j.Error, "serving never on 80") {
		t.Fatalf("job %s: %q\n%s", j.Result, j.Error, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a step ran although the service was unhealthy")
	}
	if !strings.Contains(out, "Stop and remove service db") {
		t.Errorf("no Stop containers section:\n%s", out)
	}
	assertServicesGone(t, out, 1)
}

// A service that exits before it is healthy fails the job with its exit
// code and log.
func TestServiceExits(t *testing.T) {
	ref := serviceImage(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    services:
      db:
        image: %s
        env: {EXIT: "3", EXIT_MSG: bad config}
        options: --health-cmd "exit 1" --health-interval 10s
    steps:
      - run: echo never
`, ref), run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "test")
	if j.Result != "failure" || !strings.Contains(j.Error, "service db exited with code 3") || !strings.Contains(j.Error, "fatal: bad config") {
		t.Fatalf("job %s: %q\n%s", j.Result, j.Error, out)
	}
	assertServicesGone(t, out, 1)
}

// The services are waited for at once: one that exits fails the job
// while another, listed first, is still short of healthy (whose checks
// would take 60 s to count as a failure), with the exited one's code and
// log and not the other's checks.
func TestServiceExitSeenWhileAnotherStarts(t *testing.T) {
	ref := serviceImage(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    timeout-minutes: 1
    services:
      slow:
        image: %[1]s
        options: --health-cmd "exit 1" --health-interval 2s --health-retries 30
      db:
        image: %[1]s
        env: {EXIT: "3", EXIT_MSG: bad config}
        options: --health-cmd "exit 1" --health-interval 10s
    steps:
      - run: echo never
`, ref), run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "test")
	if j.Result != "failure" || !strings.Contains(j.Error, "service db exited with code 3") || !strings.Contains(j.Error, "fatal: bad config") {
		t.Fatalf("job %s: %q\n%s", j.Result, j.Error, out)
	}
	assertServicesGone(t, out, 2)
}

// A cancelled job (Ctrl-C), a failed step and the job's timeout all
// remove the service:
// no runc container, bundle, cgroup or network namespace is left.
func TestServiceRemovedAfterCancelAndFailure(t *testing.T) {
	ref := serviceImage(t)
	for _, tc := range []struct{ name, last, result, timeout string }{
		{"cancel", "sleep 60", "cancelled", "5"},
		{"failure", "exit 1", "failure", "5"},
		{"timeout", "sleep 60", "failure", "0.05"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "id")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inspected := make(chan containertest.Running, 1)
			go func() {
				defer close(inspected)
				for i := 0; i < 3000; i++ {
					if b, err := os.ReadFile(marker); err == nil && len(b) > 0 {
						inspected <- containertest.Inspect(t, strings.TrimSpace(string(b)))
						if tc.name == "cancel" {
							cancel()
						} else if err := os.WriteFile(marker+".go", nil, 0o644); err != nil {
							t.Error(err)
						}
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			res, out := runWF(t, ctx, fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    timeout-minutes: %s
    services:
      web:
        image: %s
    steps:
      - run: |
          echo -n "${{ job.services.web.id }}" > %s.tmp && mv %s.tmp %s
          while [ "%s" = "exit 1" ] && [ ! -e %s.go ]; do sleep 0.05; done
          %s
`, tc.timeout, ref, marker, marker, marker, tc.last, marker, tc.last), run.Trigger{Event: "push"}, run.Options{})
			j := job(t, res, "test")
			if j.Result != tc.result {
				t.Fatalf("job %s, want %s: %s\n%s", j.Result, tc.result, j.Error, out)
			}
			running, ok := <-inspected
			if !ok {
				t.Fatal("the service was never seen running")
			}
			running.AssertReleased(t)
			assertServicesGone(t, out, 1)
		})
	}
}

// Options that come from an expression are checked when the job starts;
// an image that is empty means no service, as on GitHub.
func TestServiceOptionsAtRunTime(t *testing.T) {
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  bad:
    runs-on: x
    services:
      db:
        image: x
        options: ${{ format('--health-retries 3 {0}', '--privileged') }}
    steps:
      - run: echo never
  twice:
    runs-on: x
    services:
      db:
        image: x
        ports: ['80', "${{ '8080:80' }}"]
    steps:
      - run: echo never
  none:
    runs-on: x
    services:
      db:
        image: ${{ '' }}
    steps:
      - run: echo "services=${{ toJSON(job.services) }}"
`, run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "bad")
	if j.Result != "failure" || !strings.Contains(j.Error, "test.yaml:9:18: services.db.options: option --privileged is not supported") {
		t.Errorf("bad: %s %q", j.Result, j.Error)
	}
	j = job(t, res, "twice")
	if j.Result != "failure" || !strings.Contains(j.Error, "test.yaml:17:23: services.db.ports: container port 80 is listed twice") {
		t.Errorf("twice: %s %q", j.Result, j.Error)
	}
	j = job(t, res, "none")
	if j.Result != "success" || !strings.Contains(out, "Skip service db: its image is empty") || !strings.Contains(out, "services=null") { // no service started: job.services is left out, as on GitHub
		t.Errorf("none: %s %q\n%s", j.Result, j.Error, out)
	}
}

// The job's timeout also bounds the wait for a healthy service; the error
// says that the timeout passed.
func TestServiceHealthWaitTimesOut(t *testing.T) {
	ref := serviceImage(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    timeout-minutes: 0.02
    services:
      db:
        image: %s
        options: --health-cmd "exit 1" --health-interval 100ms --health-retries 1000
    steps:
      - run: echo never
`, ref), run.Trigger{Event: "push"}, run.Options{})
	j := job(t, res, "test")
	if j.Result != "failure" || !strings.Contains(j.Error, "the job's timeout passed while its services started") {
		t.Fatalf("job %s: %q\n%s", j.Result, j.Error, out)
	}
	assertServicesGone(t, out, 1)
}

// A service's credentials log in to its image's registry; the password is
// masked, and without them the pull fails with the registry's answer.
func TestServiceCredentials(t *testing.T) {
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox)
	h, err := registry.Handler(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const user, password = "ci", "s3cret-Pa55"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "login first", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img := containertest.Image(t, containertest.Alpine(t), v1.Config{Cmd: []string{"/bin/sh", "-c", serviceScript}},
		containertest.Layer(t, containertest.Entry{Name: "www/"}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := registry.New(registry.Options{Credentials: []registry.Credential{{Registry: host, Username: user, Password: password}}})
	if _, err := c.Push(ctx, registry.FromImage(img), host+"/private/svc", []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  login:
    runs-on: x
    services:
      web:
        image: %s/private/svc:v1
        credentials: {username: ci, password: "${{ secrets.REG_PASSWORD }}"}
        ports: ['80']
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/"
    steps:
      - run: busybox wget -q -O- "http://127.0.0.1:${{ job.services.web.ports['80'] }}/"
  anonymous:
    runs-on: x
    services:
      web: %s/private/svc:v1
    steps:
      - run: echo never
`, host, host), run.Trigger{Event: "push"}, run.Options{Secrets: map[string]string{"REG_PASSWORD": password}})
	if j := job(t, res, "login"); j.Result != "success" || !strings.Contains(out, "hello\n") {
		t.Errorf("login: %s %q\n%s", j.Result, j.Error, out)
	}
	if j := job(t, res, "anonymous"); j.Result != "failure" || !strings.Contains(j.Error, "service web") || !strings.Contains(j.Error, "401") {
		t.Errorf("anonymous: %s %q", j.Result, j.Error)
	}
	if strings.Contains(out, password) {
		t.Errorf("the password is in the output:\n%s", out)
	}
	assertServicesGone(t, out, 1)
}

// A fixed host port that is taken fails the job at start, naming it; the
// container set up for it is removed.
func TestServiceHostPortTaken(t *testing.T) {
	ref := serviceImage(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	var res *run.Result
	var out string
	go func() {
		defer close(done)
		res, out = runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  test:
    runs-on: x
    services:
      web:
        image: %s
        ports: ['%d:80']
    steps:
      - run: echo never
`, ref, port), run.Trigger{Event: "push"}, run.Options{})
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the job did not end")
	}
	j := job(t, res, "test")
	want := fmt.Sprintf("127.0.0.1:%d: bind: address already in use", port)
	if j.Result != "failure" || !strings.Contains(j.Error, "service web") || !strings.Contains(j.Error, want) {
		t.Fatalf("job %s: %q\n%s", j.Result, j.Error, out)
	}
	// Setup made the container and Start failed: it is named under Stop
	// containers, and gone.
	assertServicesGone(t, out, 1)
}

// A service image named as on Docker Hub comes from runner's registry
// mirror (Options.Settings), as test-image's does.
func TestServiceImageThroughMirror(t *testing.T) {
	containertest.Require(t, containertest.Root, containertest.Runc, containertest.Busybox)
	reg := containertest.Registry(t)
	pushService(t, reg, "library/webserver")
	res, out := runWF(t, context.Background(), `
on: push
jobs:
  test:
    runs-on: x
    services:
      web:
        image: webserver
        env: {GREETING: mirrored}
        ports: ['80']
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/"
    steps:
      - run: busybox wget -q -O- "http://localhost:${{ job.services.web.ports['80'] }}/"
`, run.Trigger{Event: "push"}, run.Options{Settings: steps.Settings{RegistryMirror: "docker.io=http://" + reg}})
	if j := job(t, res, "test"); j.Result != "success" || !strings.Contains(out, "mirrored\n") {
		t.Fatalf("job %s: %q\n%s", j.Result, j.Error, out)
	}
	if !strings.Contains(out, "pulled "+reg+"/library/webserver:latest") {
		t.Errorf("the log does not say the image came from the mirror:\n%s", out)
	}
	assertServicesGone(t, out, 1)
}

// Failed checks inside --health-start-period do not count: the same slow
// service (up after 2 s, one retry every 200 ms) is healthy with a start
// period and unhealthy without one.
func TestServiceHealthStartPeriod(t *testing.T) {
	ref := serviceImage(t)
	res, out := runWF(t, context.Background(), fmt.Sprintf(`
on: push
jobs:
  grace:
    runs-on: x
    services:
      web:
        image: %[1]s
        env: {DELAY: "2"}
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/" --health-interval 200ms --health-retries 1 --health-start-period 30s
    steps:
      - run: echo started
  none:
    runs-on: x
    services:
      web:
        image: %[1]s
        env: {DELAY: "2"}
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/" --health-interval 200ms --health-retries 1
    steps:
      - run: echo never
`, ref), run.Trigger{Event: "push"}, run.Options{})
	if j := job(t, res, "grace"); j.Result != "success" {
		t.Errorf("with a start period: %s %q\n%s", j.Result, j.Error, out)
	}
	if j := job(t, res, "none"); j.Result != "failure" || !strings.Contains(j.Error, "had 1 failures in a row") {
		t.Errorf("without: %s %q\n%s", j.Result, j.Error, out)
	}
	assertServicesGone(t, out, 2)
}
