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
// daemon. Each runs cold once (the build jobs run), then warm three times
// (the same commit: the build and test jobs come from the job cache,
// check and publish run); the warm wall reported is the median of the
// three (dispatch to the run completed, seen through the API). The
// Kubernetes variants: kube (a pod created for each job), idle (two idle
// pods of the jobs' template, idle.go) and idle-cpu (the same, the pods
// requesting a CPU: a pod without requests is BestEffort, which on a
// busy node gets 2 CPU shares against 1024 for each of the node's own
// processes). *-warm-ratio is a variant's warm median over local's
// (target ≤ 1.5). Never asserted.
func BenchmarkBirdFlock(b *testing.B) {
	c := kubetest.Shared(b)
	image := toolchainImage(b, c)
	bk := buildkitForPods(b, c)
	ns := c.Namespace(b)
	prepull(b, c, ns, image)
	const token = "ghs_flockBenchToken0123456789"
	const warmRuns = 3
	template := func(extra string) string {
		return strings.Replace(kubeExecutor(c, ns, image, bk), "    ubuntu-latest:\n", "    ubuntu-latest:\n"+extra, 1)
	}
	for i := 0; i < b.N; i++ {
		variants := []struct {
			name     string
			executor string
			env      []string
			idle     int
		}{
			{name: "kube", executor: kubeExecutor(c, ns, image, bk)},
			{name: "idle", executor: template("      idle: 2\n"), idle: 2},
			{name: "idle-cpu", executor: template("      idle: 2\n      resources: {requests: {cpu: \"1\"}}\n"), idle: 2},
			{name: "local", env: []string{"BUILDKIT_HOST=" + bk}},
		}
		medians := map[string]time.Duration{}
		for _, v := range variants {
			srv := flockServe(b, newBirdFork(b, c, flockWorkflow(b), token), token, v.executor, v.env...)
			var warm []time.Duration
			for run := 0; run <= warmRuns; run++ {
				if v.idle > 0 {
					idlePods(b, c, ns, v.idle)
				}
				conclusion, _, logs, wall := dispatchTimed(b, srv, 20*time.Minute)
				if conclusion != "success" {
					b.Fatalf("%s run %d: %s\n%v", v.name, run, conclusion, logs)
				}
				if run == 0 {
					b.ReportMetric(wall.Seconds(), v.name+"-cold-s")
					continue
				}
				warm = append(warm, wall)
			}
			medians[v.name] = percentile(warm, 50)
			b.ReportMetric(medians[v.name].Seconds(), v.name+"-warm-s")
			b.Logf("%s: warm walls %v", v.name, warm)
			srv.stop()
		}
		for _, v := range variants[:3] {
			b.ReportMetric(float64(medians[v.name])/float64(medians["local"]), v.name+"-warm-ratio")
		}
	}
}
