package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
)

// TestServicesInPod: a job's services are containers of its pod, as on
// GitHub's jobs on the host: a real Redis reached at localhost on its port
// (job.services.redis.ports) and by its label, the job's steps starting
// only once its health command passes; a service whose health command
// never passes fails the job with the service's name and log, and leaves
// no pod.
func TestServicesInPod(t *testing.T) {
	ct.Require(t, ct.Redis)
	c := kubetest.Shared(t)
	redis := ct.Push(t, ct.RedisImage(t), c.RegistryAddr, "library/redis", "7")
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  cache:
    runs-on: ubuntu-latest
    container: `+redis+`
    services:
      redis:
        image: `+redis+`
        ports: ['6379']
        options: --entrypoint redis-server --health-cmd "redis-cli ping" --health-interval 1s --health-retries 20
    steps:
      - run: redis-cli -p ${{ job.services.redis.ports['6379'] }} set bird robin
      - run: echo "got $(redis-cli -h redis get bird) from the service"
  sick:
    runs-on: ubuntu-latest
    services:
      db:
        image: `+redis+`
        options: --health-cmd "echo db is sick; false" --health-interval 1s --health-timeout 1s --health-retries 2
    steps:
      - run: echo never
`, run.Options{Remote: tr.Legs()})
	log := jobLog(t, res)
	results := map[string]run.JobResult{}
	for _, j := range res.Jobs {
		results[j.JobID] = *j
	}
	// At the job's end the service's log is in the job's, as GitHub's
	// "Stop containers" prints it.
	if !strings.Contains(log, "Print service container logs: svc-redis") || !strings.Contains(log, "Ready to accept connections") {
		t.Errorf("the service's log is not in the job's log:\n%s", log)
	}
	if results["cache"].Result != "success" || !strings.Contains(log, "got robin from the service") {
		t.Errorf("cache: %s, want success with the value read back from the service:\n%s", results["cache"].Result, log)
	}
	if r := results["sick"]; r.Result != "failure" || !strings.Contains(r.Error, "services not healthy") || !strings.Contains(r.Error, "svc-db") || strings.Contains(log, "never\n") {
		t.Errorf("sick: %s %q, want a failure naming the unhealthy service before any step:\n%s", r.Result, r.Error, log)
	}
	if left := pods(t, c, tr.Client.Namespace); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
}
