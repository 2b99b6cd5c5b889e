package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
)

// TestPodDeletedByHandRunsAlwaysSteps: a pod deleted by hand (SIGTERM to
// runner in it) cancels its leg, whose if: always() step still runs and
// reports back. What runner prints on its standard error then ("runner:
// interrupted …") is not part of the frame stream: it must not break it
// ("bad frame").
func TestPodDeletedByHandRunsAlwaysSteps(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			l, err := c.Client.CoreV1().Pods(tr.Client.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil || len(l.Items) == 0 || l.Items[0].Status.Phase != "Running" {
				continue
			}
			time.Sleep(2 * time.Second)
			_ = c.Client.CoreV1().Pods(tr.Client.Namespace).Delete(ctx, l.Items[0].Name, metav1.DeleteOptions{})
			return
		}
	}()
	res := runWorkflow(t, ctx, `on: push
jobs:
  s:
    runs-on: ubuntu-latest
    steps:
      - run: sleep 100
      - if: always()
        run: echo always-ran
`, run.Options{Remote: tr.Legs()})
	log := jobLog(t, res)
	if strings.Contains(log, "bad frame") || !strings.Contains(log, "always-ran") {
		t.Errorf("the leg of a pod deleted by hand did not end cleanly (result %s):\n%s", res.Conclusion, log)
	}
}
