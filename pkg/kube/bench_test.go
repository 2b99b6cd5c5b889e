package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/birdflock/runner/pkg/kube"
	"github.com/birdflock/runner/pkg/kubetest"
	"github.com/birdflock/runner/pkg/run"
	"github.com/birdflock/runner/pkg/steps"
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

// builtins are the built-in actions (upload-artifact, download-artifact).
var builtins = steps.Default()

// benchRun runs the workflow src and fails b unless it succeeds.
func benchRun(b *testing.B, src string, opts run.Options) *run.Result {
	b.Helper()
	w, errs := workflow.Load("bench.yaml", []byte(src), workflow.Options{Builtins: builtins})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	plan, err := run.NewPlan(w, run.Trigger{})
	if err != nil {
		b.Fatal(err)
	}
	plan.Source = []byte(src)
	opts.Builtins = builtins
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

// legTimes records, for each leg of a run, when its first step started,
// when its last step ended and when the leg ended: a remote leg's set-up
// and tear-down around its steps.
type legTimes struct {
	mu                       sync.Mutex
	started, lastStep, ended map[string]time.Time
}

func newLegTimes() *legTimes {
	return &legTimes{started: map[string]time.Time{}, lastStep: map[string]time.Time{}, ended: map[string]time.Time{}}
}

func (l *legTimes) Observe(e run.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Kind {
	case run.JobStarted:
		l.started[e.Job] = e.Time
	case run.StepEnded:
		l.lastStep[e.Job] = e.Time
	case run.JobEnded:
		l.ended[e.Job] = e.Time
	}
}

// tails are the times from each leg's last step's end to the leg's end.
func (l *legTimes) tails() []time.Duration {
	var ds []time.Duration
	for job, end := range l.ended {
		if s, ok := l.lastStep[job]; ok {
			ds = append(ds, end.Sub(s))
		}
	}
	return ds
}

// compare runs src on the Kubernetes executor and locally, in turn, and
// reports both walls, their ratio, and the median tail of a pod leg (its
// last step's end to the leg's end: the pod's exit and deletion).
func compare(b *testing.B, tr *kube.Transport, src string, parallel int, per float64) {
	for i := 0; i < b.N; i++ {
		lt := newLegTimes()
		t0 := time.Now()
		benchRun(b, src, run.Options{Remote: tr.Legs(), Parallel: parallel, Observer: lt})
		kubeWall := time.Since(t0)
		t0 = time.Now()
		benchRun(b, src, run.Options{Parallel: parallel})
		localWall := time.Since(t0)
		b.ReportMetric(kubeWall.Seconds()/per, "kube-s")
		b.ReportMetric(localWall.Seconds()/per, "local-s")
		b.ReportMetric(float64(kubeWall)/float64(localWall), "ratio")
		b.ReportMetric(percentile(lt.tails(), 50).Seconds(), "pod-tail-p50-s")
	}
}

// BenchmarkJobOverhead: 8 independent one-step jobs, one at a time, on
// the Kubernetes executor and locally; kube-s and local-s are per job.
func BenchmarkJobOverhead(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	const n = 8
	src := "on: push\njobs:\n"
	for j := 0; j < n; j++ {
		src += "  j" + strconv.Itoa(j) + ":\n    runs-on: x\n    steps:\n      - run: echo job " + strconv.Itoa(j) + "\n"
	}
	compare(b, tr, src, 1, n)
}

// BenchmarkPipeline: a pipeline's shape (a build job with an output and
// an artifact, a matrix of three test legs that download it, a release
// job that needs both), two jobs at once, on the Kubernetes executor and
// locally; kube-s and local-s are the walls.
func BenchmarkPipeline(b *testing.B) {
	c := kubetest.Shared(b)
	tr := benchTransport(b, c)
	compare(b, tr, `on: push
jobs:
  build:
    runs-on: x
    outputs:
      version: ${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2.3" >> "$GITHUB_OUTPUT"
      - run: mkdir -p dist && head -c 1000000 /dev/urandom > dist/app
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: dist
  test:
    needs: build
    runs-on: x
    strategy:
      matrix:
        shard: [1, 2, 3]
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist
          path: dist
      - run: test -s dist/app && echo "shard ${{ matrix.shard }} of ${{ needs.build.outputs.version }}"
  release:
    needs: [build, test]
    runs-on: x
    steps:
      - run: echo "release ${{ needs.build.outputs.version }}"
`, 2, 1)
}
