package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/workflow"
)

// benchTransport is an executor on the shared cluster, in a namespace of
// the benchmark's own, with the runner image pushed and pulled onto the
// node once (a warm-up leg), so the figures are those of an image present.
func benchTransport(b *testing.B, c *kubetest.Cluster) *kube.Transport {
	b.Helper()
	cfg := kube.Config{Kubeconfig: c.Kubeconfig, Namespace: c.Namespace(b), Image: runnerImage(b, c)}
	cl, err := kube.Connect(&cfg)
	if err != nil {
		b.Fatal(err)
	}
	tr := &kube.Transport{Config: &cfg, Client: cl, Instance: "bench-" + cfg.Namespace}
	benchRun(b, "on: push\njobs:\n  warm:\n    runs-on: x\n    steps:\n      - run: 'true'\n", run.Options{Remote: tr.Legs()})
	return tr
}

// benchRun runs the workflow src and fails b unless it succeeds.
func benchRun(b *testing.B, src string, opts run.Options) *run.Result {
	b.Helper()
	w, errs := workflow.Load("bench.yaml", []byte(src), workflow.Options{})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	plan, err := run.NewPlan(w, run.Trigger{})
	if err != nil {
		b.Fatal(err)
	}
	plan.Source = []byte(src)
	if opts.StateDir == "" {
		opts.StateDir = b.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := run.Run(ctx, plan, opts)
	if err != nil {
		b.Fatal(err)
	}
	if res.Conclusion != "success" {
		var log strings.Builder
		files, _ := filepath.Glob(filepath.Join(res.Dir, "*.log"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			log.Write(data)
		}
		b.Fatalf("run: %s\n%s", res.Conclusion, log.String())
	}
	return res
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// BenchmarkDispatchToFirstStep: from run.Run's start to the job's first
// StepStarted, a one-job workflow on the Kubernetes executor with the
// image on the node, 20 runs (target p50 ≤ 2 s). The phases: the pod's
// creation (the API call), its start (scheduled, sandbox, container
// running: the executor's watch), and from there to the first step (the
// attach, the spec and source on the stream, the remote's set-up).
func BenchmarkDispatchToFirstStep(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	const runs = 20
	src := "on: push\njobs:\n  one:\n    runs-on: x\n    steps:\n      - run: echo hello\n"
	for i := 0; i < b.N; i++ {
		var total, create, start, first []time.Duration
		for r := 0; r < runs; r++ {
			var mu sync.Mutex
			var created, running, step time.Time
			obs := run.ObserverFunc(func(e run.Event) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case e.Kind == run.Line && strings.Contains(e.Text, "Created pod") && created.IsZero():
					created = e.Time
				case e.Kind == run.Line && strings.Contains(e.Text, "Running in pod") && running.IsZero():
					running = e.Time
				case e.Kind == run.StepStarted && step.IsZero():
					step = e.Time
				}
			})
			t0 := time.Now()
			benchRun(b, src, run.Options{Remote: tr.Legs(), Observer: obs})
			if created.IsZero() || running.IsZero() || step.IsZero() {
				b.Fatalf("run %d: missing events (created %v, running %v, step %v)", r, created, running, step)
			}
			total = append(total, step.Sub(t0))
			create = append(create, created.Sub(t0))
			start = append(start, running.Sub(created))
			first = append(first, step.Sub(running))
		}
		b.ReportMetric(percentile(total, 50).Seconds(), "p50-s")
		b.ReportMetric(percentile(total, 99).Seconds(), "p99-s")
		b.ReportMetric(percentile(create, 50).Seconds(), "create-p50-s")
		b.ReportMetric(percentile(start, 50).Seconds(), "podstart-p50-s")
		b.ReportMetric(percentile(first, 50).Seconds(), "attach-to-step-p50-s")
		b.Logf("dispatch→first step over %d runs: %v", runs, total)
	}
}
