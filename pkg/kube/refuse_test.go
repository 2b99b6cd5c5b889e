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

// TestContainersRefusedBeforePod: a job with a container: with a
// non-numeric user or volumes fails before any pod is made, naming what
// it needs and where it is written; a container: is the job pod's image (runner copied in
// beside) with its numeric user, hostname, workdir and env (that one set by
// the leg, so a secret stays out of the pod's spec). The other jobs run in
// pods.
func TestContainersRefusedBeforePod(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  ctr:
    runs-on: ubuntu-latest
    container: busybox
    steps:
      - run: test ! -e /usr/local/bin/runner && echo "ctr runs in $(grep ^NAME= /etc/os-release)"
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo plain-ran
  ctropts:
    runs-on: ubuntu-latest
    container:
      image: busybox
      env:
        TOKEN: ${{ secrets.DB_PASSWORD }}
        GREETING: hello
      options: --user 1000:1000 --hostname box -e FROM_OPT=opt --workdir /tmp
    steps:
      - run: |
          echo "uid $(id -u) gid $(id -g) on $(hostname) says $GREETING $FROM_OPT"
          test "$TOKEN" = hunter2-long-pw && echo "the secret reached the steps"
  ctrname:
    runs-on: ubuntu-latest
    container:
      image: busybox
      options: --user node
    steps:
      - run: echo never
  ctrvol:
    runs-on: ubuntu-latest
    container:
      image: busybox
      volumes: [/etc:/host-etc]
    steps:
      - run: echo never
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"DB_PASSWORD": "hunter2-long-pw"}})
	log := jobLog(t, res)
	byJob := map[string]string{}
	for _, j := range res.Jobs {
		byJob[j.Name] = j.Result
	}
	if byJob["ctr"] != "success" || byJob["plain"] != "success" ||
		byJob["ctropts"] != "success" || byJob["ctrname"] != "failure" || byJob["ctrvol"] != "failure" {
		t.Fatalf("results %v, want ctrname, ctrvol failure, ctr, ctropts and plain success:\n%s", byJob, log)
	}
	for _, want := range []string{
		// container: image is the pod's image, runner copied in beside.
		`ctr runs in NAME="runner stand-in for Alpine Linux`,
		"plain-ran",
		// the container's user, hostname, workdir and env (a secret
		// among them reaches the steps, not the pod's spec).
		"uid 1000 gid 1000 on box says hello opt",
		"the secret reached the steps",
		"job ctrname: container --user node: a pod runs as a numeric uid (runAsUser)",
		"container.volumes: the job runs in its container's image as a pod, which mounts no path",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the job log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "Created pod"); n != 3 {
		t.Errorf("%d pods created, want 3 (the plain, ctr and ctropts jobs'):\n%s", n, log)
	}
	if strings.Contains(log, "hunter2-long-pw") {
		t.Errorf("a secret in the log:\n%s", log)
	}
}
