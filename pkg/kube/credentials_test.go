package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ct "github.com/birdflock/runner/pkg/containertest"
	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCredentialsPull: a job's container: and its service, both images
// of a registry that requires a password, given with credentials: from
// secrets, are pulled by the node with an image pull Secret of the job's
// pod: the job runs in the one and reaches the other. The pod's spec
// names the Secret and holds no password; the Secret, owned by the pod, is
// gone once the pod started, and none is left. A wrong password fails its
// job before its first step with the kubelet's reason; the password is
// in no log.
func TestCredentialsPull(t *testing.T) {
	ct.Require(t, ct.Redis)
	c := kubetest.Shared(t)
	p := c.Private
	// A tag of its own: the node has never pulled it.
	tag := fmt.Sprint(time.Now().UnixNano())
	redis := ct.PushAs(t, ct.RedisImage(t), p.Addr, "private/redis", tag, p.Username, p.Password)
	tr := transport(t, c, kube.Config{})
	ns := tr.Client.Namespace
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var specs []string
	var owners []string
	secretsDuringSteps := -1
	obs := run.ObserverFunc(func(e run.Event) {
		if e.Kind != run.StepStarted || e.Job != "private" {
			return
		}
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelJob + "=private"})
		secrets, serr := c.Client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy})
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			for _, p := range list.Items {
				b, _ := json.Marshal(p)
				specs = append(specs, string(b))
			}
		}
		if serr == nil && secretsDuringSteps < 0 {
			secretsDuringSteps = len(secrets.Items)
		}
	})
	watchCtx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ; watchCtx.Err() == nil; time.Sleep(20 * time.Millisecond) {
			list, err := c.Client.CoreV1().Secrets(ns).List(watchCtx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy})
			if err != nil {
				continue
			}
			mu.Lock()
			for _, s := range list.Items {
				if s.Type != corev1.SecretTypeDockerConfigJson {
					continue
				}
				for _, o := range s.OwnerReferences {
					if !slices.Contains(owners, o.Name) {
						owners = append(owners, o.Name)
					}
				}
			}
			mu.Unlock()
		}
	}()
	res := runWorkflow(t, ctx, `on: push
jobs:
  private:
    runs-on: ubuntu-latest
    container:
      image: `+redis+`
      credentials:
        username: ${{ secrets.REG_USER }}
        password: ${{ secrets.REG_PASS }}
    services:
      cache:
        image: `+redis+`
        credentials: {username: `+p.Username+`, password: "${{ secrets.REG_PASS }}"}
        options: --entrypoint redis-server --health-cmd "redis-cli ping" --health-interval 1s --health-retries 20
    steps:
      - run: redis-cli -h cache set word private-pull && echo "read back $(redis-cli -h cache get word)"
  wrong:
    needs: private
    runs-on: ubuntu-latest
    container:
      image: `+redis+`
      credentials: {username: `+p.Username+`, password: not-the-password-7c1}
    steps:
      - run: echo never
`, run.Options{Remote: tr.Legs(), Secrets: map[string]string{"REG_USER": p.Username, "REG_PASS": p.Password}, Observer: obs})
	stopWatch()
	<-done
	log := jobLog(t, res)
	results := map[string]string{}
	for _, j := range res.Jobs {
		results[j.Name] = j.Result
	}
	if results["private"] != "success" || !strings.Contains(log, "read back private-pull") {
		t.Fatalf("results %v, want private success with the service read back:\n%s", results, log)
	}
	if results["wrong"] != "failure" || strings.Contains(log, "never") {
		t.Errorf("results %v, want wrong failed before its step", results)
	}
	// The kubelet's reason, and the registry's refusal.
	if !strings.Contains(log, "ErrImagePull") && !strings.Contains(log, "ImagePullBackOff") || !strings.Contains(strings.ToLower(log), "unauthorized") && !strings.Contains(log, "401") {
		t.Errorf("the wrong job's log does not say the pull was refused:\n%s", log)
	}
	for _, secret := range []string{p.Password, "not-the-password-7c1"} {
		if strings.Contains(log, secret) {
			t.Errorf("a password is in the log:\n%s", log)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(specs) != 1 {
		t.Fatalf("%d pods of job private seen at its first step, want 1", len(specs))
	}
	spec := specs[0]
	if strings.Contains(spec, p.Password) {
		t.Errorf("the password is in the pod's spec:\n%s", spec)
	}
	if !strings.Contains(spec, `"imagePullSecrets":[{"name":"`) {
		t.Errorf("the pod names no image pull Secret:\n%s", spec)
	}
	var runner string
	for _, j := range res.Jobs {
		if j.Name == "private" {
			runner = j.Runner
		}
	}
	if !slices.Contains(owners, runner) {
		t.Errorf("the pull Secret's owners %v: want the job's pod %s", owners, runner)
	}
	if secretsDuringSteps != 0 {
		t.Errorf("%d Secrets of the executor while the job's steps ran: want the pull Secret deleted once the pod started", secretsDuringSteps)
	}
	if left := pods(t, c, ns); len(left) > 0 {
		t.Errorf("pods left: %v", left)
	}
	noSecretsLeft(t, c, ns)
}
