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

// TestContainersRefusedBeforePod: a job with a docker:// step, services
// with credentials or a container: with more than an image fails before
// any pod is made,
// naming what it needs and where it is written, instead of failing in its
// pod with "no runc in PATH"; a container: image alone is the job pod's
// image (runner copied in beside). The other jobs run in pods.
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
      redis: {image: redis:7, credentials: {username: mona, password: s3cr3t-pw}}
    steps:
      - run: echo svc
  ctr:
    runs-on: ubuntu-latest
    container: busybox
    steps:
      - run: test ! -e /usr/local/bin/runner && echo "ctr runs in $(grep ^NAME= /etc/os-release)"
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo plain-ran
  dockerstep:
    runs-on: ubuntu-latest
    steps:
      - run: echo before
      - uses: docker://busybox
  ctropts:
    runs-on: ubuntu-latest
    container:
      image: busybox
      options: --user 1000
    steps:
      - run: echo never
  svcsecret:
    runs-on: ubuntu-latest
    services:
      db:
        image: busybox
        env:
          PASSWORD: ${{ secrets.DB_PASSWORD }}
    steps:
      - run: echo never
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"DB_PASSWORD": "hunter2-long-pw"}})
	log := jobLog(t, res)
	byJob := map[string]string{}
	for _, j := range res.Jobs {
		byJob[j.Name] = j.Result
	}
	if byJob["svc"] != "failure" || byJob["ctr"] != "success" || byJob["dockerstep"] != "failure" || byJob["plain"] != "success" || byJob["ctropts"] != "failure" || byJob["svcsecret"] != "failure" {
		t.Fatalf("results %v, want svc and dockerstep failure, ctr and plain success:\n%s", byJob, log)
	}
	for _, want := range []string{
		"job svc needs containers, which its pod cannot run yet: services.redis (",
		"wf.yaml:6:7)",
		// container: image is the pod's image, runner copied in beside.
		`ctr runs in NAME="runner stand-in for Alpine Linux`,
		"job dockerstep needs containers, which its pod cannot run yet: uses: docker://busybox (",
		"wf.yaml:22:15)",
		"plain-ran",
		"job ctropts needs containers, which its pod cannot run yet: container (",
		// a secret is not written into a pod spec
		"job svcsecret needs containers, which its pod cannot run yet: services.db (",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the job log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "Created pod"); n != 2 {
		t.Errorf("%d pods created, want 2 (the plain and the ctr jobs'):\n%s", n, log)
	}
}
