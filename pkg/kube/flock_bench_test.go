package kube_test

import (
	"strings"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/kubetest"
)

// BenchmarkBirdFlock: the bird-flock pipeline (as TestBirdFlockOnKubernetes
// runs it: flockWorkflow) dispatched to runner serve with the Kubernetes
// executor and to runner serve with the local executor, in the same
// invocation, each on a scratch fork of its own and the same BuildKit
// daemon. Each runs twice: cold (the build jobs run) and warm (the same
// commit: the build and test jobs come from the job cache, check and
// publish run). kube-warm-s and local-warm-s are the warm runs' walls
// (dispatch to the run completed, seen through the API), warm-ratio their
// ratio (target ≤ 1.5); idle-* are the Kubernetes executor's with two
// idle pods of the jobs' template (idle.go), idle-warm-ratio its warm
// ratio; the cold walls are reported too. Never asserted.
func BenchmarkBirdFlock(b *testing.B) {
	c := kubetest.Shared(b)
	image := toolchainImage(b, c)
	bk := buildkitForPods(b, c)
	ns := c.Namespace(b)
	prepull(b, c, ns, image)
	const token = "ghs_flockBenchToken0123456789"
	for i := 0; i < b.N; i++ {
		kube := flockServe(b, newBirdFork(b, c, flockWorkflow(b), token), token, kubeExecutor(c, ns, image, bk))
		// The same executor with two idle pods of the jobs' template.
		idle := flockServe(b, newBirdFork(b, c, flockWorkflow(b), token), token,
			strings.Replace(kubeExecutor(c, ns, image, bk), "    ubuntu-latest:\n", "    ubuntu-latest:\n      idle: 2\n", 1))
		local := flockServe(b, newBirdFork(b, c, flockWorkflow(b), token), token, "", "BUILDKIT_HOST="+bk)
		walls := map[string]time.Duration{}
		for _, s := range []struct {
			name string
			srv  *server
		}{{"kube", kube}, {"idle", idle}, {"local", local}} {
			if s.name == "idle" {
				idlePods(b, c, ns, 2)
			}
			for _, phase := range []string{"cold", "warm"} {
				conclusion, _, logs, wall := dispatchTimed(b, s.srv, 20*time.Minute)
				if conclusion != "success" {
					b.Fatalf("%s %s run: %s\n%v", s.name, phase, conclusion, logs)
				}
				walls[s.name+"-"+phase] = wall
			}
		}
		for k, d := range walls {
			b.ReportMetric(d.Seconds(), k+"-s")
		}
		b.ReportMetric(float64(walls["kube-warm"])/float64(walls["local-warm"]), "warm-ratio")
		b.ReportMetric(float64(walls["idle-warm"])/float64(walls["local-warm"]), "idle-warm-ratio")
		b.Logf("walls: %v", walls)
	}
}
