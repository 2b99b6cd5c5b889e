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

// TestJavaScriptActionWithoutNodeInPod: the pod's image has no node; a
// JavaScript action's error says so and names the way out (an image with
// node), not runner exec's --node flag, which sets nothing in a pod.
func TestJavaScriptActionWithoutNodeInPod(t *testing.T) {
	c := kubetest.Shared(t)
	tr := transport(t, c, kube.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := runWorkflow(t, ctx, `on: push
jobs:
  js:
    runs-on: ubuntu-latest
    steps:
      - run: |
          mkdir -p act
          printf 'name: js\nruns:\n  using: node20\n  main: index.js\n' > act/action.yml
          echo "console.log('js ran')" > act/index.js
      - uses: ./act
`, run.Options{Remote: tr.Legs()})
	log := jobLog(t, res)
	if res.Conclusion != "failure" {
		t.Fatalf("conclusion %s, want failure (no node in the image):\n%s", res.Conclusion, log)
	}
	if !strings.Contains(log, "no node on the PATH of the remote leg") || !strings.Contains(log, "an image with node") || strings.Contains(log, "--node") {
		t.Errorf("the job log does not say the pod's image lacks node:\n%s", log)
	}
}
