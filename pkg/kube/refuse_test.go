package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
)

// TestContainersRefusedBeforePod: a job with services: or container:
// fails before any pod is made, naming what it needs and where it is
// written, instead of failing in its pod with "no runc in PATH". The
// other jobs of the run still run in pods.
func TestContainersRefusedBeforePod(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  svc:
    runs-on: ubuntu-latest
    services:
      redis: {image: redis:7}
    steps:
      - run: echo svc
  ctr:
    runs-on: ubuntu-latest
    container: busybox
    steps:
      - run: echo ctr
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo plain-ran
  dockerstep:
    runs-on: ubuntu-latest
    steps:
      - run: echo before
      - uses: docker://busybox
`, run.Options{Remote: tr.Legs()})
	log := jobLog(t, res)
	byJob := map[string]string{}
	for _, j := range res.Jobs {
		byJob[j.Name] = j.Result
	}
	if byJob["svc"] != "failure" || byJob["ctr"] != "failure" || byJob["dockerstep"] != "failure" || byJob["plain"] != "success" {
		t.Fatalf("results %v, want svc, ctr and dockerstep failure, plain success:\n%s", byJob, log)
	}
	for _, want := range []string{
		"job svc needs containers, which its pod cannot run yet: services.redis (",
		"wf.yaml:6:7)",
		"job ctr needs containers, which its pod cannot run yet: container (",
		"wf.yaml:11:5)",
		"job dockerstep needs containers, which its pod cannot run yet: uses: docker://busybox (",
		"wf.yaml:22:15)",
		"plain-ran",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the job log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "Created pod"); n != 1 {
		t.Errorf("%d pods created, want 1 (the plain job's):\n%s", n, log)
	}
}
