package kube_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// TestServiceSecretEnv: a service's env value holding a secret reaches
// the service container through a Secret that exists only while the pod
// starts, owned by the pod: never in the pod's spec, gone while the job
// runs, none left after; the job reads back what the service got.
func TestServiceSecretEnv(t *testing.T) {
	ct.Require(t, ct.Redis)
	c := kubetest.Shared(t)
	redis := ct.Push(t, ct.RedisImage(t), c.RegistryAddr, "library/redis", "7")
	tr := transport(t, c, kube.Config{})
	ns := tr.Client.Namespace
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const secret = "s3cret-robin-9f2a"
	// Once the job's first step runs (it sleeps), its pod and the
	// namespace's Secrets are looked at.
	var spec string
	secretsDuringJob := -1
	var mu sync.Mutex
	stepStarted := make(chan struct{})
	var once sync.Once
	obs := run.ObserverFunc(func(e run.Event) {
		if e.Kind == run.StepStarted {
			once.Do(func() { close(stepStarted) })
		}
	})
	watchCtx, stopWatch := context.WithCancel(ctx)
	// The Secret's owners while it exists (the pod, once that exists).
	var owners []string
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ; watchCtx.Err() == nil; time.Sleep(20 * time.Millisecond) {
			list, err := c.Client.CoreV1().Secrets(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy})
			if err != nil {
				continue
			}
			mu.Lock()
			for _, sec := range list.Items {
				for _, o := range sec.OwnerReferences {
					if !slices.Contains(owners, o.Kind+"/"+o.Name) {
						owners = append(owners, o.Kind+"/"+o.Name)
					}
				}
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		select {
		case <-stepStarted:
		case <-watchCtx.Done():
			return
		}
		list, err := c.Client.CoreV1().Pods(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelJob + "=cache"})
		if err != nil || len(list.Items) != 1 {
			return
		}
		secrets, err := c.Client.CoreV1().Secrets(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy})
		if err != nil {
			return
		}
		b, _ := json.Marshal(list.Items[0])
		mu.Lock()
		spec, secretsDuringJob = string(b), len(secrets.Items)
		mu.Unlock()
	}()
	res := runWorkflow(t, ctx, `on: push
jobs:
  cache:
    runs-on: ubuntu-latest
    container: `+redis+`
    services:
      redis:
        image: `+redis+`
        env:
          WORD: ${{ secrets.WORD }}
          PLAIN: plain-value
        options: --entrypoint redis-server --health-cmd "redis-cli set word \"$WORD $PLAIN\"" --health-interval 1s --health-retries 20
    steps:
      - run: sleep 2
      - run: |
          test "$(redis-cli -h redis get word)" = "${{ secrets.WORD }} plain-value" && echo "the service got the secret"
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"WORD": secret}, Observer: obs})
	stopWatch()
	wg.Wait()
	log := jobLog(t, res)
	if res.Conclusion != "success" || !strings.Contains(log, "the service got the secret") {
		t.Fatalf("conclusion %s, want success with the secret read back from the service:\n%s", res.Conclusion, log)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case spec == "":
		t.Errorf("the job's pod was not seen while its first step ran")
	case strings.Contains(spec, secret):
		t.Errorf("the secret is in the pod's spec:\n%s", spec)
	case !strings.Contains(spec, `"secretKeyRef"`) || !strings.Contains(spec, "plain-value"):
		t.Errorf("the pod's spec has no secretKeyRef for WORD, or not the plain value:\n%s", spec)
	}
	if !slices.Contains(owners, "Pod/"+res.Jobs[0].Runner) {
		t.Errorf("the Secret's owners %v: want the job's pod %s (the garbage collector deletes it with the pod)", owners, res.Jobs[0].Runner)
	}
	if secretsDuringJob != 0 {
		t.Errorf("%d Secrets of the executor while the job ran: want the service's deleted once it started", secretsDuringJob)
	}
	if strings.Contains(log, secret) {
		t.Errorf("the secret in the log:\n%s", log)
	}
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
	noSecretsLeft(t, c, ns)
}

// noSecretsLeft fails t for each Secret of the executor left in ns.
func noSecretsLeft(t *testing.T, c *kubetest.Cluster, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	left, err := c.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range left.Items {
		t.Errorf("Secret left: %s", s.Name)
	}
}
